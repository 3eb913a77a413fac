package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
)

// rawDaemon is the real daemon spoken to byte by byte, for input no client
// library would send.
type rawDaemon struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	jsonl bool
	out   chan []byte // each message the daemon wrote, in order

	mu     sync.Mutex
	stderr bytes.Buffer
}

func startRaw(t *testing.T, jsonl bool, env map[string]string, args ...string) *rawDaemon {
	t.Helper()
	if jsonl {
		args = append([]string{"--jsonl"}, args...)
	}
	d := &rawDaemon{t: t, cmd: command(t, env, args...), jsonl: jsonl, out: make(chan []byte, 1024)}
	d.stdin, _ = d.cmd.StdinPipe()
	stdout, _ := d.cmd.StdoutPipe()
	d.cmd.Stderr = lockedWriter{&d.mu, &d.stderr}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.out)
		r := bufio.NewReaderSize(stdout, 1<<20)
		for {
			var body []byte
			var err error
			if jsonl {
				body, err = r.ReadBytes('\n')
			} else {
				body, err = readFrame(r)
			}
			if err != nil {
				return
			}
			d.out <- bytes.TrimSpace(body)
		}
	}()
	t.Cleanup(func() {
		d.stdin.Close()
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
		}
	})
	return d
}

// write sends bytes as they are, framed by the caller.
func (d *rawDaemon) write(b []byte) {
	d.t.Helper()
	if _, err := d.stdin.Write(b); err != nil {
		d.t.Fatalf("writing to the daemon: %v", err)
	}
}

// frame sends one message in the daemon's framing.
func (d *rawDaemon) frame(body string) {
	if d.jsonl {
		d.write([]byte(body + "\n"))
	} else {
		d.write([]byte(fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)))
	}
}

// until returns what the daemon wrote up to the answer to a session/list
// with id "until", sent now: every answer to a request sent before it, but
// for those served in the background (chat/send, models/list), comes
// first. window/logMessage notifications are left out.
func (d *rawDaemon) until() []string {
	d.t.Helper()
	d.frame(`{"jsonrpc":"2.0","id":"until","method":"session/list","params":{}}`)
	var got []string
	for {
		select {
		case m, ok := <-d.out:
			if !ok {
				d.t.Fatalf("the daemon stopped; stderr:\n%s", d.errors())
			}
			if bytes.HasPrefix(m, []byte(`{"jsonrpc":"2.0","id":"until",`)) {
				return got
			}
			if !bytes.Contains(m, []byte(`"method":"window/logMessage"`)) {
				got = append(got, string(m))
			}
		case <-time.After(30 * time.Second):
			d.t.Fatalf("no answer; so far %q", got)
		}
	}
}

// next returns the next message the daemon writes that is not a log message.
func (d *rawDaemon) next() string {
	d.t.Helper()
	for {
		select {
		case m, ok := <-d.out:
			if !ok {
				d.t.Fatalf("the daemon stopped; stderr:\n%s", d.errors())
			}
			if !bytes.Contains(m, []byte(`"method":"window/logMessage"`)) {
				return string(m)
			}
		case <-time.After(30 * time.Second):
			d.t.Fatal("no message from the daemon")
		}
	}
}

func (d *rawDaemon) errors() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// peakRSS is the daemon's VmHWM, in bytes.
func (d *rawDaemon) peakRSS() int {
	d.t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		d.t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb << 10
		}
	}
	d.t.Fatal("no VmHWM")
	return 0
}

// TestJSONRPCSpec sends what JSON-RPC 2.0 allows and the daemon refused
// or mishandled: batches, a null id, a request with an id to a
// notification method, a request method sent as a notification,
// responses, and ids of every kind.
func TestJSONRPCSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		send []string
		want []string // the answers, in order, before the next request's
		log  string   // a line stderr must have, if any
	}{
		{"a batch is answered with an array",
			[]string{`[{"jsonrpc":"2.0","id":1,"method":"session/list","params":{}},{"jsonrpc":"2.0","method":"initialized"},{"jsonrpc":"2.0","id":2,"method":"no/such"}]`},
			[]string{`[{"jsonrpc":"2.0","id":1,"result":{"sessions":[]}},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"method not found: no/such"}}]`}, ""},
		{"a batch of notifications gets nothing",
			[]string{`[{"jsonrpc":"2.0","method":"initialized"},{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":5}}]`}, nil, ""},
		{"an empty batch is one error",
			[]string{`[]`}, []string{`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: an empty batch"}}`}, ""},
		{"a bad member of a batch is answered in it",
			[]string{`[7,{"jsonrpc":"2.0","id":"s","method":"session/list"}]`},
			[]string{`[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: a message must be a JSON object"}},{"jsonrpc":"2.0","id":"s","result":{"sessions":[]}}]`}, ""},
		{"a null id is a request",
			[]string{`{"jsonrpc":"2.0","id":null,"method":"session/list","params":{}}`},
			[]string{`{"jsonrpc":"2.0","id":null,"result":{"sessions":[]}}`}, ""},
		{"a request to a notification method is answered",
			[]string{`{"jsonrpc":"2.0","id":3,"method":"initialized","params":{}}`, `{"jsonrpc":"2.0","id":4,"method":"$/cancelRequest","params":{"id":99}}`},
			[]string{`{"jsonrpc":"2.0","id":3,"result":null}`, `{"jsonrpc":"2.0","id":4,"result":null}`}, ""},
		{"a request method sent as a notification is not run, and logged",
			[]string{`{"jsonrpc":"2.0","method":"session/new","params":{"workspace":"/notified"}}`, `{"jsonrpc":"2.0","id":5,"method":"session/list","params":{"workspace":"/notified"}}`},
			[]string{`{"jsonrpc":"2.0","id":5,"result":{"sessions":[]}}`}, `method=session/new`},
		{"responses are ignored, and logged",
			[]string{`{"jsonrpc":"2.0","id":9,"result":null}`, `{"jsonrpc":"2.0","id":10,"error":{"code":1,"message":"x"}}`}, nil, `ignored a response`},
		{"ids: negative, and the ends of int64",
			[]string{`{"jsonrpc":"2.0","id":-1,"method":"session/list"}`, `{"jsonrpc":"2.0","id":9223372036854775807,"method":"session/list"}`, `{"jsonrpc":"2.0","id":-9223372036854775808,"method":"session/list"}`},
			[]string{`{"jsonrpc":"2.0","id":-1,"result":{"sessions":[]}}`, `{"jsonrpc":"2.0","id":9223372036854775807,"result":{"sessions":[]}}`, `{"jsonrpc":"2.0","id":-9223372036854775808,"result":{"sessions":[]}}`}, ""},
		{"ids outside int64, fractions and other kinds are refused, saying why",
			[]string{`{"jsonrpc":"2.0","id":9223372036854775808,"method":"session/list"}`, `{"jsonrpc":"2.0","id":1.5,"method":"session/list"}`, `{"jsonrpc":"2.0","id":true,"method":"session/list"}`},
			[]string{`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: \"id\" 9223372036854775808 is outside the range of a 64-bit integer"}}`,
				`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: \"id\" 1.5 is not an integer"}}`,
				`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: \"id\" must be a string, an integer or null"}}`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startRaw(t, true, nil)
			for _, m := range tc.send {
				d.frame(m)
			}
			got := d.until()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("answers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.log != "" && !strings.Contains(d.errors(), tc.log) {
				t.Errorf("stderr has no %q:\n%s", tc.log, d.errors())
			}
		})
	}
}

// TestDuplicateIDInFlight sends a second chat/send with the id of one
// still streaming: it is refused, and a cancel of that id still reaches
// the first.
func TestDuplicateIDInFlight(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	srv.SetPace(20 * time.Millisecond)
	d := startRaw(t, true, map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()})
	d.frame(`{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"slow 1000","provider":"openai","workspace":"/a"}}`)
	for !strings.Contains(d.next(), `"method":"chat/delta"`) {
	}
	d.frame(`{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"slow 2","provider":"openai","workspace":"/b"}}`)
	var refused string
	for refused == "" {
		if m := d.next(); strings.HasPrefix(m, `{"jsonrpc":"2.0","id":1,`) {
			refused = m
		}
	}
	if want := `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"invalid request: a request with id 1 is already in flight"}}`; refused != want {
		t.Fatalf("second request with id 1: %s, want %s", refused, want)
	}
	d.frame(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}`)
	var answer string
	for answer == "" {
		if m := d.next(); strings.HasPrefix(m, `{"jsonrpc":"2.0","id":1,`) {
			answer = m
		}
	}
	if !strings.Contains(answer, `"code":-32800`) {
		t.Errorf("after the cancel: %s, want the first chat/send cancelled", answer)
	}
}

// TestHostileFrames sends the daemon frames that used to cost it memory
// out of proportion, or its answer's id, and checks that each is answered
// (with its id where it has one), that the next request is served, and
// that the daemon's peak RSS grew by far less than what it was sent.
func TestHostileFrames(t *testing.T) {
	numbers := func(n int) string { return strings.TrimSuffix(strings.Repeat("1,", n), ",") }
	for _, tc := range []struct {
		name  string
		jsonl bool
		input func() []byte
		want  string // the answer, whole
		grow  int    // the most the daemon's peak RSS may grow, in bytes
	}{
		{"a header line of 64 MB", false,
			func() []byte { return []byte("X-Junk: " + strings.Repeat("a", 64<<20) + "\r\n\r\n") },
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: a header line longer than 65536 bytes; skipped to the next header"}}`, 16 << 20},
		{"8 MB of small numbers in chat/send's context", false,
			func() []byte {
				return []byte(lsp(`{"jsonrpc":"2.0","id":7,"method":"chat/send","params":{"message":"hi","workspace":"/n","context":[` + numbers(4<<20-100) + `]}}`))
			},
			`{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"invalid params: context[0] must be an object, not number","data":{"field":"context"}}}`, 32 << 20},
		{"8 MB of small numbers in an unknown field", false,
			func() []byte {
				return []byte(lsp(`{"jsonrpc":"2.0","id":8,"method":"session/list","params":{"workspace":"/n","junk":[` + numbers(4<<20-100) + `]}}`))
			},
			`{"jsonrpc":"2.0","id":8,"result":{"sessions":[]}}`, 32 << 20},
		{"8 MB of small numbers in initialize's workspaceFolders", false,
			func() []byte {
				return []byte(lsp(`{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"rootUri":"file:///n","workspaceFolders":[` + numbers(4<<20-100) + `]}}`))
			},
			`{"jsonrpc":"2.0","id":9,"error":{"code":-32602,"message":"invalid params: workspaceFolders[0] must be an object, not number","data":{"field":"workspaceFolders"}}}`, 32 << 20},
		{"an oversized request, its id first", false,
			func() []byte {
				return []byte(lsp(`{"jsonrpc":"2.0","id":42,"method":"chat/send","params":{"message":"` + strings.Repeat("x", 9<<20) + `"}}`))
			},
			fmt.Sprintf(`{"jsonrpc":"2.0","id":42,"error":{"code":-32600,"message":"invalid request: message of %d bytes is larger than the limit of 8388608 bytes"}}`, 9<<20+70), 16 << 20},
		{"an oversized request, its id last", false,
			func() []byte {
				return []byte(lsp(`{"jsonrpc":"2.0","method":"chat/send","params":{"message":"` + strings.Repeat("x", 9<<20) + `"},"id":"last"}`))
			},
			fmt.Sprintf(`{"jsonrpc":"2.0","id":"last","error":{"code":-32600,"message":"invalid request: message of %d bytes is larger than the limit of 8388608 bytes"}}`, 9<<20+74), 16 << 20},
		{"an oversized line, its id last", true,
			func() []byte {
				return []byte(`{"jsonrpc":"2.0","method":"chat/send","params":{"message":"` + strings.Repeat("x", 9<<20) + `"},"id":43}` + "\n")
			},
			`{"jsonrpc":"2.0","id":43,"error":{"code":-32600,"message":"invalid request: message larger than the limit of 8388608 bytes"}}`, 32 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startRaw(t, tc.jsonl, nil)
			d.until()
			before := d.peakRSS()
			d.write(tc.input())
			if got := d.next(); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if more := d.until(); len(more) > 0 {
				t.Errorf("more answers: %q", more)
			}
			// The race detector's shadow memory roughly triples the heap.
			limit := tc.grow
			if raceEnabled {
				limit *= 4
			}
			if grew := d.peakRSS() - before; grew > limit {
				t.Errorf("peak RSS grew by %.1f MB, more than %.0f MB", float64(grew)/(1<<20), float64(limit)/(1<<20))
			}
		})
	}
}

func lsp(body string) string { return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body) }
