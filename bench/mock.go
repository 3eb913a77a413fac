package main

// The mock provider: the research's mockllm (shared/research/performance.md,
// Appendix A), adapted to run as a child process of the bench:
//
//   - a request's settings can come from its body, so that the daemon's own
//     requests (whose headers the bench cannot set) choose them: the last
//     "[[mock chunks=N pace=D delay=D flush=N ts=1 tag=T id=ID]]" in the
//     body wins over the flags;
//   - it notices at once when a client closes its connection (the request
//     context, which net/http cancels when its background read sees the
//     close) and, for a request with an id, records when: GET
//     /_mock/closed?id=ID answers that time in unix ns;
//   - it counts streams in flight; GET /_mock/stats answers the peak since
//     the last ?reset=1;
//   - it exits when its standard input closes (its parent is gone), after
//     -lifetime, or after -max-requests.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mockConfig is how one response streams.
type mockConfig struct {
	chunks int           // content deltas
	pace   time.Duration // sleep between deltas; 0 is as fast as possible
	delay  time.Duration // wait before the first byte
	flush  int           // deltas per write (and flush); 1 is what real providers do
	ts     bool          // deltas are T<unix-ns>| stamps
	tag    string        // deltas are "<tag>.<i> " (when not ts)
	id     string        // record when the client closes the connection
}

// directive renders c as the body directive the mock reads.
func (c mockConfig) directive() string {
	s := fmt.Sprintf("[[mock chunks=%d pace=%s delay=%s flush=%d", c.chunks, c.pace, c.delay, max(c.flush, 1))
	if c.ts {
		s += " ts=1"
	}
	if c.tag != "" {
		s += " tag=" + c.tag
	}
	if c.id != "" {
		s += " id=" + c.id
	}
	return s + "]]"
}

// parseDirective applies the last directive in body to c.
func parseDirective(body []byte, c mockConfig) (mockConfig, error) {
	i := bytes.LastIndex(body, []byte("[[mock "))
	if i < 0 {
		return c, nil
	}
	rest := body[i+len("[[mock "):]
	j := bytes.Index(rest, []byte("]]"))
	if j < 0 {
		return c, fmt.Errorf("unterminated directive")
	}
	for _, f := range strings.Fields(string(rest[:j])) {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "chunks":
			c.chunks, err = strconv.Atoi(v)
		case "pace":
			c.pace, err = time.ParseDuration(v)
		case "delay":
			c.delay, err = time.ParseDuration(v)
		case "flush":
			c.flush, err = strconv.Atoi(v)
		case "ts":
			c.ts = v == "1"
		case "tag":
			c.tag = v
		case "id":
			c.id = v
		default:
			err = fmt.Errorf("unknown setting")
		}
		if err != nil {
			return c, fmt.Errorf("directive %q: %v", f, err)
		}
	}
	c.flush = max(c.flush, 1)
	return c, nil
}

type mock struct {
	defaults mockConfig
	maxReq   int64

	served   atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64

	mu     sync.Mutex
	closes map[string]int64       // id -> unix ns when the client's close was seen
	states map[string]*mockStream // id -> how its stream went, to explain a close not seen
}

// mockStream is how far the stream of a request with an id got.
type mockStream struct {
	writes atomic.Int64 // successful writes
	end    atomic.Value // string: why the handler returned
}

func (m *mock) recordClose(id string, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.closes[id]; !ok || at < old {
		m.closes[id] = at
	}
}

func (m *mock) content(b []byte, c *mockConfig, i int) []byte {
	switch {
	case c.ts:
		b = append(b, 'T')
		b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
		return append(b, '|')
	case c.tag != "":
		return appendTagged(b, c.tag, i)
	}
	return append(b, tokens[i%len(tokens)]...)
}

// stream writes one SSE response: pre, then each delta through event, then
// post.
func (m *mock) stream(w http.ResponseWriter, r *http.Request, event func(b []byte, c *mockConfig, i int) []byte, pre, post func(c *mockConfig) []byte) {
	// Reading the body to its end also starts net/http's background read,
	// which cancels r.Context() as soon as the client closes.
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return
	}
	c, err := parseDirective(body, m.defaults)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	st := &mockStream{}
	// The close is noted by whichever sees it first: the handler, waiting
	// on the context between events, or a function run when the context
	// ends, should the handler be stuck in a write. (AfterFunc alone would
	// miss the closes that the handler sees first: its stop, on the way
	// out, can beat AfterFunc's goroutine.)
	closed := func() {
		if c.id != "" {
			m.recordClose(c.id, time.Now().UnixNano())
		}
	}
	if c.id != "" {
		stop := context.AfterFunc(ctx, closed)
		defer stop()
		m.mu.Lock()
		m.states[c.id] = st
		m.mu.Unlock()
	}
	st.end.Store("streaming")
	defer func() {
		if st.end.Load() == "streaming" {
			st.end.Store("ended: stream complete")
		}
	}()
	n := m.inflight.Add(1)
	defer m.inflight.Add(-1)
	for p := m.peak.Load(); n > p && !m.peak.CompareAndSwap(p, n); p = m.peak.Load() {
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	timer := time.NewTimer(c.delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		closed()
		st.end.Store("ended: closed during the delay")
		return
	case <-timer.C:
	}
	write := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			closed()
			st.end.Store("ended: write failed: " + err.Error())
			return false
		}
		fl.Flush()
		st.writes.Add(1)
		if ctx.Err() != nil {
			closed()
			st.end.Store("ended: request context done")
			return false
		}
		return true
	}
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, pre(&c)...)
	for i := 0; i < c.chunks; i++ {
		buf = event(buf, &c, i)
		if (i+1)%c.flush == 0 || i == c.chunks-1 {
			if !write(buf) {
				return
			}
			buf = buf[:0]
		}
		if c.pace > 0 {
			timer.Reset(c.pace)
			select {
			case <-ctx.Done():
				closed()
				st.end.Store("ended: request context done")
				return
			case <-timer.C:
			}
		}
	}
	buf = append(buf, post(&c)...)
	write(buf)
}

const (
	oaChunk  = `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock","system_fingerprint":null,"choices":[{"index":0,"delta":`
	oaPrefix = oaChunk + `{"content":"`
	oaSuffix = "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	anPrefix = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""
	anSuffix = "\"}}\n\n"
)

func (m *mock) openai(w http.ResponseWriter, r *http.Request) {
	m.stream(w, r, func(b []byte, c *mockConfig, i int) []byte {
		b = append(b, oaPrefix...)
		b = m.content(b, c, i)
		return append(b, oaSuffix...)
	}, func(*mockConfig) []byte {
		return []byte(oaChunk + `{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	}, func(c *mockConfig) []byte {
		return []byte(oaChunk + `{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n" +
			`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":` + strconv.Itoa(c.chunks) + "}}\n\n" +
			"data: [DONE]\n\n")
	})
}

func (m *mock) anthropic(w http.ResponseWriter, r *http.Request) {
	m.stream(w, r, func(b []byte, c *mockConfig, i int) []byte {
		b = append(b, anPrefix...)
		b = m.content(b, c, i)
		return append(b, anSuffix...)
	}, func(*mockConfig) []byte {
		return []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"mock\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: ping\ndata: {\"type\": \"ping\"}\n\n")
	}, func(c *mockConfig) []byte {
		return []byte("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
			fmt.Sprintf("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%d}}\n\n", c.chunks) +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	})
}

// closed answers when the client of request id closed its connection,
// waiting up to wait (default 3s) for it to happen.
func (m *mock) closed(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		wait = 3 * time.Second
	}
	for end := time.Now().Add(wait); ; {
		m.mu.Lock()
		at, ok := m.closes[id]
		m.mu.Unlock()
		if ok {
			fmt.Fprintln(w, at)
			return
		}
		if time.Now().After(end) {
			m.mu.Lock()
			st := m.states[id]
			m.mu.Unlock()
			why := "no such request"
			if st != nil {
				why = fmt.Sprintf("%d writes, %s", st.writes.Load(), st.end.Load())
			}
			http.Error(w, fmt.Sprintf("no close seen for id %s in %v (%s)", id, wait, why), http.StatusNotFound)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *mock) stats(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, `{"served":%d,"inflight":%d,"peak":%d}`+"\n", m.served.Load(), m.inflight.Load(), m.peak.Load())
	if r.URL.Query().Get("reset") == "1" {
		m.peak.Store(m.inflight.Load())
	}
}

func (m *mock) handler() http.Handler {
	mux := http.NewServeMux()
	count := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			h(w, r)
			if m.served.Add(1) >= m.maxReq {
				log.Printf("mock: max-requests reached, exiting")
				go func() { time.Sleep(100 * time.Millisecond); os.Exit(0) }()
			}
		}
	}
	mux.HandleFunc("/v1/chat/completions", count(m.openai))
	mux.HandleFunc("/chat/completions", count(m.openai))
	mux.HandleFunc("/v1/messages", count(m.anthropic))
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"mock","object":"model","created":1700000000,"owned_by":"mock"}]}`)
	})
	mux.HandleFunc("/_mock/closed", m.closed)
	mux.HandleFunc("/_mock/stats", m.stats)
	return mux
}

// mockMain runs the mock: `go run ./bench mock [flags]`. It prints the
// port it listens on, alone on the first line of standard output.
func mockMain(args []string) error {
	fs := flag.NewFlagSet("bench mock", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (must be loopback)")
	m := &mock{closes: map[string]int64{}, states: map[string]*mockStream{}}
	fs.IntVar(&m.defaults.chunks, "chunks", 10000, "content deltas per response")
	fs.DurationVar(&m.defaults.pace, "pace", 0, "sleep between deltas (0 = as fast as possible)")
	fs.DurationVar(&m.defaults.delay, "delay", 50*time.Millisecond, "delay before the first byte")
	fs.IntVar(&m.defaults.flush, "flush", 1, "events per write and flush (1 = one write per SSE event, like real providers)")
	fs.BoolVar(&m.defaults.ts, "ts", false, "delta text is T<unix-ns>| (21 bytes), stamped just before the write")
	fs.Int64Var(&m.maxReq, "max-requests", 100000, "exit after this many requests")
	lifetime := fs.Duration("lifetime", 30*time.Minute, "exit after this long")
	stdinEOF := fs.Bool("exit-on-stdin-eof", false, "exit when standard input closes (the bench's children do)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing non-loopback address %q", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: m.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		time.Sleep(*lifetime)
		log.Printf("mock: lifetime reached, exiting")
		srv.Close()
	}()
	if *stdinEOF {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			srv.Close()
		}()
	}
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
