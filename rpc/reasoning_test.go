package rpc

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

// notificationsOf returns the params of the notifications of method for
// request id that arrived so far.
func notificationsOf[P any](d *daemon, method, id string) []P {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ps []P
	for _, m := range d.inbox {
		var p P
		var req struct{ RequestID json.RawMessage }
		if m.Method == method && json.Unmarshal(m.Params, &p) == nil && json.Unmarshal(m.Params, &req) == nil && string(req.RequestID) == id {
			ps = append(ps, p)
		}
	}
	return ps
}

// reasoningOf returns the chat/reasoning notifications of request id.
func (d *daemon) reasoningOf(id string) []delta {
	return notificationsOf[delta](d, methodReasoning, id)
}

// bothEnv points openai and anthropic at srv.
func bothEnv(srv *providertest.Server) map[string]string {
	env := openaiEnv(srv)
	maps.Copy(env, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": srv.AnthropicBaseURL()})
	return env
}

type reasoningResult struct {
	sendResult
	Reasoning string `json:"reasoning"`
}

// TestReasoningApart streams a reply that thinks first, over each wire
// that carries reasoning: the reasoning comes as chat/reasoning with its
// own seq, never in chat/delta, and both are joined in the result and in
// the stored message.
func TestReasoningApart(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: bothEnv(srv)})
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			id := d.send("chat/send", map[string]any{"message": "think 3", "provider": provider, "workspace": "/w/" + provider})
			resp, deltas := d.wait(id)
			if resp.Error != nil {
				t.Fatalf("error %s %s", resp.Error.Message, resp.Error.Data)
			}
			var res reasoningResult
			if err := json.Unmarshal(resp.Result, &res); err != nil {
				t.Fatal(err)
			}
			reasoning := d.reasoningOf(id)
			for i, r := range reasoning {
				if r.Seq != i || r.SessionID != res.SessionID || r.MessageID != res.MessageID {
					t.Errorf("chat/reasoning %d = %+v, want seq %d of %s/%s", i, r, i, res.SessionID, res.MessageID)
				}
			}
			for i, dl := range deltas {
				if dl.Seq != i {
					t.Errorf("chat/delta %d has seq %d", i, dl.Seq)
				}
			}
			if got := joined(reasoning); got != "t0 t1 t2 " || res.Reasoning != got {
				t.Errorf("reasoning streamed %q, in the result %q; want %q", got, res.Reasoning, "t0 t1 t2 ")
			}
			if got := joined(deltas); got != "w0 w1 w2 " || res.Text != got {
				t.Errorf("answer streamed %q, in the result %q; want %q with no reasoning in it", got, res.Text, "w0 w1 w2 ")
			}
			if res.StopReason != "end" {
				t.Errorf("stop reason %q", res.StopReason)
			}
			var got struct{ Messages []session.Message }
			d.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
			if r := got.Messages[1]; r.Content != "w0 w1 w2 " || r.Reasoning != "t0 t1 t2 " || r.StopReason != "end" {
				t.Errorf("stored reply = %+v", r)
			}
		})
	}
}

// TestThinkingGoesBackToAnthropic continues a session whose reply thought
// on Anthropic: the next request sends that reply's signed thinking block
// back ahead of its text, as the API requires, and never to another model.
func TestThinkingGoesBackToAnthropic(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: bothEnv(srv)})
	var first sendResult
	d.call("chat/send", map[string]any{"message": "think 2", "provider": "anthropic", "model": "claude-test"}, &first)
	d.call("chat/send", map[string]any{"message": "and then", "sessionId": first.SessionID}, nil)
	d.call("chat/send", map[string]any{"message": "elsewhere", "sessionId": first.SessionID, "model": "claude-other"}, nil)

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	reply := reqs[1].Messages[1]
	if reply.Role != "assistant" || len(reply.Blocks) != 2 {
		t.Fatalf("the reply went back to Anthropic as %+v, want a thinking block and a text block", reply)
	}
	thinking, text := reply.Blocks[0], reply.Blocks[1]
	if thinking["type"] != "thinking" || thinking["thinking"] != "t0 t1 " || thinking["signature"] != "c2lnbmF0dXJl" {
		t.Errorf("thinking block = %v", thinking)
	}
	if text["type"] != "text" || text["text"] != "w0 w1 " {
		t.Errorf("text block = %v", text)
	}
	// Another model's signature would be rejected: it gets the answer alone.
	if m := reqs[2].Messages[1]; m.Blocks != nil || m.Content != "w0 w1 " {
		t.Errorf("the reply went to another model as %+v", m)
	}
}

// TestRefusalAndFilterAreResults checks that a refusal and a filtered
// reply are answered, stored and named as such, on both wires.
func TestRefusalAndFilterAreResults(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: bothEnv(srv)})
	for _, tc := range []struct{ provider, message, text, stop string }{
		{"openai", "refuse", "I'm sorry, I can't help with that.", "refusal"},
		{"anthropic", "refuse", "I'm sorry, I can't help with that.", "refusal"},
		{"openai", "filter", "Partial ", "content_filter"},
	} {
		t.Run(tc.provider+" "+tc.message, func(t *testing.T) {
			var res sendResult
			deltas := d.call("chat/send", map[string]any{"message": tc.message, "provider": tc.provider, "workspace": "/w/" + tc.provider + tc.message}, &res)
			if res.StopReason != tc.stop || res.Text != tc.text || joined(deltas) != tc.text {
				t.Errorf("got %q (streamed %q) with stop reason %q; want %q, %q", res.Text, joined(deltas), res.StopReason, tc.text, tc.stop)
			}
			var got struct{ Messages []session.Message }
			d.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
			if r := got.Messages[1]; r.StopReason != tc.stop || r.Interrupted {
				t.Errorf("stored reply = %+v", r)
			}
		})
	}
}

// TestCancelDuringReasoning cancels a reply while it is still thinking:
// the answer is empty, the reasoning so far is in the error's data and
// stored, and so is the user's message.
func TestCancelDuringReasoning(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	id := d.send("chat/send", map[string]any{"message": "think 200", "provider": "openai"})
	d.waitFor("the first chat/reasoning", func(m msg) bool { return m.Method == methodReasoning })
	d.notifyMethod("$/cancelRequest", map[string]any{"id": json.RawMessage(id)})
	resp, deltas := d.wait(id)
	if resp.Error == nil || resp.Error.Code != CodeCancelled {
		t.Fatalf("response = %+v, want -32800", resp)
	}
	var data turnErrorData
	if err := json.Unmarshal(resp.Error.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(deltas) != 0 || data.Text != "" || !strings.HasPrefix(data.Reasoning, "t0 ") || data.UserMessage != "" {
		t.Errorf("data = %+v after %d deltas; want the reasoning so far and no answer", data, len(deltas))
	}
	var got struct{ Messages []session.Message }
	d.call("session/get", map[string]any{"sessionId": data.SessionID}, &got)
	if len(got.Messages) != 2 || got.Messages[0].Content != "think 200" {
		t.Fatalf("stored %+v", got.Messages)
	}
	if r := got.Messages[1]; !r.Interrupted || r.StopReason != "cancelled" || r.Reasoning != data.Reasoning {
		t.Errorf("stored reply = %+v", r)
	}
}

// TestToolCallNobodyOffered checks that a reply that stops to call a tool,
// none having been offered, is a provider error naming the tool, not an
// answer: what it said before is kept, marked as ended by an error.
func TestToolCallNobodyOffered(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	code, message, data := d.callErr("chat/send", map[string]any{"message": "tool {}", "provider": "openai"})
	if code != CodeProvider || data["type"] != "unexpected_tool_call" || !strings.Contains(message, "read_file") || data["text"] != "Reading. " {
		t.Errorf("error %d %q %v; want -32001 unexpected_tool_call naming read_file, with the text so far", code, message, data)
	}
	var got struct{ Messages []session.Message }
	d.call("session/get", map[string]any{"sessionId": data["sessionId"]}, &got)
	if len(got.Messages) != 2 || got.Messages[1].StopReason != "error" || !got.Messages[1].Interrupted {
		t.Errorf("stored %+v", got.Messages)
	}
}
