package rpc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// msg is any message the daemon wrote.
type msg struct {
	ID     *json.RawMessage `json:"id"`
	Method string           `json:"method"`
	Params json.RawMessage  `json:"params"`
	Result json.RawMessage  `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

func (m msg) id() string {
	if m.ID == nil {
		return ""
	}
	return string(*m.ID)
}

// daemon is a Server running over pipes, with a client that speaks the
// same framing.
type daemon struct {
	t     *testing.T
	in    *io.PipeWriter
	jsonl bool
	store *session.Store
	code  chan int

	mu     sync.Mutex
	inbox  []msg
	notify chan struct{}
	next   int
}

type daemonOpts struct {
	jsonl bool
	env   map[string]string
	db    string
	limit int
	// tools and policy, when set, are the daemon's tools.
	tools    chat.Toolbox
	policy   tools.Policy
	maxSteps int
}

func startDaemon(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	if o.db == "" {
		o.db = filepath.Join(t.TempDir(), "tinychat.db")
	}
	store, err := session.Open(o.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	getenv := func(k string) string { return o.env[k] }
	reg := providers.NewRegistry(providers.Options{Getenv: getenv})

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	d := &daemon{t: t, in: inW, jsonl: o.jsonl, store: store, code: make(chan int, 1), notify: make(chan struct{}, 1)}
	go func() {
		d.code <- Serve(context.Background(), inR, outW, Options{
			JSONL: o.jsonl, MaxMessageSize: o.limit, Store: store, Providers: reg,
			Workspace: "/work/space", Version: "test", Logger: slog.New(slog.DiscardHandler),
			Tools: o.tools, Policy: o.policy, MaxToolSteps: o.maxSteps,
		})
		outW.Close()
	}()
	go d.read(outR)
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-d.code:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop after its input closed")
		}
	})
	return d
}

func (d *daemon) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		var body []byte
		if d.jsonl {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			body = line
		} else {
			n := -1
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				line = strings.TrimRight(line, "\r\n")
				if line == "" {
					break
				}
				if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
					n, _ = strconv.Atoi(v)
				}
			}
			body = make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
		}
		var m msg
		if err := json.Unmarshal(body, &m); err != nil {
			d.t.Errorf("daemon wrote a message that is not JSON: %q", body)
			return
		}
		d.mu.Lock()
		d.inbox = append(d.inbox, m)
		d.mu.Unlock()
		select {
		case d.notify <- struct{}{}:
		default:
		}
	}
}

// write sends raw bytes as they are.
func (d *daemon) write(s string) {
	d.t.Helper()
	if _, err := io.WriteString(d.in, s); err != nil {
		d.t.Fatal(err)
	}
}

// frame sends one message body with the daemon's framing.
func (d *daemon) frame(body string) {
	if d.jsonl {
		d.write(body + "\n")
	} else {
		d.write(fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
	}
}

// send sends a request and returns its id.
func (d *daemon) send(method string, params any) string {
	d.mu.Lock()
	d.next++
	id := strconv.Itoa(d.next)
	d.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": d.next, "method": method, "params": params})
	d.frame(string(b))
	return id
}

func (d *daemon) notifyMethod(method string, params any) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	d.frame(string(b))
}

// wait returns the response to id and the chat/delta notifications for it
// that came before it.
func (d *daemon) wait(id string) (resp msg, deltas []delta) {
	d.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		for i, m := range d.inbox {
			if m.Method == "chat/delta" {
				var dl delta
				json.Unmarshal(m.Params, &dl)
				if dl.RequestID.String() == id {
					deltas = append(deltas, dl)
				}
				continue
			}
			if m.Method == "" && m.id() == id {
				d.inbox = append(d.inbox[:i:i], d.inbox[i+1:]...)
				d.mu.Unlock()
				return m, deltas
			}
		}
		deltas = nil
		d.mu.Unlock()
		select {
		case <-d.notify:
		case <-deadline:
			d.t.Fatalf("no response to request %s", id)
		}
	}
}

// waitFor waits until a message matching ok arrived and returns it.
func (d *daemon) waitFor(what string, ok func(msg) bool) msg {
	d.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		for _, m := range d.inbox {
			if ok(m) {
				d.mu.Unlock()
				return m
			}
		}
		d.mu.Unlock()
		select {
		case <-d.notify:
		case <-deadline:
			d.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// call sends a request and decodes its result into v; it fails the test on
// an error response.
func (d *daemon) call(method string, params, v any) []delta {
	d.t.Helper()
	resp, deltas := d.wait(d.send(method, params))
	if resp.Error != nil {
		d.t.Fatalf("%s: error %d %s %s", method, resp.Error.Code, resp.Error.Message, resp.Error.Data)
	}
	if v != nil {
		if err := json.Unmarshal(resp.Result, v); err != nil {
			d.t.Fatalf("%s: result %s: %v", method, resp.Result, err)
		}
	}
	return deltas
}

// callErr sends a request that must fail and returns its error.
func (d *daemon) callErr(method string, params any) (code int, message string, data map[string]any) {
	d.t.Helper()
	resp, _ := d.wait(d.send(method, params))
	if resp.Error == nil {
		d.t.Fatalf("%s: want an error, got result %s", method, resp.Result)
	}
	json.Unmarshal(resp.Error.Data, &data)
	return resp.Error.Code, resp.Error.Message, data
}

type delta struct {
	RequestID json.Number `json:"requestId"`
	SessionID string      `json:"sessionId"`
	MessageID string      `json:"messageId"`
	Seq       int         `json:"seq"`
	Text      string      `json:"text"`
}

type sendResult struct {
	SessionID  string          `json:"sessionId"`
	MessageID  string          `json:"messageId"`
	Text       string          `json:"text"`
	Provider   string          `json:"provider"`
	Model      string          `json:"model"`
	StopReason string          `json:"stopReason"`
	Usage      providers.Usage `json:"usage"`
}

func joined(deltas []delta) string {
	var b strings.Builder
	for _, d := range deltas {
		b.WriteString(d.Text)
	}
	return b.String()
}

func newProvider(t *testing.T) *providertest.Server {
	srv := providertest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func openaiEnv(srv *providertest.Server) map[string]string {
	return map[string]string{"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": srv.BaseURL()}
}
