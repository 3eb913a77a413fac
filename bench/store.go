package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tinychat/tinychat/session"
)

// The store scenario measures the daemon on a large store (issue 3): the
// bench builds one SQLite file with the session package, once per run,
// then in each iteration starts the real daemon on it and, as an editor,
// times over the wire the requests an editor makes of a big history:
// session/export of a 10k-message session in each format, session/list of
// a workspace of 1,000 sessions, and session/search, each -store-repeats
// times; and it reads the daemon's peak RSS.

// storeInfo is the store the bench built: what it holds and what it took.
type storeInfo struct {
	path         string
	Messages     int     `json:"messages"`
	Sessions     int     `json:"sessions"`
	Workspaces   int     `json:"workspaces"`
	Workspace    string  `json:"list_workspace"` // the workspace of -store-sessions sessions
	ListSessions int     `json:"list_sessions"`
	Big          string  `json:"big_session"` // the session of -store-big messages
	BigMessages  int     `json:"big_messages"`
	Word         string  `json:"word"` // searched for alone and with Common
	WordIn       int     `json:"word_in"`
	Common       string  `json:"common_word"`
	CommonIn     int     `json:"common_word_in"`
	BuildS       float64 `json:"build_s"`
	FileMB       float64 `json:"file_mb"`

	inList map[string]bool // the sessions of Workspace
}

func (s *storeInfo) describe() string {
	return fmt.Sprintf("built once with the session package (session.Open, New, Put) in %.1f s, not counted in any figure, and given to the daemon as `tinychat --db <the store>`: %s messages in %s sessions over %d workspaces, %.1f MB; %s holds %s sessions, among them one of %s messages; searched for %q (in %s messages) and %q (in %s)",
		s.BuildS, thousands(s.Messages), thousands(s.Sessions), s.Workspaces, s.FileMB, s.Workspace, thousands(s.ListSessions), thousands(s.BigMessages),
		s.Word, thousands(s.WordIn), s.Common, thousands(s.CommonIn))
}

// storeFigures is what one store run measured, besides Run's own fields (whose
// peak RSS is the daemon's at the end, after the exports).
type storeFigures struct {
	// Over the wire, by request name: from writing the request to the last
	// byte of its response read; and then the client's decoding of it.
	RequestsMs map[string][]float64 `json:"requests_ms"`
	DecodeMs   map[string][]float64 `json:"decode_ms"`
	Bytes      map[string]int       `json:"response_bytes"` // of the last response
	// The daemon's VmHWM once initialize is answered (its store may still
	// be opening), and after the lists and searches, before the first
	// export.
	OpenPeakKB  int64 `json:"open_peak_rss_kb"`
	QueryPeakKB int64 `json:"list_search_peak_rss_kb"`
}

func (s *storeFigures) brief() string {
	var b strings.Builder
	for _, q := range storeRequestNames {
		if v := s.RequestsMs[q]; len(v) > 0 {
			fmt.Fprintf(&b, ", %s %.1f ms", q, median(v))
		}
	}
	return b.String()
}

// storeSummary is the store runs of every iteration, pooled.
type storeSummary struct {
	RequestsMs map[string]stat `json:"requests_ms"`
	DecodeMs   map[string]stat `json:"decode_ms"`
	Bytes      map[string]int  `json:"response_bytes"`
	OpenRSSMB  stat            `json:"open_peak_rss_mb"`
	QueryRSSMB stat            `json:"list_search_peak_rss_mb"`
}

func summarizeStore(scenario, peer string, runs []Run) *storeSummary {
	pooled, decode := map[string][]float64{}, map[string][]float64{}
	var open, query []float64
	s := &storeSummary{RequestsMs: map[string]stat{}, DecodeMs: map[string]stat{}, Bytes: map[string]int{}}
	for _, r := range runs {
		if r.Scenario != scenario || r.Peer != peer || r.Store == nil || r.Err != "" {
			continue
		}
		for q, v := range r.Store.RequestsMs {
			pooled[q] = append(pooled[q], v...)
			decode[q] = append(decode[q], r.Store.DecodeMs[q]...)
		}
		maps.Copy(s.Bytes, r.Store.Bytes)
		open = appendPos(open, float64(r.Store.OpenPeakKB)/1024)
		query = appendPos(query, float64(r.Store.QueryPeakKB)/1024)
	}
	if len(pooled) == 0 {
		return nil
	}
	for q, v := range pooled {
		s.RequestsMs[q], s.DecodeMs[q] = stats(v), stats(decode[q])
	}
	s.OpenRSSMB, s.QueryRSSMB = stats(open), stats(query)
	return s
}

// storeTargets sets the store's figures against issue 3's targets.
func (res *result) storeTargets() []target {
	s := res.find("store", "tinychat")
	if s == nil || s.Store == nil {
		return nil
	}
	c := res.cfg
	var ts []target
	add := func(metric string, x stat, unit string, limit float64) {
		ok := x.N > 0 && float64(x.Median) <= limit
		measured := fmt.Sprintf("%.1f %s (%.1f–%.1f, n=%d)", x.Median, unit, x.Min, x.Max, x.N)
		ts = append(ts, target{Metric: "store: " + metric, Measured: measured, Target: fmt.Sprintf("≤ %g %s", limit, unit), Met: &ok})
	}
	for _, q := range storeExports {
		add(fmt.Sprintf("session/export of a %s-message session, %s, over the wire", count(c.storeBig), strings.TrimPrefix(q, "export ")), s.Store.RequestsMs[q], "ms", 50)
	}
	add(fmt.Sprintf("session/list of a %s-session workspace, over the wire", count(c.storeSessions)), s.Store.RequestsMs[reqList], "ms", 20)
	for _, q := range []string{reqSearchWord, reqSearchTwo, reqSearchScoped} {
		add(fmt.Sprintf("session/search over %s messages, %s, over the wire", count(c.storeMessages), strings.TrimPrefix(q, "search ")), s.Store.RequestsMs[q], "ms", 50)
	}
	add(fmt.Sprintf("daemon peak RSS, %s-message store open, after the lists and searches", count(c.storeMessages)), s.Store.QueryRSSMB, "MB", 30)
	add(fmt.Sprintf("daemon peak RSS, %s-message store open, after the exports too", count(c.storeMessages)), s.RSSMB, "MB", 30)
	return ts
}

// storeLine describes the store for the header, or is "" without one.
func (res *result) storeLine() string {
	if res.Store == nil {
		return ""
	}
	return res.Store.describe()
}

func (res *result) writeStore(w io.Writer, md bool) {
	s := res.find("store", "tinychat")
	if s == nil || s.Store == nil {
		return
	}
	c := res.cfg
	t := &table{title: "Store: " + res.scenarioTitle("store"),
		head: []string{"request", "median ms", "min–max ms", "n", "then the client's decode ms", "response"}}
	for _, q := range storeRequestNames {
		x := s.Store.RequestsMs[q]
		t.rows = append(t.rows, []string{q + failNote(s), f("%.1f", x.Median), fmt.Sprintf("%.1f–%.1f", x.Min, x.Max), fmt.Sprint(x.N), f("%.1f", s.Store.DecodeMs[q].Median), size(s.Store.Bytes[q])})
	}
	t.notes = []string{
		"Over the wire: from writing the request to the last byte of its response read, as an editor receives it. Each figure therefore holds, besides the store's own work, the daemon's JSON-RPC encoding of the result, the Content-Length framing and the pipe; the session package's benchmarks (go test -run '^$' -bench . ./session/) time the store alone. The client's decode of the response (Go's encoding/json into typed results) follows, shown apart: it is the editor's work, done by its own parser (vim.json.decode, JSON.parse).",
		fmt.Sprintf("Each iteration starts one daemon on the store and sends the list and the searches %d times, in rounds, then the exports %d times; the first round meets SQLite's page cache cold (the file is in the OS page cache). Figures pool every request of every iteration.", c.storeRepeats, c.storeRepeats),
		fmt.Sprintf("Daemon peak RSS (VmHWM): %s MB once initialize is answered (the store may still be opening); %s MB after the lists and searches; %s MB after the exports too, before exit (%s MB anonymous, %s MB mapped from files).",
			rng("%.1f", s.Store.OpenRSSMB), rng("%.1f", s.Store.QueryRSSMB), rng("%.1f", s.RSSMB), f("%.1f", s.AnonMB), f("%.1f", s.FileMB)),
	}
	t.write(w, md)
}

func (res *result) scenarioTitle(name string) string {
	for _, s := range res.scenarios {
		if s.name == name {
			return s.title
		}
	}
	return name
}

// size writes a byte count as 812 B, 35.2 kB or 4.1 MB.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// The requests, in the order each round sends them.
const (
	reqExportText     = "export text"
	reqExportMarkdown = "export markdown"
	reqExportJSON     = "export json"
	reqList           = "list"
	reqSearchWord     = "search a word"
	reqSearchTwo      = "search two words"
	reqSearchScoped   = "search a word, one workspace"
)

var (
	storeQueries      = []string{reqList, reqSearchWord, reqSearchTwo, reqSearchScoped}
	storeExports      = []string{reqExportText, reqExportMarkdown, reqExportJSON}
	storeRequestNames = slices.Concat(storeQueries, storeExports)
)

// storeRun starts the daemon on the bench's store and times each request
// -store-repeats times, in rounds in one daemon, the lists and searches
// before the exports, so that the daemon's peak RSS is read after each
// kind. The first round meets SQLite's page cache cold.
func (b *bench) storeRun(scenario string) Run {
	r := Run{Scenario: scenario, Peer: "tinychat", Store: &storeFigures{RequestsMs: map[string][]float64{}, DecodeMs: map[string][]float64{}, Bytes: map[string]int{}}}
	if b.store == nil {
		r.fail(errors.New("no store was built"))
		return r
	}
	e, err := startEditor([]string{b.daemon[0], "--db", b.store.path}, b.daemonEnv, b.deadline())
	if err != nil {
		r.fail(err)
		return r
	}
	e.finish(&r, b.storeRequests(e, &r))
	return r
}

func (b *bench) storeRequests(e *editor, r *Run) error {
	init, err := e.initialize()
	if err != nil {
		return err
	}
	r.InitMs = ms(init)
	r.Store.OpenPeakKB = memoryOf(e.cmd.Process.Pid).PeakKB
	st := b.store
	export := func(format string, count func(string) int) func(id int64) (timing, error) {
		return func(id int64) (timing, error) {
			return timedCall(e, id, "session/export", map[string]any{"sessionId": st.Big, "format": format}, func(res *struct{ Format, Content string }) error {
				if n := count(res.Content); res.Format != format || n != st.BigMessages {
					return fmt.Errorf("%s export: format %q, %d messages, want %d", format, res.Format, n, st.BigMessages)
				}
				return nil
			})
		}
	}
	search := func(query, workspace string) func(id int64) (timing, error) {
		params := map[string]any{"query": query}
		if workspace != "" {
			params["workspace"] = workspace
		}
		return func(id int64) (timing, error) {
			return timedCall(e, id, "session/search", params, func(res *struct{ Hits []session.Hit }) error {
				if len(res.Hits) == 0 {
					return fmt.Errorf("search %q: no hits", query)
				}
				for _, h := range res.Hits {
					if workspace != "" && !st.inList[h.SessionID] {
						return fmt.Errorf("search %q in %s: a hit in session %s of another workspace", query, workspace, h.SessionID)
					}
				}
				return nil
			})
		}
	}
	requests := map[string]func(id int64) (timing, error){
		reqExportText: export("text", func(s string) int {
			return strings.Count("\n"+s, "\nYou: ") + strings.Count("\n"+s, "\nLLM: ")
		}),
		reqExportMarkdown: export("markdown", func(s string) int {
			return strings.Count(s, "\n## You\n") + strings.Count(s, "\n## Assistant\n")
		}),
		reqExportJSON: export("json", func(s string) int {
			var f struct{ Messages []json.RawMessage }
			if json.Unmarshal([]byte(s), &f) != nil {
				return -1
			}
			return len(f.Messages)
		}),
		reqList: func(id int64) (timing, error) {
			return timedCall(e, id, "session/list", map[string]any{"workspace": st.Workspace}, func(res *struct{ Sessions []session.Session }) error {
				if len(res.Sessions) != st.ListSessions {
					return fmt.Errorf("session/list: %d sessions, want %d", len(res.Sessions), st.ListSessions)
				}
				return nil
			})
		},
		reqSearchWord:   search(st.Word, ""),
		reqSearchTwo:    search(st.Word+" "+st.Common, ""),
		reqSearchScoped: search(st.Word, st.Workspace),
	}
	id := int64(10)
	for _, phase := range [][]string{storeQueries, storeExports} {
		for range b.cfg.storeRepeats {
			for _, q := range phase {
				id++
				t, err := requests[q](id)
				if err != nil {
					return err
				}
				r.Store.RequestsMs[q] = append(r.Store.RequestsMs[q], t.ms)
				r.Store.DecodeMs[q] = append(r.Store.DecodeMs[q], t.decodeMs)
				r.Store.Bytes[q] = t.bytes
			}
		}
		if r.Store.QueryPeakKB == 0 {
			r.Store.QueryPeakKB = memoryOf(e.cmd.Process.Pid).PeakKB
		}
	}
	return nil
}

// timing is one request over the wire.
type timing struct {
	ms       float64 // the request written to the last byte of its response read
	decodeMs float64 // then the client's decoding of it
	bytes    int     // of the response
}

// timedCall sends one request and reads its response, decoding the result
// into a T as an editor would, and times both. check then looks at the
// result, untimed.
func timedCall[T any](e *editor, id int64, method string, params any, check func(*T) error) (timing, error) {
	start := time.Now()
	if err := e.request(id, method, params); err != nil {
		return timing{}, err
	}
	body, err := e.await(id, nil)
	if err != nil {
		return timing{}, fmt.Errorf("%s: %w", method, err)
	}
	read := time.Now()
	var resp struct {
		Result *T `json:"result"`
		Error  *struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	err = json.Unmarshal(body, &resp)
	t := timing{ms: ms(read.Sub(start)), decodeMs: ms(time.Since(read)), bytes: len(body)}
	switch {
	case err != nil:
		return t, fmt.Errorf("%s: bad response %q: %w", method, clip(body, 80), err)
	case resp.Error != nil:
		return t, fmt.Errorf("%s: error %d %s", method, resp.Error.Code, resp.Error.Message)
	case resp.Result == nil:
		return t, fmt.Errorf("%s: no result", method)
	}
	return t, check(resp.Result)
}

// buildStore makes the store file under dir: -store-messages messages in
// all; a workspace of -store-sessions sessions, one of them holding
// -store-big messages; and three other workspaces, each with a tenth as
// many sessions, so that a search in one workspace leaves some out. The
// rest of the messages are spread evenly over the sessions but the big
// one.
func (b *bench) buildStore(dir string, progress func(string, ...any)) error {
	c := b.cfg
	const others = 3
	perOther := max(1, c.storeSessions/10)
	small := c.storeSessions - 1 + others*perOther
	rest := c.storeMessages - c.storeBig
	if c.storeSessions < 1 || c.storeBig < 2 || rest < 2*small {
		return fmt.Errorf("-store-messages %d cannot fill -store-sessions %d with one of -store-big %d and %d more sessions of at least 2 messages",
			c.storeMessages, c.storeSessions, c.storeBig, others*perOther)
	}
	st := &storeInfo{path: filepath.Join(dir, "store", "tinychat.db"), Workspace: "/bench/store/list",
		ListSessions: c.storeSessions, BigMessages: c.storeBig, Workspaces: 1 + others, inList: map[string]bool{}}
	progress("building the store: %s messages in %s sessions (%s)", thousands(c.storeMessages), thousands(small+1), st.path)
	start := time.Now()
	s, err := session.Open(st.path)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	g := newChatText(rand.New(rand.NewPCG(3, 14)))
	at := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	fill := func(workspace string, n int) (string, error) {
		sess, err := s.New(ctx, workspace, "")
		if err != nil {
			return "", err
		}
		msgs := make([]*session.Message, n)
		for i := range msgs {
			at = at.Add(time.Duration(20+g.rng.IntN(600)) * time.Second)
			msgs[i] = g.message(i%2 == 0, at)
		}
		st.Sessions++
		st.Messages += n
		return sess.ID, s.Put(ctx, sess.ID, msgs...)
	}
	// The big session first, so that it is the oldest of its workspace.
	if st.Big, err = fill(st.Workspace, c.storeBig); err != nil {
		return err
	}
	st.inList[st.Big] = true
	for i := range small {
		ws := st.Workspace
		if i >= c.storeSessions-1 {
			ws = fmt.Sprintf("/bench/store/other-%d", (i-c.storeSessions+1)/perOther+1)
		}
		n := rest / small
		if i < rest%small {
			n++
		}
		id, err := fill(ws, n)
		if err != nil {
			return err
		}
		if ws == st.Workspace {
			st.inList[id] = true
		}
		if done := i + 1; done%200 == 0 {
			progress("  %d of %d sessions, %s messages, %.0f s", done+1, small+1, thousands(st.Messages), time.Since(start).Seconds())
		}
		if b.expired() {
			b.now(fmt.Sprintf("building the store (%d of %d sessions, %s messages)", i+2, small+1, thousands(st.Messages)))
			return nil
		}
	}
	if err := s.Close(); err != nil {
		return err
	}
	st.BuildS = time.Since(start).Seconds()
	for _, p := range []string{st.path, st.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			st.FileMB += float64(fi.Size()) / (1 << 20)
		}
	}
	// The words searched for: one in about 1% of the messages, as a
	// technical term is, and one in about 10%.
	st.Word, st.WordIn = g.wordIn(st.Messages / 100)
	st.Common, st.CommonIn = g.wordIn(st.Messages / 10)
	if st.Word == st.Common {
		return fmt.Errorf("the store is too small to search: %q is both the rare and the common word", st.Word)
	}
	progress("built the store in %.1f s: %.1f MB; searching for %q (in %d messages) and %q (in %d)", st.BuildS, st.FileMB, st.Word, st.WordIn, st.Common, st.CommonIn)
	b.store = st
	return nil
}

// chatText makes the messages of the store: sentences of words drawn from
// a Zipf distribution over a vocabulary of English and programming words
// and identifiers, as words are in text; replies are longer than
// questions and now and then hold a code block, questions now and then
// quote a file as context. It counts the messages each word is in.
type chatText struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
	in    []int // messages each word of vocab is in
	seen  []int // the message a word was last counted for
	n     int   // messages made
	buf   strings.Builder
}

func newChatText(rng *rand.Rand) *chatText {
	var vocab []string
	for _, w := range strings.Fields(commonWords) {
		if !slices.Contains(vocab, w) {
			vocab = append(vocab, w)
		}
	}
	// Identifiers come after the plain words: rarer, as in real chats.
	verbs, nouns := strings.Fields(identVerbs), strings.Fields(identNouns)
	for _, n := range nouns {
		for _, v := range verbs {
			vocab = append(vocab, v+strings.ToUpper(n[:1])+n[1:])
		}
	}
	g := &chatText{rng: rng, vocab: vocab, in: make([]int, len(vocab)), seen: make([]int, len(vocab))}
	g.zipf = rand.NewZipf(rng, 1.07, 2, uint64(len(vocab)-1))
	return g
}

func (g *chatText) word() string {
	i := int(g.zipf.Uint64())
	if g.seen[i] != g.n {
		g.seen[i] = g.n
		g.in[i]++
	}
	return g.vocab[i]
}

func (g *chatText) sentence(question bool) {
	n := 5 + g.rng.IntN(14)
	for i := range n {
		w := g.word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			g.buf.WriteByte(' ')
		}
		g.buf.WriteString(w)
		if i > 1 && i < n-2 && g.rng.IntN(9) == 0 {
			g.buf.WriteByte(',')
		}
	}
	if question {
		g.buf.WriteString("? ")
	} else {
		g.buf.WriteString(". ")
	}
}

func (g *chatText) code() {
	fn, arg, v := g.word(), g.word(), g.word()
	fmt.Fprintf(&g.buf, "\n\n```go\nfunc %s(%s string) error {\n\tif %s == \"\" {\n\t\treturn fmt.Errorf(\"%s: empty %%q\", %s)\n\t}\n\treturn nil\n}\n```\n\n", fn, arg, arg, v, arg)
}

func (g *chatText) message(user bool, at time.Time) *session.Message {
	g.n++
	g.buf.Reset()
	m := &session.Message{Role: session.RoleUser, CreatedAt: at}
	if user {
		for i := range 1 + g.rng.IntN(3) {
			g.sentence(i > 0 && g.rng.IntN(2) == 0)
		}
		if g.rng.IntN(20) == 0 {
			name := g.word()
			m.Context = []session.ContextItem{{URI: "file:///home/dev/src/app/" + name + ".go", LanguageID: "go",
				Text:  fmt.Sprintf("package app\n\n// %s is what the question is about.\nfunc %s() string {\n\treturn %q\n}\n", name, name, g.word()),
				Range: &session.Range{Start: session.Position{Line: 2}, End: session.Position{Line: 6}}}}
		}
	} else {
		m.Role, m.Provider, m.Model = session.RoleAssistant, "anthropic", "claude-sonnet-4-5"
		if g.rng.IntN(3) == 0 {
			m.Provider, m.Model = "openai", "gpt-4.1-mini"
		}
		for i := range 2 + g.rng.IntN(6) {
			g.sentence(false)
			if i == 1 && g.rng.IntN(5) == 0 {
				g.code()
			}
		}
		m.Usage = &session.Usage{InputTokens: 200 + g.rng.IntN(4000), OutputTokens: 20 + g.rng.IntN(400)}
	}
	m.Content = strings.TrimSpace(g.buf.String())
	return m
}

// wordIn returns the word of at least four letters whose count of
// messages is nearest to n, and that count.
func (g *chatText) wordIn(n int) (string, int) {
	best := -1
	for i, w := range g.vocab {
		if len(w) < 4 {
			continue
		}
		if best < 0 || abs(g.in[i]-n) < abs(g.in[best]-n) {
			best = i
		}
	}
	return g.vocab[best], g.in[best]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// thousands writes n with thousands separators: 100,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// The vocabulary, most frequent first.
const (
	commonWords = `the to and a of it is in that you for this with on be not but if are as can
have use your so what or we do from at by an will when should there how which then
just one all would file function code error value type return need also like here
make more only other could into want because any first each new way get some call
data test case list time work now why where does they them than think see change
instead problem example use still about know after before check go run string
line both without read write same different much well while since these those
between every field method package server client request response message session
workspace editor version option default config build module import struct interface
pointer slice map channel goroutine context timeout deadline cancel retry buffer
stream reader writer parser token query index table column row schema migration
transaction lock commit rollback cache memory allocation benchmark profile latency
throughput handler middleware router endpoint header body status payload encoder
decoder marshal unmarshal escape format output input argument parameter variable
constant loop branch condition closure callback promise async await thread process
signal pipe socket connection protocol framing notification delta provider model
prompt reply history search snippet export import title rename delete workspace
terminal command flag environment path directory permission owner group release
tag branch merge rebase conflict review patch diff issue bug fix regression crash
panic trace stack frame heap garbage collector pause scheduler mutex atomic race
detector sanitizer linter formatter compiler runtime generic constraint embedding
reflection serialization compression checksum hash signature certificate key secret
credential rotation quota limit backoff jitter exponential idempotent retryable
upstream downstream proxy gateway loopback listener accept dial resolve lookup
hostname address port namespace container image volume mount kernel syscall descriptor
epoll kqueue poller watcher inotify debounce throttle batch queue worker pool
semaphore barrier latch condition variable spinlock contention starvation fairness
priority deadline budget estimate measure median percentile histogram counter gauge
metric dashboard alert incident postmortem rollout canary feature toggle experiment`
	identVerbs = `parse read write load save open close handle send receive encode decode
build render flush reset start stop check apply merge split scan`
	identNouns = `config request response session message header token buffer stream
record entry event chunk frame index cache store query result error`
)
