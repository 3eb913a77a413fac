package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

// proc is a daemon child process spoken to in --jsonl framing.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	stdout  bytes.Buffer // everything the daemon wrote, in order
	stderr  bytes.Buffer
	next    int
	waiting map[int]chan json.RawMessage
	deltas  map[int]*strings.Builder
	exited  chan struct{}
}

func startProc(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := command(t, env, append([]string{"--jsonl"}, args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	p := &proc{t: t, cmd: cmd, stdin: stdin, waiting: map[int]chan json.RawMessage{}, deltas: map[int]*strings.Builder{}, exited: make(chan struct{})}
	cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var m struct {
				ID     *int
				Method string
				Params struct {
					RequestID int
					Text      string
				}
			}
			json.Unmarshal(sc.Bytes(), &m)
			p.mu.Lock()
			p.stdout.Write(sc.Bytes())
			p.stdout.WriteByte('\n')
			switch {
			case m.Method == "chat/delta":
				b := p.deltas[m.Params.RequestID]
				if b == nil {
					b = &strings.Builder{}
					p.deltas[m.Params.RequestID] = b
				}
				b.WriteString(m.Params.Text)
			case m.ID != nil:
				if ch := p.waiting[*m.ID]; ch != nil {
					ch <- append(json.RawMessage(nil), sc.Bytes()...)
				}
			}
			p.mu.Unlock()
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return p
}

// send writes a request and returns a channel that gets its response.
func (p *proc) send(method string, params any) (int, chan json.RawMessage) {
	p.mu.Lock()
	p.next++
	id := p.next
	ch := make(chan json.RawMessage, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Errorf("writing to the daemon: %v", err)
	}
	return id, ch
}

func (p *proc) call(method string, params, result any) {
	p.t.Helper()
	_, ch := p.send(method, params)
	select {
	case raw := <-ch:
		var resp struct {
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		json.Unmarshal(raw, &resp)
		if resp.Error != nil {
			p.t.Fatalf("%s: %s", method, resp.Error.Message)
		}
		if result != nil {
			json.Unmarshal(resp.Result, result)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s: no response", method)
	}
}

// lockedWriter is an io.Writer shared with the goroutine that reads stdout.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// output returns what the daemon wrote so far on stdout and stderr.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String() + p.stderr.String()
}

func (p *proc) streamed(id int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.deltas[id]; b != nil {
		return b.String()
	}
	return ""
}

// TestKilledDaemonLosesAtMostASecond kills the real daemon with SIGKILL in
// the middle of a reply; a new daemon on the same file shows the user
// message and the reply up to its last checkpoint, marked interrupted.
func TestKilledDaemonLosesAtMostASecond(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	srv.SetPace(20 * time.Millisecond)
	db := filepath.Join(t.TempDir(), "tinychat.db")
	env := map[string]string{"TINYCHAT_DB": db, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}

	p := startProc(t, env)
	id, _ := p.send("chat/send", map[string]any{"message": "slow 1000", "provider": "openai", "workspace": "/ws"})
	time.Sleep(2500 * time.Millisecond) // two checkpoints at least
	// On a loaded machine the daemon may have started its turn late:
	// wait, within reason, for a checkpoint to hold some of the reply.
	for deadline := time.Now().Add(15 * time.Second); !checkpointed(t, db, "/ws"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of the reply 17.5 s after chat/send; the daemon said:\n%s", p.output())
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	streamed := p.streamed(id)

	q := startProc(t, env)
	var list struct{ Sessions []session.Session }
	q.call("session/list", map[string]any{"workspace": "/ws"}, &list)
	if len(list.Sessions) != 1 {
		t.Fatalf("after the kill: %d sessions", len(list.Sessions))
	}
	var got struct{ Messages []session.Message }
	q.call("session/get", map[string]any{"sessionId": list.Sessions[0].ID}, &got)
	if len(got.Messages) != 2 || got.Messages[0].Content != "slow 1000" {
		t.Fatalf("after the kill: %+v", got.Messages)
	}
	reply := got.Messages[1]
	if !reply.Interrupted || reply.Content == "" || !strings.HasPrefix(streamed, reply.Content) {
		t.Fatalf("saved reply %q (interrupted %v) is not a prefix of the streamed %q", reply.Content, reply.Interrupted, streamed)
	}
	// At 20 ms a delta, one second is at most about 50 deltas of 3-4 bytes.
	if lost := len(streamed) - len(reply.Content); lost > 60*4 {
		t.Errorf("lost %d bytes of %d: more than a second of the reply", lost, len(streamed))
	}

	store, err := session.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if ok, err := store.IntegrityCheck(context.Background()); err != nil || !ok {
		t.Errorf("integrity check: %v %v", ok, err)
	}
}

// checkpointed reports whether the store at db holds, in workspace, a
// session whose reply has some text: a checkpoint of it was written.
func checkpointed(t *testing.T, db, workspace string) bool {
	t.Helper()
	store, err := session.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	list, err := store.List(ctx, workspace)
	if err != nil || len(list) == 0 {
		return false
	}
	msgs, err := store.Messages(ctx, list[0].ID)
	return err == nil && len(msgs) == 2 && msgs[1].Content != ""
}

// TestTwoDaemonsOneStore runs two real daemons on one file, each sending
// 30 turns at once into shared and separate workspaces.
func TestTwoDaemonsOneStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tinychat.db")
	env := map[string]string{"TINYCHAT_DB": db, "TINYCHAT_ECHO_DELAY": "1ms"}
	daemons := []*proc{startProc(t, env), startProc(t, env)}
	const turns = 30

	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := map[string]string{} // message -> session id
	for d, p := range daemons {
		for i := range turns {
			ws := fmt.Sprintf("/own/%d", d)
			if i%2 == 0 {
				ws = "/shared"
			}
			msg := fmt.Sprintf("daemon %d turn %d", d, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s session.Session
				p.call("session/new", map[string]any{"workspace": ws}, &s)
				var res struct{ SessionID, Text string }
				p.call("chat/send", map[string]any{"message": msg, "sessionId": s.ID}, &res)
				if res.Text != msg {
					t.Errorf("reply %q to %q", res.Text, msg)
				}
				mu.Lock()
				sent[msg] = res.SessionID
				mu.Unlock()
			}()
		}
	}
	// Meanwhile both daemons take turns in one shared session.
	var shared session.Session
	daemons[0].call("session/new", map[string]any{"workspace": "/shared", "title": "both"}, &shared)
	for i := range 10 {
		var res struct{ Text string }
		daemons[i%2].call("chat/send", map[string]any{"message": fmt.Sprintf("shared %d", i), "sessionId": shared.ID}, &res)
	}
	wg.Wait()

	store, err := session.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	seen := map[string]int{}
	for _, ws := range []string{"/shared", "/own/0", "/own/1"} {
		list, err := store.List(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			msgs, err := store.Messages(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(msgs); i += 2 {
				u, a := msgs[i], msgs[i+1]
				if u.Role != "user" || a.Role != "assistant" || a.Content != u.Content {
					t.Errorf("session %s: messages %d,%d out of order: %q/%s, %q/%s", s.ID, i, i+1, u.Content, u.Role, a.Content, a.Role)
				}
				seen[u.Content]++
			}
			if len(msgs)%2 != 0 || s.MessageCount != len(msgs) {
				t.Errorf("session %s has %d messages, counted as %d", s.ID, len(msgs), s.MessageCount)
			}
		}
	}
	for msg, id := range sent {
		if seen[msg] != 1 {
			t.Errorf("%q (session %s) stored %d times", msg, id, seen[msg])
		}
	}
	for i := range 10 {
		if n := seen[fmt.Sprintf("shared %d", i)]; n != 1 {
			t.Errorf("shared %d stored %d times", i, n)
		}
	}
	if len(sent) != 2*turns {
		t.Errorf("%d turns answered, want %d", len(sent), 2*turns)
	}
	// The shared session's turns are in the order they were taken.
	msgs, _ := store.Messages(ctx, shared.ID)
	for i := 0; i < len(msgs); i += 2 {
		if want := fmt.Sprintf("shared %d", i/2); msgs[i].Content != want {
			t.Errorf("shared session message %d = %q, want %q", i, msgs[i].Content, want)
		}
	}
}

// TestKillBeforeFirstCheckpoint kills the daemon right after the first
// delta of a reply, before anything of the reply was checkpointed: the
// user's message was saved when the turn started, so a new daemon shows
// it, and the session carries its title.
func TestKillBeforeFirstCheckpoint(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	srv.SetPace(20 * time.Millisecond)
	db := filepath.Join(t.TempDir(), "tinychat.db")
	env := map[string]string{"TINYCHAT_DB": db, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}

	p := startProc(t, env)
	id, _ := p.send("chat/send", map[string]any{"message": "slow 1000", "provider": "openai", "workspace": "/ws"})
	for p.streamed(id) == "" {
		time.Sleep(time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	q := startProc(t, env)
	var list struct{ Sessions []session.Session }
	q.call("session/list", map[string]any{"workspace": "/ws"}, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].Title != "slow 1000" || list.Sessions[0].MessageCount != 1 {
		t.Fatalf("after a kill before the first checkpoint: %+v; want the session titled by the message, which it holds", list.Sessions)
	}
	var got struct{ Messages []session.Message }
	q.call("session/get", map[string]any{"sessionId": list.Sessions[0].ID}, &got)
	if len(got.Messages) != 1 || got.Messages[0].Role != "user" || got.Messages[0].Content != "slow 1000" {
		t.Errorf("messages %+v, want the user's", got.Messages)
	}

	// A turn that fails before any text takes its message back, and with
	// it the title it gave an untitled session.
	var s session.Session
	q.call("session/new", map[string]any{"workspace": "/other"}, &s)
	_, ch := q.send("chat/send", map[string]any{"message": "error 400 bad", "provider": "openai", "sessionId": s.ID})
	if code, data := answer(t, ch); code != -32001 || data["userMessage"] != "error 400 bad" {
		t.Errorf("failed turn: %d %v", code, data)
	}
	var after struct {
		Session  session.Session
		Messages []session.Message
	}
	q.call("session/get", map[string]any{"sessionId": s.ID}, &after)
	if len(after.Messages) != 0 || after.Session.Title != "" || after.Session.MessageCount != 0 {
		t.Errorf("after a turn that failed before any text: %+v", after)
	}
}
