package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

// answer waits for the response on ch and decodes its error.
func answer(t *testing.T, ch chan json.RawMessage) (code int, data map[string]any) {
	t.Helper()
	select {
	case raw := <-ch:
		var resp struct {
			Error *struct {
				Code int
				Data map[string]any
			}
		}
		json.Unmarshal(raw, &resp)
		if resp.Error == nil {
			t.Fatalf("want an error, got %s", raw)
		}
		return resp.Error.Code, resp.Error.Data
	case <-time.After(30 * time.Second):
		t.Fatal("no answer")
	}
	return 0, nil
}

// TestRetriesAreToldAndConfigurable checks --retries, the retries of
// initializationOptions, and that each retry reaches the editor as a
// chat/retry notification of its request and a window/logMessage warning,
// as well as stderr.
func TestRetriesAreToldAndConfigurable(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	env := map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}

	p := startProc(t, env, "--retries", "1")
	id, ch := p.send("chat/send", map[string]any{"message": "error 503 overloaded", "provider": "openai"})
	code, data := answer(t, ch)
	if code != -32001 || data["status"] != float64(503) || data["retryable"] != true || data["userMessage"] != "error 503 overloaded" {
		t.Errorf("answer %d %v", code, data)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests with --retries 1, want 2", n)
	}
	out := p.output()
	if !strings.Contains(out, `"method":"window/logMessage","params":{"message":"retrying provider request`) || !strings.Contains(out, `"type":2`) {
		t.Errorf("no window/logMessage warning for the retry:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN msg=\"retrying provider request\" provider=openai attempt=1") {
		t.Errorf("no log line on stderr for the retry:\n%s", out)
	}
	var retries []string
	for line := range strings.Lines(out) {
		var n struct {
			Method string
			Params struct {
				RequestID        int
				SessionID, Error string
				Provider         string
				MessageID        string
				Attempt          int
				Wait             float64
			}
		}
		if json.Unmarshal([]byte(line), &n) != nil || n.Method != "chat/retry" {
			continue
		}
		retries = append(retries, line)
		r := n.Params
		if r.RequestID != id || r.SessionID != data["sessionId"] || r.MessageID != data["messageId"] || r.Provider != "openai" || r.Attempt != 1 || r.Wait <= 0 || !strings.Contains(r.Error, "503") {
			t.Errorf("chat/retry %s: want request %d, session %v, message %v, openai, attempt 1, a wait and the 503", strings.TrimSpace(line), id, data["sessionId"], data["messageId"])
		}
	}
	if len(retries) != 1 {
		t.Errorf("%d chat/retry notifications for one retry:\n%s", len(retries), out)
	}

	q := startProc(t, env)
	q.call("initialize", map[string]any{"capabilities": map[string]any{}, "initializationOptions": map[string]any{"retries": 0}}, nil)
	before := len(srv.Requests())
	_, ch = q.send("chat/send", map[string]any{"message": "error 429 slow down", "provider": "openai"})
	if code, _ := answer(t, ch); code != -32001 {
		t.Errorf("code %d", code)
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Errorf("%d requests with retries 0 in initializationOptions, want 1", n)
	}
}

// TestStalledStreamTimesOut sets a short idle timeout through
// initializationOptions: a stream that stalls ends in -32001 "timeout",
// and the text that had arrived is kept as interrupted.
func TestStalledStreamTimesOut(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	p := startProc(t, map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()})
	p.call("initialize", map[string]any{"capabilities": map[string]any{}, "initializationOptions": map[string]any{"idleTimeout": 0.3}}, nil)
	_, ch := p.send("chat/send", map[string]any{"message": "stall", "provider": "openai", "workspace": "/stall"})
	code, data := answer(t, ch)
	if code != -32001 || data["type"] != "timeout" || data["status"] != float64(0) || data["text"] != "stalling " {
		t.Fatalf("answer %d %v", code, data)
	}
	var got struct{ Messages []session.Message }
	p.call("session/get", map[string]any{"sessionId": data["sessionId"]}, &got)
	if len(got.Messages) != 2 || got.Messages[1].Content != "stalling " || !got.Messages[1].Interrupted {
		t.Errorf("stored: %+v", got.Messages)
	}
}

// TestKilledInTheToolLoop kills the daemon with SIGKILL while a turn waits
// for the user's permission to run a tool: a new daemon shows the user
// message and the reply so far with its call pending, and continues the
// session, telling the model that the call was never run.
func TestKilledInTheToolLoop(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "tinychat.db")
	env := map[string]string{"TINYCHAT_DB": db, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}
	ws := t.TempDir()

	p := startProc(t, env)
	p.call("initialize", map[string]any{"rootUri": "file://" + ws, "initializationOptions": map[string]any{"permissions": true}}, nil)
	p.send("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": "openai"})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), `"method":"chat/requestPermission"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no permission request:\n%s", p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a checkpoint at least
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	q := startProc(t, env)
	var list struct{ Sessions []session.Session }
	q.call("session/list", map[string]any{"workspace": ws}, &list)
	if len(list.Sessions) != 1 {
		t.Fatalf("after the kill: %d sessions", len(list.Sessions))
	}
	var got struct{ Messages []session.Message }
	q.call("session/get", map[string]any{"sessionId": list.Sessions[0].ID}, &got)
	if len(got.Messages) != 2 {
		t.Fatalf("after the kill: %+v", got.Messages)
	}
	reply := got.Messages[1]
	if !reply.Interrupted || reply.Content != "Reading. " || len(reply.ToolCalls) != 1 || reply.ToolCalls[0].Status != "pending" {
		t.Fatalf("saved reply %+v, want the text and the call, pending", reply)
	}

	var res struct{ Text string }
	q.call("chat/send", map[string]any{"message": "hello again", "sessionId": list.Sessions[0].ID}, &res)
	if res.Text != "hello again" {
		t.Errorf("the session did not continue: %+v", res)
	}
	reqs := srv.Requests()
	var roles []string
	for _, m := range reqs[len(reqs)-1].Messages {
		roles = append(roles, m.Role)
		if m.Role == "tool" && m.Content != "This tool call was not run." {
			t.Errorf("the pending call went back as %q", m.Content)
		}
	}
	if strings.Join(roles, ",") != "user,assistant,tool,user" {
		t.Errorf("history sent back: %v, want the call and its (never run) result in place", roles)
	}
}
