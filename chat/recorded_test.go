package chat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/tools"
)

// TestRecordedToolLoops replays, as a model's first step, a tool-call
// stream recorded from each provider (providers/testdata/recorded), and a
// plain answer as its second: the request of the second step must carry
// the call and its result as that provider's API takes them (the call's
// id, Gemini's thought signature), and the turn must end with the answer.
func TestRecordedToolLoops(t *testing.T) {
	for _, tc := range []struct {
		provider, first, second string
		check                   func(t *testing.T, body map[string]any)
	}{
		{"openai", "recorded/openai_parallel_tool_calls.sse", "openai_stream.sse", func(t *testing.T, body map[string]any) {
			msgs := body["messages"].([]any)
			call := msgs[1].(map[string]any)
			calls := call["tool_calls"].([]any)
			if len(calls) != 2 || calls[0].(map[string]any)["id"] != "call_JMW1whyEaYG438VE1OIflxA2" {
				t.Errorf("assistant message %v", call)
			}
			for i, id := range []string{"call_JMW1whyEaYG438VE1OIflxA2", "call_DNYTawLBoN8fj3KN6qU9N1Ou"} {
				if m := msgs[2+i].(map[string]any); m["role"] != "tool" || m["tool_call_id"] != id {
					t.Errorf("result %d: %v", i, m)
				}
			}
		}},
		{"anthropic", "recorded/anthropic_tool_use_input_json_delta.sse", "anthropic_stream.sse", func(t *testing.T, body map[string]any) {
			msgs := body["messages"].([]any)
			blocks := msgs[1].(map[string]any)["content"].([]any)
			use := blocks[len(blocks)-1].(map[string]any)
			if use["type"] != "tool_use" || use["id"] != "toolu_01RaX2WYWRWCbaeFHssmGJXG" || use["input"].(map[string]any)["city"] != "San Francisco" {
				t.Errorf("assistant blocks %v", blocks)
			}
			res := msgs[2].(map[string]any)["content"].([]any)[0].(map[string]any)
			if res["type"] != "tool_result" || res["tool_use_id"] != "toolu_01RaX2WYWRWCbaeFHssmGJXG" || res["is_error"] != true {
				t.Errorf("result %v", res)
			}
		}},
		{"gemini", "recorded/gemini_function_call_thought_signature.sse", "gemini_stream.sse", func(t *testing.T, body map[string]any) {
			contents := body["contents"].([]any)
			parts := contents[1].(map[string]any)["parts"].([]any)
			call := parts[len(parts)-1].(map[string]any)
			if call["functionCall"].(map[string]any)["name"] != "get_country" || call["thoughtSignature"] == nil || call["thoughtSignature"] == "" {
				t.Errorf("model parts %v: want the call with its thought signature", parts)
			}
			res := contents[2].(map[string]any)["parts"].([]any)[0].(map[string]any)["functionResponse"].(map[string]any)
			if res["name"] != "get_country" {
				t.Errorf("function response %v", res)
			}
		}},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body map[string]any
				json.NewDecoder(r.Body).Decode(&body)
				mu.Lock()
				bodies = append(bodies, body)
				file := tc.first
				if len(bodies) > 1 {
					file = tc.second
				}
				mu.Unlock()
				b, err := os.ReadFile(filepath.Join("..", "providers", "testdata", file))
				if err != nil {
					t.Error(err)
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, string(b))
			}))
			defer srv.Close()
			env := map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.URL + "/v1",
				"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": srv.URL, "GEMINI_API_KEY": "k", "GEMINI_BASE_URL": srv.URL}
			m := tools.NewManager(nil, nil)
			defer m.Close()
			e := &Engine{
				Store:     newStore(t),
				Providers: providers.NewRegistry(providers.Options{Getenv: func(k string) string { return env[k] }}),
				// The recorded tools are none of ours: each call fails,
				// and the model is told so.
				Tools:  m,
				Policy: tools.Policy{Default: tools.Allow},
			}
			turn, err := e.Begin(context.Background(), Request{Workspace: t.TempDir(), Message: "go", Provider: tc.provider})
			if err != nil {
				t.Fatal(err)
			}
			res, err := turn.Run(context.Background(), func(Event) {})
			if err != nil {
				t.Fatal(err)
			}
			if len(bodies) != 2 || res.StopReason != StopEnd || len(res.ToolCalls) == 0 || res.ToolCalls[0].Status != CallFailed {
				t.Fatalf("%d requests, result %+v", len(bodies), res)
			}
			tc.check(t, bodies[1])
		})
	}
}
