package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the bench's children (the
// mock, the baseline relay), which the bench starts by running its own
// executable again.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// budget is how long a bench run in a test may take: what is left of the
// test binary's -timeout, less a margin for reporting, so that a machine
// under load makes the bench slow, not the test fail.
func budget(t *testing.T) time.Duration {
	d, ok := t.Deadline()
	if !ok {
		return 10 * time.Minute
	}
	return time.Until(d) - 30*time.Second
}

// TestRun runs every scenario once, small, against the daemon built from
// this repository, and checks the JSON it prints: every run whole, every
// delta counted, every store request answered.
func TestRun(t *testing.T) {
	var out, errs bytes.Buffer
	limit := budget(t).Round(time.Second).String()
	code := run([]string{"-json", "-scenarios", "all", "-iterations", "1", "-small", "200", "-large", "300", "-huge", "400", "-peers", "none", "-lat-chunks", "20",
		"-starts", "2", "-slow-chunks", "200", "-streams", "8", "-stream-chunks", "20", "-stream-delay", "20ms", "-cancels", "2",
		"-store-messages", "2000", "-store-sessions", "20", "-store-big", "200", "-store-repeats", "2",
		"-timeout", limit, "-run-timeout", limit}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs.String())
	}
	var res struct {
		Machine   machine
		Summaries []summary
		Targets   []target
		Store     *storeInfo
		Runs      []Run
		Errors    []string
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("the output does not parse: %v\n%s", err, out.String())
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors: %q", res.Errors)
	}
	want := map[string]int{"t10k": 200, "t100k": 300, "t100k-f64": 300, "t100k-an": 300, "t1m": 400, "l1ms": 20, "slow": 200, "concurrent": 8 * 20}
	seen := map[string]bool{}
	for _, r := range res.Runs {
		seen[r.Scenario] = true
		if n, ok := want[r.Scenario]; ok && r.Deltas != n {
			t.Errorf("%s %s: %d deltas, want %d", r.Scenario, r.Peer, r.Deltas, n)
		}
		if r.Peer == "tinychat" && r.Scenario != "startup" && r.Scenario != "cancel" && (r.PeakKB == 0 || r.WallMs == 0 || r.Switches == 0) {
			t.Errorf("%s: no RSS, wall time or context switches: %+v", r.Scenario, r)
		}
	}
	for _, s := range groups["all"] {
		if !seen[s] {
			t.Errorf("scenario %s did not run", s)
		}
	}
	for _, tg := range res.Targets {
		if strings.Contains(tg.Metric, "unmixed") && (tg.Met == nil || !*tg.Met) {
			t.Errorf("%s: %s", tg.Metric, tg.Measured)
		}
	}
	if st := res.Store; st == nil || st.Messages != 2000 || st.Sessions != 20+3*2 || st.BigMessages != 200 || st.Word == "" || st.Common == "" {
		t.Errorf("store: %+v", st)
	}
	stores := 0
	for _, r := range res.Runs {
		if r.Scenario != "store" {
			continue
		}
		stores++
		for _, q := range storeRequestNames {
			if n := len(r.Store.RequestsMs[q]); n != 2 || r.Store.Bytes[q] == 0 {
				t.Errorf("store: %s timed %d times, %d bytes", q, n, r.Store.Bytes[q])
			}
		}
		if r.Store.OpenPeakKB == 0 || r.Store.QueryPeakKB < r.Store.OpenPeakKB || r.PeakKB < r.Store.QueryPeakKB {
			t.Errorf("store: peak RSS %d, %d, %d KB", r.Store.OpenPeakKB, r.Store.QueryPeakKB, r.PeakKB)
		}
	}
	if targets := strings.Count(out.String(), `"metric": "store: `); stores != 1 || targets != 9 {
		t.Errorf("%d store runs, %d store targets", stores, targets)
	}
	if !strings.HasPrefix(res.Machine.Command, "go run ./bench -json") {
		t.Errorf("command %q", res.Machine.Command)
	}
}

// TestTimeoutSaysWhere gives the bench less time than building its store
// takes: it must return, not exit the process, and say what it was doing
// when its -timeout ran out.
func TestTimeoutSaysWhere(t *testing.T) {
	var out, errs bytes.Buffer
	code := run([]string{"-json", "-scenarios", "store", "-iterations", "1", "-store-messages", "2000000", "-store-sessions", "5000",
		"-store-big", "200", "-timeout", "3s"}, &out, &errs)
	if code != 1 || !strings.Contains(errs.String(), "-timeout of 3s ran out") {
		t.Fatalf("exit %d; want 1 and the -timeout named in:\n%s", code, errs.String())
	}
}

// TestVerifiers checks that the bench notices a lost, changed or mixed
// delta.
func TestVerifiers(t *testing.T) {
	stream := func(skip int) []byte {
		var b []byte
		for i := 0; i < 100; i++ {
			if i != skip {
				b = append(b, tokens[i%len(tokens)]...)
			}
		}
		return b
	}
	v := newTokenVerifier()
	v.feed(stream(-1)[:37], 0)
	v.feed(stream(-1)[37:], 0)
	if err := v.check(100); err != nil {
		t.Errorf("whole stream: %v", err)
	}
	for _, skip := range []int{0, 50, 99} {
		v := newTokenVerifier()
		v.feed(stream(skip), 0)
		if v.check(100) == nil {
			t.Errorf("delta %d lost, not noticed", skip)
		}
	}

	now := time.Now().UnixNano()
	s := newStampVerifier(2)
	stamps := []byte("T" + "1700000000000000000" + "|T" + "1700000000000000001" + "|")
	s.feed(stamps[:10], now)
	s.feed(stamps[10:], now)
	if err := s.check(2); err != nil || s.deltas() != 2 {
		t.Errorf("stamps: %v, %d deltas", err, s.deltas())
	}
	if s.check(3) == nil {
		t.Error("a lost stamp not noticed")
	}
	s = newStampVerifier(2)
	s.feed([]byte("T17000|"), now)
	if s.check(1) == nil {
		t.Error("a broken stamp not noticed")
	}

	tv := newTaggedVerifier("r1", 3)
	tv.feed([]byte("r1.0 r1.1 r2.2 "), 0)
	if tv.check(3) == nil {
		t.Error("mixed text not noticed")
	}
}

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		body string
		want message
	}{
		{`{"jsonrpc":"2.0","method":"chat/delta","params":{"requestId":7,"sessionId":"s1","messageId":"m1","seq":3,"text":" the cat"}}`,
			message{kind: kindDelta, requestID: 7, seq: 3, sessionID: []byte("s1"), messageID: []byte("m1"), text: []byte(" the cat")}},
		{`{"jsonrpc":"2.0","method":"chat/delta","params":{"text":"a\"b\u0041","seq":0,"messageId":"m","sessionId":"s","requestId":2}}`,
			message{kind: kindDelta, requestID: 2, sessionID: []byte("s"), messageID: []byte("m"), text: []byte(`a"bA`)}},
		{`{"method":"chat/delta","jsonrpc":"2.0","params":{"requestId":2,"sessionId":"s","messageId":"m","seq":1,"text":"x"}}`,
			message{kind: kindDelta, requestID: 2, seq: 1, sessionID: []byte("s"), messageID: []byte("m"), text: []byte("x")}},
		{`{"id":2,"result":{"text":"hi"},"jsonrpc":"2.0"}`, message{kind: kindResponse, id: 2}},
		{`{"jsonrpc":"2.0","id":3,"error":{"code":-32800,"message":"cancelled"}}`, message{kind: kindResponse, id: 3}},
		{`{"jsonrpc":"2.0","method":"window/logMessage","params":{"type":2,"message":"x"}}`, message{kind: kindOther}},
	} {
		got, err := parseMessage([]byte(tc.body))
		if err != nil || got.kind != tc.want.kind || got.requestID != tc.want.requestID || got.seq != tc.want.seq ||
			string(got.sessionID) != string(tc.want.sessionID) || string(got.messageID) != string(tc.want.messageID) || string(got.text) != string(tc.want.text) || got.id != tc.want.id {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", tc.body, got, err, tc.want)
		}
	}
}

// BenchmarkParseDelta is the bench's own cost per frame as a consumer,
// which must stay far below the daemon's.
func BenchmarkParseDelta(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","method":"chat/delta","params":{"requestId":2,"sessionId":"d0af5d384344c44a","messageId":"68f772103cc47c22","seq":12345,"text":" the cat sat on  mat and ran far"}}`)
	v := newTokenVerifier()
	b.ReportAllocs()
	for b.Loop() {
		m, err := parseMessage(body)
		if err != nil || m.kind != kindDelta {
			b.Fatal(m, err)
		}
		v.feed(m.text, 0)
	}
}

// TestSDKRun runs sdkRun on a stand-in for an SDK peer: curl reading the
// mock, its deltas written as an SDK peer writes them ("D" then the text,
// then "END"). Every delta is counted and checked, and a peer that stops
// before END, or says something else, fails its run.
func TestSDKRun(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	b := &bench{cfg: c, timeout: time.Minute, end: time.Now().Add(time.Minute)}
	port, err := b.startMock(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer b.stopMock()
	b.mockURL = "http://127.0.0.1:" + port
	b.daemonEnv = daemonEnv(tmp, b.mockURL)
	peer := func(tail string) []string {
		return []string{"sh", "-c", curl + ` -sN --noproxy '*' -H 'Content-Type: application/json' ` +
			`-d "{\"model\":\"mock\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}" "$1/chat/completions" | ` +
			`sed -un 's/.*"delta":{"content":"\([^"]*\)".*/D\1/p'` + tail, "sh"}
	}
	for _, tc := range []struct {
		name, tail string
		s          stream
		ok         bool
	}{
		{"tokens", "; echo END", stream{format: "openai", mock: mockConfig{chunks: 300, flush: 1}}, true},
		{"stamps", "; echo END", stream{format: "openai", mock: mockConfig{chunks: 20, pace: time.Millisecond, flush: 1, ts: true}}, true},
		{"no end", "", stream{format: "openai", mock: mockConfig{chunks: 30, flush: 1}}, false},
		{"a delta lost", " | sed 3d; echo END", stream{format: "openai", mock: mockConfig{chunks: 30, flush: 1}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.peers = map[string][]string{peerOpenAIGo: peer(tc.tail)}
			r := b.sdkRun("test", peerOpenAIGo, tc.s)
			if tc.ok != (r.Err == "") {
				t.Fatalf("error %q, want ok %v", r.Err, tc.ok)
			}
			if tc.ok && (r.Deltas != tc.s.mock.chunks || r.WallMs == 0) {
				t.Errorf("%d deltas in %.1f ms, want %d", r.Deltas, r.WallMs, tc.s.mock.chunks)
			}
			if tc.ok && tc.s.mock.ts && r.LatP50Us <= 0 {
				t.Errorf("no latency from the stamps: %+v", r)
			}
		})
	}
}
