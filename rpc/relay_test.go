package rpc

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tinychat/tinychat/chat"
)

// slowWriter takes a while over each write, like a client that reads
// slower than the provider writes.
type slowWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	pause time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.pause)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// frames decodes the chat/delta notifications written in jsonl framing.
func frames(t *testing.T, out []byte) []delta {
	var ds []delta
	for _, f := range notifications(t, out) {
		if f.method != methodDelta {
			t.Fatalf("a %s notification among the deltas", f.method)
		}
		ds = append(ds, f.params)
	}
	return ds
}

// notification is a chat/delta or chat/reasoning notification.
type notification struct {
	method string
	params delta
}

// notifications decodes the notifications written in jsonl framing.
func notifications(t *testing.T, out []byte) []notification {
	var ns []notification
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var m struct {
			Method string
			Params delta
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("bad frame %q: %v", line, err)
		}
		ns = append(ns, notification{m.Method, m.Params})
	}
	return ns
}

// TestRelayKeepsKindsApart streams reasoning, then answer, then reasoning
// again to a slow client: each kind has its own method and seq, none of
// one kind's text is in the other's, and the order of the runs is kept.
func TestRelayKeepsKindsApart(t *testing.T) {
	w := &slowWriter{pause: time.Millisecond}
	s := newStream(strings.NewReader(""), w, true, 0)
	r := newRelay(s, id("3"), "s", "m")
	for _, e := range []chat.Event{
		{Kind: chat.Reasoning, Text: "think "}, {Kind: chat.Reasoning, Text: "hard "},
		{Kind: chat.Text, Text: "ans"}, {Kind: chat.Text, Text: "wer"},
		{Kind: chat.Reasoning, Text: "again"}, {Kind: chat.Text, Text: "!"},
	} {
		r.add(e)
	}
	r.flush()
	var got []string
	seq := map[string]int{}
	for _, n := range notifications(t, w.buf.Bytes()) {
		if n.params.Seq != seq[n.method] {
			t.Errorf("%s seq %d, want %d", n.method, n.params.Seq, seq[n.method])
		}
		seq[n.method]++
		if len(got) > 0 && strings.HasPrefix(got[len(got)-1], n.method+" ") {
			got[len(got)-1] += n.params.Text
		} else {
			got = append(got, n.method+" "+n.params.Text)
		}
	}
	want := []string{"chat/reasoning think hard ", "chat/delta answer", "chat/reasoning again", "chat/delta !"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("runs = %q\nwant %q", got, want)
	}
}

func TestRelayCoalescesForASlowClient(t *testing.T) {
	w := &slowWriter{pause: 2 * time.Millisecond}
	s := newStream(strings.NewReader(""), w, true, 0)
	r := newRelay(s, id("7"), "s", "m")
	var want strings.Builder
	for i := range 2000 {
		piece := []string{"héllo ", "wörld ", "✓ ", "\n"}[i%4]
		want.WriteString(piece)
		r.add(chat.Event{Text: piece})
	}
	r.flush()
	ds := frames(t, w.buf.Bytes())
	var got strings.Builder
	for i, d := range ds {
		if d.Seq != i || d.RequestID.String() != "7" {
			t.Fatalf("frame %d: %+v", i, d)
		}
		got.WriteString(d.Text)
	}
	if got.String() != want.String() {
		t.Fatal("joined frames differ from the deltas")
	}
	if len(ds) >= 2000/2 {
		t.Errorf("%d frames for 2000 deltas to a slow client: not coalesced", len(ds))
	}
}

func TestRelayCapsNotificationsAtRuneBoundaries(t *testing.T) {
	var out bytes.Buffer
	s := newStream(strings.NewReader(""), &out, true, 0)
	r := newRelay(s, id("1"), "s", "m")
	big := strings.Repeat("€", 100_000) // 300 KB, 3 bytes a rune
	r.add(chat.Event{Text: big})
	r.flush()
	ds := frames(t, out.Bytes())
	var got strings.Builder
	for _, d := range ds {
		if len(d.Text) > maxDeltaText || !utf8.ValidString(d.Text) {
			t.Fatalf("a notification of %d bytes, valid UTF-8 %v", len(d.Text), utf8.ValidString(d.Text))
		}
		got.WriteString(d.Text)
	}
	if got.String() != big || len(ds) < 5 {
		t.Errorf("%d notifications, joined equal %v", len(ds), got.String() == big)
	}
}

// TestRelayPausesTheProviderForAStuckClient checks that text waiting for a
// client that does not read stays bounded.
func TestRelayPausesTheProviderForAStuckClient(t *testing.T) {
	pr, pw := io.Pipe()
	s := newStream(strings.NewReader(""), pw, true, 0)
	r := newRelay(s, id("1"), "s", "m")
	added := make(chan int, 1)
	go func() {
		n := 0
		for range 4 * maxPending / 1024 {
			r.add(chat.Event{Text: strings.Repeat("x", 1024)})
			n++
		}
		added <- n
	}()
	select {
	case <-added:
		t.Fatal("the provider was never paused while nobody read")
	case <-time.After(200 * time.Millisecond):
	}
	go io.Copy(io.Discard, pr) // the client reads again
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("the provider did not resume once the client read")
	}
	r.flush()
}

// TestJSONStringWriterAcrossWrites writes text in two pieces cut at every
// byte, so through the middle of each UTF-8 sequence, valid or not, and
// wants what encoding/json makes of the whole.
func TestJSONStringWriterAcrossWrites(t *testing.T) {
	for _, s := range []string{"naïve 日本語 🙂 \u2028 x", "cut \xe6\x97", "\xf0\x9f\x99 bad then good 🙂", "\xe6\x97\xe6\x97\xa5", "\x80\x80"} {
		want, _ := json.Marshal(s)
		for cut := 0; cut <= len(s); cut++ {
			w := &jsonStringWriter{b: []byte(`"`)}
			w.Write([]byte(s[:cut]))
			w.Write([]byte(s[cut:]))
			if got := append(bytes.Join(w.close(), nil), '"'); !bytes.Equal(got, want) {
				t.Errorf("%q cut at %d: got %s, want %s", s, cut, got, want)
			}
		}
	}
	// Long, in writes of every size up to 100 kB, so over many pieces.
	long := []byte(strings.Repeat("line\n naïve 日本語 \"🙂\" \xff\t", 20000))
	want, _ := json.Marshal(string(long))
	w := &jsonStringWriter{b: []byte(`"`)}
	for p, n := long, 1; len(p) > 0; n = n*7%100003 + 1 {
		n = min(n, len(p))
		w.Write(p[:n])
		p = p[n:]
	}
	pieces := w.close()
	if got := append(bytes.Join(pieces, nil), '"'); !bytes.Equal(got, want) {
		t.Errorf("long text in %d pieces differs from encoding/json's", len(pieces))
	}
}

func BenchmarkDeltaEncode(b *testing.B) {
	enc := newDeltaEncoder(methodDelta, id("12"), "d0af5d384344c44a", "68f772103cc47c22")
	text := []byte(" the")
	b.ReportAllocs()
	for b.Loop() {
		enc.encode(text)
	}
}
