package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// searchFixture is a store of messages in English, Japanese, Korean, Thai,
// with emoji and code, over two workspaces.
func searchFixture(t testing.TB) (*Store, *Session) {
	s := newStore(t)
	a := mustNew(t, s, "/w/a", "Leaks")
	mustPut(t, s, a.ID,
		user("leak", "Why does this goroutine leak? I start it in a loop and the channel is never closed, so it blocks forever on receive."),
		reply("fix", "Close the channel when the producer is done, or pass a context."),
		user("cafe", "The café example is in Straße.go."),
		user("rust", "Rust lifetimes are checked by the borrow checker."),
		user("order", "Explain lifetimes Rust style."),
		user("ja", "東京で Go の goroutine を使っています。"),
		user("ja2", "大阪の天気は晴れ☀️です"),
		user("emoji", "Shipped it 🚀🎉 finally"),
		user("code", "call fmt.Println(x) and then os.Exit(1) in main.go"),
		user("ko", "서울에서 만나요"),
		user("th", "สวัสดีครับ"))
	b := mustNew(t, s, "/w/b", "")
	mustPut(t, s, b.ID, user("other", "A channel in another workspace."))
	return s, a
}

func hitIDs(hits []Hit) string {
	var out []string
	for _, h := range hits {
		out = append(out, h.MessageID)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestSearch(t *testing.T) {
	s, _ := searchFixture(t)
	tests := []struct {
		query, workspace, want string
	}{
		{"channel", "", "fix leak other"},
		{"channel", "file:///w/a/", "fix leak"},
		{"CHANNEL", "/w/b", "other"},
		{"goroutine channel", "", "leak"},
		{"goroutine workspace", "", ""},
		{"cafe", "", "cafe"},
		{"strasse", "", ""},
		{"chan", "", ""},
		// Prefixes.
		{"chan*", "", "fix leak other"},
		{"gorout*", "", "ja leak"},
		{`"gorout"*`, "", "ja leak"},
		// Phrases keep their order; words alone do not.
		{`"lifetimes Rust"`, "", "order"},
		{`"Rust lifetimes"`, "", "rust"},
		{"lifetimes Rust", "", "order rust"},
		{`"the channel is never closed"`, "", "leak"},
		{`"the channel is closed"`, "", ""},
		// Operators.
		{"goroutine OR rust", "", "ja leak order rust"},
		{"channel NOT closed", "", "fix other"},
		{"channel AND closed", "", "leak"},
		{"lifetimes NOT borrow NOT style", "", ""},
		{"channel NOT closed OR producer", "", "other"},
		{"goroutine OR rust NOT borrow", "", "ja leak order"},
		{"goroutine OR rust AND lifetimes", "", "order rust"},
		// Scripts without spaces: any part of a text.
		{"東京", "", "ja"},
		{"京", "", "ja"},
		{"東京で", "", "ja"},
		{"京東", "", ""},
		{"使っています", "", "ja"},
		{"goroutine を", "", "ja"},
		{"天気 晴れ", "", "ja2"},
		{"서울", "", "ko"},
		{"สวัสดี", "", "th"},
		// Emoji, with and without a variation selector.
		{"🚀", "", "emoji"},
		{"🚀🎉", "", "emoji"},
		{"🎉🚀", "", ""},
		{"☀️", "", "ja2"},
		{"☀", "", "ja2"},
		// Code.
		{"fmt.Println", "", "code"},
		{"Println(x)", "", "code"},
		{"os.Exit(1)", "", "code"},
		{"main.go", "", "code"},
		// Punctuation alone finds nothing, without failing.
		{"::", "", ""},
		{"*", "", ""},
	}
	for _, tt := range tests {
		hits, err := s.Search(context.Background(), tt.query, tt.workspace)
		if err != nil {
			t.Errorf("Search(%q, %q): %v", tt.query, tt.workspace, err)
			continue
		}
		if got := hitIDs(hits); got != tt.want {
			t.Errorf("Search(%q, %q) = [%s], want [%s]", tt.query, tt.workspace, got, tt.want)
		}
	}
}

func TestSearchHits(t *testing.T) {
	ctx := context.Background()
	s, a := searchFixture(t)
	hits, err := s.Search(ctx, "closed", "/w/a")
	if err != nil || len(hits) != 1 {
		t.Fatalf("hits = %+v, %v", hits, err)
	}
	h := hits[0]
	if h.SessionID != a.ID || h.MessageID != "leak" || h.Title != "Leaks" || h.Workspace != "/w/a" || h.Role != RoleUser ||
		time.Since(h.CreatedAt) > time.Minute {
		t.Errorf("hit = %+v", h)
	}
	if n := len(strings.Fields(h.Snippet)); n > 13 {
		t.Errorf("snippet %q has %d words", h.Snippet, n)
	}
	for query, want := range map[string]string{
		"channel closed": "the «channel» is never «closed»",
		`"never closed"`: "is «never closed»",
		"gorout*":        "Go の «goroutine» を",
		"東京":             "«東京»で Go の",
		"🚀":              "it «🚀»🎉 finally",
		"fmt.Println":    "call «fmt.Println»(x)",
	} {
		hits, err := s.Search(ctx, query, "")
		if err != nil || len(hits) == 0 || !strings.Contains(hits[0].Snippet, want) {
			t.Errorf("Search(%q): %+v, %v; want a snippet with %q", query, hits, err, want)
		}
	}

	// The best match comes first.
	b := mustNew(t, s, "/w/b", "")
	mustPut(t, s, b.ID, user("many", "channel channel channel: a channel of channels"))
	if hits, _ := s.Search(ctx, "channel", ""); len(hits) == 0 || hits[0].MessageID != "many" {
		t.Errorf("hits %+v, want many first", hits)
	}

	// The index follows updates and deletes.
	mustPut(t, s, a.ID, reply("fix", "Use a WaitGroup, 待って."))
	for query, want := range map[string]string{"waitgroup": "fix", "待": "fix", "producer": ""} {
		if hits, err := s.Search(ctx, query, ""); err != nil || hitIDs(hits) != want {
			t.Errorf("after update, Search(%q) = %+v, %v; want [%s]", query, hits, err, want)
		}
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if hits, _ := s.Search(ctx, "channel", ""); hitIDs(hits) != "many other" {
		t.Errorf("after delete: %+v", hits)
	}
	if ok, err := s.IntegrityCheck(ctx); !ok || err != nil {
		t.Errorf("index out of step with messages: %v, %v", ok, err)
	}
}

// TestSearchAnyInput checks that whatever is typed gets hits or ErrQuery,
// never another error.
func TestSearchAnyInput(t *testing.T) {
	s, _ := searchFixture(t)
	many := func(n int, word string) string { return strings.TrimSpace(strings.Repeat(word+" ", n)) }
	for _, tt := range []struct {
		query string
		bad   bool
	}{
		{`"`, false}, {`""`, false}, {`"unterminated`, false}, {`f("x")`, false}, {`*`, false}, {`a*`, false},
		{`-then`, false}, {`(a`, false}, {`b)`, false}, {`(a OR b`, false}, {`col:value`, false}, {`NEAR(a b)`, false},
		{`^start`, false}, {`{a b}`, false}, {`+`, false}, {`'`, false}, {`\`, false}, {`%`, false}, {`'); DROP TABLE messages; --`, false},
		{"a\x00b", false}, {"\x00", false}, {"\xff\xfe channel", false}, {`"a" "b"`, false}, {`x"y"z`, false},
		{"channel AND NOT closed", false}, {"a OR b OR c", false}, {`"` + many(64, "word") + `"`, false}, {many(32, "w"), false},
		{"", true}, {" \t\n", true}, {"NOT", true}, {"AND", true}, {"OR", true}, {"a OR", true}, {"OR a", true},
		{"a OR OR b", true}, {"NOT a", true}, {"a NOT", true}, {"AND a", true}, {many(33, "w"), true},
		{`"` + many(65, "word") + `"`, true}, {many(16000, "word"), true},
	} {
		_, err := s.Search(context.Background(), tt.query, "")
		if tt.bad != (err != nil) || err != nil && !errors.Is(err, ErrQuery) {
			q := tt.query
			if len(q) > 40 {
				q = q[:40] + "…"
			}
			t.Errorf("Search(%q) = %v; want an error wrapping ErrQuery: %v", q, err, tt.bad)
		}
	}
	// A quoted word is found whatever punctuation is around it.
	if hits, err := s.Search(context.Background(), `"(channel)"`, ""); err != nil || hitIDs(hits) != "fix leak other" {
		t.Errorf("Search of quoted punctuation: %v, %v", hits, err)
	}
}

func TestSearchText(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, code: f(x)": "plain text, code: f(x)",
		"東京":                     "東\u200b京",
		"Goの世界":                  "Go\u200bの\u200b世\u200b界",
		"ok 🚀!":                  "ok 🚀\u200b!",
		"":                       "",
	} {
		if got := searchText(in); got != want {
			t.Errorf("searchText(%q) = %q, want %q", in, got, want)
		}
		if got := displayText(searchText(in)); got != in {
			t.Errorf("displayText(searchText(%q)) = %q", in, got)
		}
	}
}

// searchCorpus makes n messages of generated chat: words drawn from a Zipf
// distribution over English and programming words, as words are in text,
// with one message in twenty in Japanese, one in thirty with an emoji and
// one in ten with a line of code.
func searchCorpus(n int) []string {
	english := strings.Fields(`the a to of and is in it you that for this on with be are not can use
		function value return error type string goroutine channel context file test package import struct
		interface method pointer slice map loop build run server client request response rust lifetimes
		borrow checker python list dict async await memory thread lock mutex query index database table`)
	japanese := strings.Fields(`東京 大阪 日本 天気 晴れ 雨 猫 犬 関数 変数 エラー 型 文字列 テスト
		サーバー データベース を は が の に で です ます した ません 使って 書いて 読んで`)
	emoji := []string{"🚀", "🎉", "✅", "🔥", "👍", "☀️", "🐛"}
	code := []string{"fmt.Println(x)", "os.Exit(1)", "ctx, cancel := context.WithCancel(ctx)", "if err != nil { return err }", "let x: &'a str = s;"}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, 20000)
	word := func() string {
		if k := zipf.Uint64(); k < uint64(len(english)) {
			return english[k]
		} else {
			return fmt.Sprintf("w%d", k)
		}
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		if rng.IntN(20) == 0 {
			for range 30 {
				b.WriteString(japanese[rng.IntN(len(japanese))])
			}
			b.WriteString("。")
		} else {
			for range 30 {
				b.WriteString(word() + " ")
			}
		}
		if rng.IntN(30) == 0 {
			b.WriteString(emoji[rng.IntN(len(emoji))])
		}
		if rng.IntN(10) == 0 {
			b.WriteString("\n    " + code[rng.IntN(len(code))])
		}
		out[i] = b.String()
	}
	return out
}

// BenchmarkSearch100k searches 100,000 messages (searchCorpus) for each
// query of a test set, and reports the median and the 99th percentile of
// a search's time beside the mean.
func BenchmarkSearch100k(b *testing.B) {
	const sessions, perSession = 100, 1000
	s := newStore(b)
	corpus := searchCorpus(sessions * perSession)
	for i := range sessions {
		sess := mustNew(b, s, fmt.Sprintf("/w/%d", i%4), "")
		msgs := make([]*Message, perSession)
		for j := range msgs {
			text := corpus[i*perSession+j]
			msgs[j] = user("", text)
			if j%2 == 1 {
				msgs[j] = reply("", text)
			}
		}
		mustPut(b, s, sess.ID, msgs...)
	}
	// The test set: what people type.
	for _, bm := range []struct{ name, query, workspace string }{
		{"word", "w150", ""},
		{"common word", "the", ""},
		{"two words", "w150 function", ""},
		{"workspace", "w150", "/w/1"},
		{"common word, workspace", "the", "/w/1"},
		{"phrase", `"goroutine channel"`, ""},
		{"prefix", "gorout*", ""},
		{"or", "goroutine OR rust", ""},
		{"not", "goroutine NOT channel", ""},
		{"japanese", "東京", ""},
		{"japanese one character", "猫", ""},
		{"japanese phrase", "使って", ""},
		{"emoji", "🚀", ""},
		{"code", "fmt.Println", ""},
		{"sentence", "the function returns an error when the file is not found", ""},
	} {
		b.Run(bm.name, func(b *testing.B) { benchmarkSearch(b, s, bm.query, bm.workspace) })
	}
	// Queries made to be slow, which Search's limits bound.
	for _, bm := range []struct{ name, query string }{
		{"32 common words", strings.Repeat("the ", 32)},
		{"phrase of 64 common words", `"` + strings.Repeat("the a ", 32) + `"`},
		{"prefix of two letters", "w1*"},
	} {
		b.Run("worst/"+bm.name, func(b *testing.B) { benchmarkSearch(b, s, bm.query, "") })
	}
}

func benchmarkSearch(b *testing.B, s *Store, query, workspace string) {
	b.ReportAllocs()
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		_, err := s.Search(context.Background(), query, workspace)
		times = append(times, time.Since(start))
		if err != nil && !errors.Is(err, errSlowQuery) {
			b.Fatal(err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

// FuzzSearch checks that any query gets hits or ErrQuery, never another
// error, and that every hit's snippet is valid UTF-8 with its markers
// paired.
func FuzzSearch(f *testing.F) {
	s, _ := searchFixture(f)
	for _, q := range []string{"channel", `"lifetimes Rust"`, "gorout*", "goroutine OR rust NOT borrow", "東京", "🚀🎉", "a\x00b", `"unterminated`, "(a OR b", "NOT", "fmt.Println(x)"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		hits, err := s.Search(context.Background(), query, "")
		if err != nil {
			if !errors.Is(err, ErrQuery) {
				t.Fatalf("Search(%q): %v", query, err)
			}
			return
		}
		for _, h := range hits {
			if !utf8.ValidString(h.Snippet) || strings.Count(h.Snippet, HitStart) != strings.Count(h.Snippet, HitEnd) {
				t.Errorf("Search(%q): snippet %q", query, h.Snippet)
			}
		}
	})
}

// TestSearchFollowsSaves saves a reply as it streams, as the checkpoints
// do, then for good, then again unchanged, and in batches with a save that
// fails: search finds the text as it was last saved and nothing it no
// longer holds, and the index stays whole (put keeps it, not triggers).
func TestSearchFollowsSaves(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := mustNew(t, s, "/w/a", "")
	mustPut(t, s, a.ID, user("q", "Tell me about quokkas"))
	check := func(step, query, want string) {
		t.Helper()
		hits, err := s.Search(ctx, query, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := hitIDs(hits); got != want {
			t.Errorf("%s: search %q found %q, want %q", step, query, got, want)
		}
	}
	r := reply("r", "Quokkas live on Rottnest")
	save := func(saves ...Save) {
		t.Helper()
		if err := s.SaveAll(ctx, saves); err != nil {
			t.Fatal(err)
		}
	}
	save(Save{SessionID: a.ID, Messages: []*Message{r}})
	check("first checkpoint", "rottnest", "r")
	r.Content += " Island, and smile"
	save(Save{SessionID: a.ID, Messages: []*Message{r}})
	check("second checkpoint", "island smile", "r")
	check("second checkpoint", "quokkas", "q r")

	// The same length, other words: the old ones are gone.
	r.Content = strings.Replace(r.Content, "smile", "frown", 1)
	save(Save{SessionID: a.ID, Messages: []*Message{r}})
	check("same length", "smile", "")
	check("same length", "frown", "r")

	// Unchanged, and with a save that fails in the same batch: it is
	// written one by one, and the index is still right.
	r.Interrupted = false
	bad := Save{SessionID: "no-such-session", Messages: []*Message{reply("x", "zebras")}}
	saves := []Save{{SessionID: a.ID, Messages: []*Message{user("q", "Tell me about quokkas"), r}}, bad}
	save(saves...)
	if saves[0].Err != nil || saves[1].Err == nil {
		t.Fatalf("errors %v, %v: want only the second", saves[0].Err, saves[1].Err)
	}
	check("after the batch", "frown", "r")
	check("after the batch", "zebras", "")
	check("after the batch", "quokkas", "q r")

	if ok, err := s.IntegrityCheck(ctx); err != nil || !ok {
		t.Errorf("integrity check: %v, %v", ok, err)
	}
	// Deleting a message still takes it out of the index.
	if err := s.DeleteMessage(ctx, a.ID, "r"); err != nil {
		t.Fatal(err)
	}
	check("deleted", "frown", "")
	if ok, err := s.IntegrityCheck(ctx); err != nil || !ok {
		t.Errorf("integrity check after the delete: %v, %v", ok, err)
	}
}
