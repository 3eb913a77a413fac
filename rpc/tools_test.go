package rpc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// toolDaemon starts a daemon whose models may call the built-in tools in a
// workspace holding a.txt, initialized as a client that answers permission
// requests when ask is set.
func toolDaemon(t *testing.T, ask bool, policy tools.Policy) (*daemon, string) {
	t.Helper()
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "a.txt"), []byte("hello from a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := tools.NewManager(nil, nil)
	t.Cleanup(func() { m.Close() })
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: bothEnv(srv), tools: m, policy: policy})
	var res struct {
		Capabilities struct {
			Chat struct{ Tools bool } `json:"chat"`
		} `json:"capabilities"`
	}
	d.call("initialize", map[string]any{"rootUri": "file://" + ws, "initializationOptions": map[string]any{"permissions": ask}}, &res)
	if !res.Capabilities.Chat.Tools {
		t.Errorf("capabilities.chat.tools is false for a daemon with tools")
	}
	return d, ws
}

// answerPermission waits for the next chat/requestPermission, checks that
// the call's pending chat/toolCall came before it, and answers outcome.
func (d *daemon) answerPermission(t *testing.T, outcome string) permissionParams {
	t.Helper()
	m := d.waitFor("a permission request", func(m msg) bool { return m.Method == methodPermission })
	var p permissionParams
	if err := json.Unmarshal(m.Params, &p); err != nil {
		t.Fatal(err)
	}
	told := false
	d.mu.Lock()
	for i := range d.inbox {
		var c toolCallParams
		if d.inbox[i].Method == methodToolCall && json.Unmarshal(d.inbox[i].Params, &c) == nil && c.ToolCallID == p.ToolCall.ToolCallID && c.Status == "pending" {
			told = true
		}
		if d.inbox[i].Method == methodPermission && d.inbox[i].id() == m.id() {
			d.inbox = append(d.inbox[:i:i], d.inbox[i+1:]...)
			break
		}
	}
	d.mu.Unlock()
	if !told {
		t.Errorf("the permission request for %s came before its pending chat/toolCall", p.ToolCall.ToolCallID)
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(m.id()), "result": map[string]string{"outcome": outcome}})
	d.frame(string(b))
	return p
}

// toolCalls returns the chat/toolCall notifications of request id so far.
func (d *daemon) toolCalls(id string) []toolCallParams {
	return notificationsOf[toolCallParams](d, methodToolCall, id)
}

// TestToolLoop runs a turn whose model reads a file through a tool, on
// each wire that calls tools, with each answer the user may give: the
// call is asked for, announced as it goes (pending, running, completed or
// rejected), its result goes back to the model, which answers with it, and
// the whole exchange is stored with the reply.
func TestToolLoop(t *testing.T) {
	for _, tc := range []struct {
		provider, outcome, status, said string
	}{
		{"openai", "allow_once", "completed", "hello from a"},
		{"anthropic", "allow_once", "completed", "hello from a"},
		{"openai", "reject_once", "rejected", "declined"},
	} {
		t.Run(tc.provider+" "+tc.outcome, func(t *testing.T) {
			d, _ := toolDaemon(t, true, tools.Policy{})
			id := d.send("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": tc.provider})
			asked := d.answerPermission(t, tc.outcome)
			if asked.ToolCall.Name != "read_file" || asked.ToolCall.Arguments != `{"path": "a.txt"}` || len(asked.Options) != 4 {
				t.Errorf("asked %+v", asked)
			}
			resp, deltas := d.wait(id)
			if resp.Error != nil {
				t.Fatalf("error %s %s", resp.Error.Message, resp.Error.Data)
			}
			var res sendResult
			json.Unmarshal(resp.Result, &res)
			if !strings.HasPrefix(res.Text, "Reading. The tool said: ") || !strings.Contains(res.Text, tc.said) || joined(deltas) != res.Text || res.StopReason != "end" {
				t.Errorf("reply %q (streamed %q), stop %q; want the tool's result in it", res.Text, joined(deltas), res.StopReason)
			}
			var statuses []string
			for _, c := range d.toolCalls(id) {
				statuses = append(statuses, c.Status)
				if c.Name != "read_file" || c.MessageID != res.MessageID || c.ToolCallID != asked.ToolCall.ToolCallID {
					t.Errorf("chat/toolCall %+v", c)
				}
			}
			want := "pending,running,completed"
			if tc.status == "rejected" {
				want = "pending,rejected"
			}
			if strings.Join(statuses, ",") != want {
				t.Errorf("statuses %v, want %s", statuses, want)
			}
			var got struct{ Messages []session.Message }
			d.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
			calls := got.Messages[1].ToolCalls
			if len(calls) != 1 || calls[0].Status != tc.status || !strings.Contains(calls[0].Output, tc.said) || calls[0].TextOffset != len("Reading. ") {
				t.Errorf("stored calls %+v", calls)
			}
		})
	}
}

// TestToolPermissionRemembered answers "always" once: the next calls of
// the tool in the workspace run (or are refused) without asking.
func TestToolPermissionRemembered(t *testing.T) {
	for _, tc := range []struct{ outcome, status string }{{"allow_always", "completed"}, {"reject_always", "rejected"}} {
		t.Run(tc.outcome, func(t *testing.T) {
			d, _ := toolDaemon(t, true, tools.Policy{})
			id := d.send("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": "openai"})
			d.answerPermission(t, tc.outcome)
			d.wait(id)
			var res sendResult
			d.call("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": "openai"}, &res)
			var got struct{ Messages []session.Message }
			d.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
			if calls := got.Messages[3].ToolCalls; len(calls) != 1 || calls[0].Status != tc.status {
				t.Errorf("second call %+v, want %s without asking", calls, tc.status)
			}
		})
	}
}

// TestToolPolicyWithoutClient runs calls for a client that cannot answer:
// the policy decides, and "ask" refuses.
func TestToolPolicyWithoutClient(t *testing.T) {
	for _, tc := range []struct {
		policy tools.Policy
		status string
	}{
		{tools.Policy{}, "rejected"},
		{tools.Policy{Default: tools.Allow}, "completed"},
		{tools.Policy{Rules: map[string]string{"read_*": tools.Allow}}, "completed"},
	} {
		d, _ := toolDaemon(t, false, tc.policy)
		var res sendResult
		d.call("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": "openai"}, &res)
		var got struct{ Messages []session.Message }
		d.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
		if calls := got.Messages[1].ToolCalls; len(calls) != 1 || calls[0].Status != tc.status {
			t.Errorf("policy %+v: calls %+v, want %s", tc.policy, calls, tc.status)
		}
	}
}

// TestToolEscapingTheWorkspace asks for a file outside the workspace: the
// call fails, the model is told, the turn goes on.
func TestToolEscapingTheWorkspace(t *testing.T) {
	d, _ := toolDaemon(t, false, tools.Policy{Default: tools.Allow})
	var res sendResult
	d.call("chat/send", map[string]any{"message": `tool {"path": "../../etc/passwd"}`, "provider": "openai"}, &res)
	var got struct{ Messages []session.Message }
	d.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
	if calls := got.Messages[1].ToolCalls; len(calls) != 1 || calls[0].Status != "failed" || strings.Contains(calls[0].Output, "root:") {
		t.Errorf("calls %+v, want a failed call that read nothing", calls)
	}
	if res.StopReason != "end" {
		t.Errorf("stop reason %q", res.StopReason)
	}
}

// TestToolCancelWhileAsking cancels a turn that waits for the user's
// answer: the wait ends at once, the turn answers -32800, and the call is
// stored as it was, never run.
func TestToolCancelWhileAsking(t *testing.T) {
	d, _ := toolDaemon(t, true, tools.Policy{})
	id := d.send("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": "openai"})
	d.waitFor("a permission request", func(m msg) bool { return m.Method == methodPermission })
	d.notifyMethod("$/cancelRequest", map[string]any{"id": json.RawMessage(id)})
	resp, _ := d.wait(id)
	if resp.Error == nil || resp.Error.Code != CodeCancelled {
		t.Fatalf("response %+v, want -32800", resp)
	}
	var data turnErrorData
	json.Unmarshal(resp.Error.Data, &data)
	var got struct{ Messages []session.Message }
	d.call("session/get", map[string]any{"sessionId": data.SessionID}, &got)
	if len(got.Messages) != 2 {
		t.Fatalf("stored %+v", got.Messages)
	}
	if r := got.Messages[1]; r.StopReason != "cancelled" || len(r.ToolCalls) != 1 || r.ToolCalls[0].Status != "pending" {
		t.Errorf("stored reply %+v", r)
	}
}

// TestToolStepLimit ends a turn whose model still calls tools after the
// last step allowed, with stopReason max_tool_steps.
func TestToolStepLimit(t *testing.T) {
	ws := t.TempDir()
	m := tools.NewManager(nil, nil)
	t.Cleanup(func() { m.Close() })
	d := startDaemon(t, daemonOpts{env: openaiEnv(newProvider(t)), tools: m, policy: tools.Policy{Default: tools.Allow}, maxSteps: 1})
	var res sendResult
	d.call("chat/send", map[string]any{"message": `tool {"path": "a.txt"}`, "provider": "openai", "workspace": ws}, &res)
	if res.StopReason != "max_tool_steps" || res.Text != "Reading. " {
		t.Errorf("result %+v, want max_tool_steps after the first step", res)
	}
}
