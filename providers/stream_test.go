package providers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStreamReplay replays recorded streams and error bodies, checking what
// reaches onDelta and what Stream returns.
func TestStreamReplay(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		reply    string // a file in testdata
		status   int
		wantText string
		// wantReasoning is the reasoning events joined.
		wantReasoning string
		wantRes       *Result
		wantErr       *Error // compared field by field, Provider excepted
		wantMsg       string // the whole of err.Error(), when set
	}{
		{
			name: "openai", provider: "openai", reply: "openai_stream.sse",
			wantText: "Hello! How can I help you today?",
			wantRes:  &Result{Model: "gpt-4.1-mini-2025-04-14", StopReason: StopEnd, Usage: Usage{InputTokens: 19, OutputTokens: 10}},
		},
		{
			name: "openai length", provider: "openai", reply: "openai_length.sse",
			wantText: "Once upon a",
			wantRes:  &Result{Model: "gpt-4.1-mini-2025-04-14", StopReason: StopMaxTokens, Usage: Usage{InputTokens: 12, OutputTokens: 3}},
		},
		{
			name: "openai error chunk", provider: "openai", reply: "openai_error_chunk.sse",
			wantText: "Partial",
			wantErr:  &Error{Type: "server_error", Message: "The server had an error while processing your request. Sorry about that!", Retryable: true},
		},
		{
			name: "openai truncated", provider: "openai", reply: "openai_truncated.sse",
			wantText: "Half a reply",
			wantErr:  &Error{Type: "truncated_stream", Message: "the stream ended before its end marker", Retryable: true},
		},
		{
			name: "openai cut in an event", provider: "openai", reply: "openai_cut_event.sse",
			wantText: "Cut",
			wantErr:  &Error{Type: "truncated_stream", Message: "the stream ended before its end marker: go-sse: unexpected end of input", Retryable: true},
		},
		{
			name: "openai 401", provider: "openai", reply: "openai_401.json", status: http.StatusUnauthorized,
			wantMsg: "openai: 401 invalid_request_error: Incorrect API key provided: sk-bad. You can find your API key at https://platform.openai.com/account/api-keys.",
		},
		{
			name: "mistral", provider: "mistral", reply: "mistral_stream.sse",
			wantText: "Bonjour !",
			wantRes:  &Result{Model: "mistral-large-latest", StopReason: StopEnd, Usage: Usage{InputTokens: 9, OutputTokens: 4}},
		},
		{
			name: "mistral finish_reason error", provider: "mistral", reply: "mistral_error.sse",
			wantText: "Je",
			wantErr:  &Error{Type: "finish_reason_error", Message: `the model stopped with finish_reason "error"`, Retryable: true},
		},
		{
			name: "mistral 401", provider: "mistral", reply: "mistral_401.json", status: http.StatusUnauthorized,
			wantMsg: "mistral: 401: Unauthorized",
		},
		{
			name: "anthropic", provider: "anthropic", reply: "anthropic_stream.sse",
			wantText: "Hello! How can I help?",
			wantRes:  &Result{Model: "claude-sonnet-4-5-20250929", StopReason: StopEnd, Usage: Usage{InputTokens: 455, OutputTokens: 18}},
		},
		{
			name: "anthropic thinking and unknown events", provider: "anthropic", reply: "anthropic_thinking.sse",
			wantText: "Hi.", wantReasoning: "The user greets me.",
			wantRes: &Result{Model: "claude-sonnet-4-5-20250929", StopReason: StopEnd, Usage: Usage{InputTokens: 30, OutputTokens: 25},
				Opaque: []byte(`[{"type":"thinking","thinking":"The user greets me.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}]`)},
		},
		{
			name: "anthropic max_tokens", provider: "anthropic", reply: "anthropic_max_tokens.sse",
			wantText: "Once upon",
			wantRes:  &Result{Model: "claude-sonnet-4-5-20250929", StopReason: StopMaxTokens, Usage: Usage{InputTokens: 20, OutputTokens: 2}},
		},
		{
			name: "anthropic error event after text", provider: "anthropic", reply: "anthropic_overloaded_mid.sse",
			wantText: "First second",
			wantErr:  &Error{Type: "overloaded_error", Message: "Overloaded", Retryable: true},
			wantMsg:  "anthropic: overloaded_error: Overloaded",
		},
		{
			name: "anthropic truncated", provider: "anthropic", reply: "anthropic_truncated.sse",
			wantText: "Half",
			wantErr:  &Error{Type: "truncated_stream", Message: "the stream ended before its end marker", Retryable: true},
		},
		{
			// The stop reason came: the reply is whole, as an OpenAI
			// stream cut after its finish_reason.
			name: "anthropic cut after its stop reason", provider: "anthropic", reply: "anthropic_cut_after_stop.sse",
			wantText: "Half",
			wantRes:  &Result{Model: "claude-sonnet-4-5-20250929", StopReason: StopEnd, Usage: Usage{InputTokens: 12, OutputTokens: 3}},
		},
		{
			name: "anthropic without a final newline", provider: "anthropic", reply: "anthropic_no_final_newline.sse",
			wantText: "Half",
			wantRes:  &Result{Model: "claude-sonnet-4-5-20250929", StopReason: StopEnd, Usage: Usage{InputTokens: 12, OutputTokens: 3}},
		},
		{
			name: "anthropic 401", provider: "anthropic", reply: "anthropic_401.json", status: http.StatusUnauthorized,
			wantMsg: "anthropic: 401 authentication_error: invalid x-api-key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := file(t, tt.reply)
			rep.status = tt.status
			f := newFake(t, rep)
			r, _ := testRegistry(envFor(tt.provider, f), Options{})

			var text, reasoning strings.Builder
			res, err := provider(t, r, tt.provider).Stream(t.Context(), hello, func(e Event) {
				switch e.Kind {
				case EventText:
					text.WriteString(e.Text)
				case EventReasoning:
					reasoning.WriteString(e.Text)
				}
			})
			if reasoning.String() != tt.wantReasoning {
				t.Errorf("reasoning = %q, want %q", reasoning.String(), tt.wantReasoning)
			}
			e := checkReplay(t, tt.provider, text.String(), res, err, tt.wantText, tt.wantRes, tt.wantErr, tt.wantMsg)
			if e == nil {
				return
			}
			if e.Provider != tt.provider || e.Status != tt.status {
				t.Errorf("provider, status = %q, %d; want %q, %d", e.Provider, e.Status, tt.provider, tt.status)
			}
			// A failed reply is never retried once text went out, and a
			// 401 never.
			if n := len(f.requests()); tt.wantText != "" || tt.status != 0 {
				if n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
			}
		})
	}
}

// TestStreamRequest checks the request each provider sends: method, path,
// headers and the body, with the history translated to the provider's
// rules: Anthropic gets a reply's signed thinking back, OpenAI no
// reasoning (DeepSeek would reject it).
func TestStreamRequest(t *testing.T) {
	temp := 0.5
	req := &Request{
		System: "Be brief.",
		Messages: []Message{
			{Role: RoleAssistant, Content: "Welcome!"},
			{Role: RoleUser, Content: "Hi"},
			{Role: RoleAssistant, Content: "Hello.", Opaque: []byte(`[{"type":"thinking","thinking":"A greeting.","signature":"c2ln"},{"type":"redacted_thinking","data":"ZW5j"}]`)},
			{Role: RoleUser, Content: "Who are you?"},
			{Role: RoleAssistant, Content: ""},
			{Role: RoleUser, Content: "Hello?"},
		},
		Temperature: &temp,
	}
	openAIMessages := `[
		{"role": "system", "content": "Be brief."},
		{"role": "assistant", "content": "Welcome!"},
		{"role": "user", "content": "Hi"},
		{"role": "assistant", "content": "Hello."},
		{"role": "user", "content": "Who are you?"},
		{"role": "assistant", "content": ""},
		{"role": "user", "content": "Hello?"}]`
	tests := []struct {
		provider string
		reply    string
		req      *Request
		path     string
		header   map[string]string
		body     string
	}{
		{
			provider: "openai", reply: "openai_stream.sse", req: req,
			path:   "/v1/chat/completions",
			header: map[string]string{"Authorization": "Bearer " + testKey, "Content-Type": "application/json", "Accept": "text/event-stream"},
			body: `{"model": "gpt-4.1-mini", "stream": true, "stream_options": {"include_usage": true},
				"temperature": 0.5, "messages": ` + openAIMessages + `}`,
		},
		{
			provider: "mistral", reply: "mistral_stream.sse", req: &Request{Model: "mistral-small-latest", MaxTokens: 100, Messages: hello.Messages},
			path:   "/v1/chat/completions",
			header: map[string]string{"Authorization": "Bearer " + testKey},
			body: `{"model": "mistral-small-latest", "stream": true, "max_tokens": 100,
				"messages": [{"role": "user", "content": "Hello"}]}`,
		},
		{
			provider: "anthropic", reply: "anthropic_stream.sse", req: req,
			path:   "/v1/messages",
			header: map[string]string{"X-Api-Key": testKey, "Anthropic-Version": "2023-06-01", "Content-Type": "application/json"},
			body: `{"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": "Be brief.", "temperature": 0.5, "stream": true,
				"messages": [
					{"role": "user", "content": "Hi"},
					{"role": "assistant", "content": [
						{"type": "thinking", "thinking": "A greeting.", "signature": "c2ln"},
						{"type": "redacted_thinking", "data": "ZW5j"},
						{"type": "text", "text": "Hello."}]},
					{"role": "user", "content": "Who are you?\n\nHello?"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			f := newFake(t, file(t, tt.reply))
			r, _ := testRegistry(envFor(tt.provider, f), Options{})
			if _, _, _, err := collect(t.Context(), provider(t, r, tt.provider), tt.req); err != nil {
				t.Fatal(err)
			}
			got := f.requests()[0]
			if got.method != http.MethodPost || got.path != tt.path {
				t.Errorf("request = %s %s, want POST %s", got.method, got.path, tt.path)
			}
			for k, v := range tt.header {
				if got.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v)
				}
			}
			sameJSON(t, got.body, tt.body)
		})
	}
}

// TestStreamSplitLine sends an event in two TCP writes, cut in the middle
// of a data line.
func TestStreamSplitLine(t *testing.T) {
	body := file(t, "openai_stream.sse").body
	cut := strings.Index(body, `"Hello"`) + 3
	f := newFake(t, reply{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(body[:cut]))
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write([]byte(body[cut:]))
	}})
	r, _ := testRegistry(envFor("openai", f), Options{})
	text, _, _, err := collect(t.Context(), provider(t, r, "openai"), hello)
	if err != nil || text != "Hello! How can I help you today?" {
		t.Errorf("got %q, %v", text, err)
	}
}

// TestStreamCancel cancels a reply mid-stream: Stream returns at once with
// an error wrapping context.Canceled, and the provider sees its connection
// closed.
func TestStreamCancel(t *testing.T) {
	body := file(t, "anthropic_stream.sse").body
	head := body[:strings.Index(body, "event: content_block_stop")]
	closed := make(chan struct{})
	f := newFake(t, reply{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(head))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(closed)
	}})
	r, _ := testRegistry(envFor("anthropic", f), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var text strings.Builder
	_, err := provider(t, r, "anthropic").Stream(ctx, hello, func(e Event) {
		text.WriteString(e.Text)
		if text.String() == "Hello! How can I help?" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want one wrapping context.Canceled", err)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the provider's connection is still open")
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestStreamTimeout stalls a provider before its first event and between
// two events.
func TestStreamTimeout(t *testing.T) {
	body := file(t, "openai_stream.sse").body
	// The stream up to the chunk after "!".
	bang := strings.Index(body, `"!"`)
	head := body[:bang+strings.Index(body[bang:], "data:")]
	tests := []struct {
		name     string
		head     string // sent before the stall
		wantText string
	}{
		{name: "first byte"},
		{name: "idle", head: head, wantText: "Hello!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{serve: func(w http.ResponseWriter, r *http.Request) {
				if tt.head != "" {
					_, _ = w.Write([]byte(tt.head))
					w.(http.Flusher).Flush()
				}
				<-r.Context().Done()
			}})
			r, _ := testRegistry(envFor("openai", f), Options{FirstByteTimeout: 100 * time.Millisecond, IdleTimeout: 100 * time.Millisecond})
			text, _, _, err := collect(t.Context(), provider(t, r, "openai"), hello)
			var e *Error
			if !errors.As(err, &e) || e.Type != "timeout" || e.Status != 0 {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if text != tt.wantText {
				t.Errorf("text = %q, want %q", text, tt.wantText)
			}
			// The user already waited once: a timeout is not retried.
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestStreamReusesConnections checks that replies share a pooled
// connection, which needs each stream read to its very end: here the end of
// the body comes a little after the end marker.
func TestStreamReusesConnections(t *testing.T) {
	body := file(t, "anthropic_stream.sse").body
	f := newFake(t, reply{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(body))
		w.(http.Flusher).Flush()
		time.Sleep(10 * time.Millisecond)
	}})
	r, _ := testRegistry(envFor("anthropic", f), Options{})
	p := provider(t, r, "anthropic")
	for range 3 {
		if _, _, _, err := collect(t.Context(), p, hello); err != nil {
			t.Fatal(err)
		}
	}
	// Each connection has a port of its own.
	conns := map[string]bool{}
	for _, req := range f.requests() {
		conns[req.remote] = true
	}
	if len(conns) != 1 {
		t.Errorf("%d connections for 3 replies, want 1", len(conns))
	}
}

// checkReplay compares what collect gave from provider name with the text
// wanted, and then with the result wanted or, when there is none, with an
// *Error like wantErr (when set; its Provider is name) whose Error() is
// wantMsg (when set). It returns that *Error, or nil for a result.
func checkReplay(t *testing.T, name, text string, res *Result, err error, wantText string, wantRes *Result, wantErr *Error, wantMsg string) *Error {
	t.Helper()
	if text != wantText {
		t.Errorf("text = %q, want %q", text, wantText)
	}
	if wantRes != nil {
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		if !reflect.DeepEqual(*res, *wantRes) {
			t.Errorf("result = %+v, want %+v", *res, *wantRes)
		}
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *Error", err, err)
	}
	if wantErr != nil {
		want := *wantErr
		want.Provider = name
		if *e != want {
			t.Errorf("err = %+v\nwant %+v", *e, want)
		}
	}
	if wantMsg != "" && err.Error() != wantMsg {
		t.Errorf("err.Error() = %q, want %q", err.Error(), wantMsg)
	}
	return e
}

// TestToolRequest checks a request of a tool loop in each wire format: the
// tools offered, the reply that called them (with its thinking, for
// Anthropic and Gemini) and the results going back, one of them failed.
func TestToolRequest(t *testing.T) {
	req := &Request{
		Model: "m",
		Tools: []ToolSpec{
			{Name: "read_file", Description: "Read a file.", Parameters: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`)},
			{Name: "list_files"},
		},
		Messages: []Message{
			{Role: RoleUser, Content: "What is in a.txt and b.txt?"},
			{Role: RoleAssistant, Content: "Let me look.", ToolCalls: []ToolCall{
				{ID: "call_1", Name: "read_file", Arguments: `{"path": "a.txt"}`},
				{ID: "call_2", Name: "read_file", Arguments: `{"path": "b.t`}, // cut at the token limit
			}},
			{Role: RoleTool, Results: []ToolResult{
				{CallID: "call_1", Name: "read_file", Content: "hello"},
				{CallID: "call_2", Name: "read_file", Content: "no such file", IsError: true},
			}},
		},
	}
	thinking := []byte(`[{"type":"thinking","thinking":"Two files.","signature":"c2ln"}]`)
	tests := []struct {
		provider, reply string
		opaque          []byte
		body            string
	}{
		{
			provider: "openai", reply: "openai_stream.sse",
			body: `{"model": "m", "stream": true, "stream_options": {"include_usage": true},
				"messages": [
					{"role": "user", "content": "What is in a.txt and b.txt?"},
					{"role": "assistant", "content": "Let me look.", "tool_calls": [
						{"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"a.txt\"}"}},
						{"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"b.t"}}]},
					{"role": "tool", "tool_call_id": "call_1", "content": "hello"},
					{"role": "tool", "tool_call_id": "call_2", "content": "no such file"}],
				"tools": [
					{"type": "function", "function": {"name": "read_file", "description": "Read a file.", "parameters": {"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}}},
					{"type": "function", "function": {"name": "list_files", "parameters": {"type":"object","properties":{}}}}]}`,
		},
		{
			provider: "anthropic", reply: "anthropic_stream.sse", opaque: thinking,
			body: `{"model": "m", "max_tokens": 4096, "stream": true,
				"messages": [
					{"role": "user", "content": "What is in a.txt and b.txt?"},
					{"role": "assistant", "content": [
						{"type": "thinking", "thinking": "Two files.", "signature": "c2ln"},
						{"type": "text", "text": "Let me look."},
						{"type": "tool_use", "id": "call_1", "name": "read_file", "input": {"path": "a.txt"}},
						{"type": "tool_use", "id": "call_2", "name": "read_file", "input": {}}]},
					{"role": "user", "content": [
						{"type": "tool_result", "tool_use_id": "call_1", "content": "hello"},
						{"type": "tool_result", "tool_use_id": "call_2", "content": "no such file", "is_error": true}]}],
				"tools": [
					{"name": "read_file", "description": "Read a file.", "input_schema": {"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},
					{"name": "list_files", "input_schema": {"type":"object","properties":{}}}]}`,
		},
		{
			provider: "gemini", reply: "gemini_stream.sse", opaque: []byte(`{"thoughtSignature":"c2ln"}`),
			body: `{
				"contents": [
					{"role": "user", "parts": [{"text": "What is in a.txt and b.txt?"}]},
					{"role": "model", "parts": [
						{"text": "Let me look."},
						{"functionCall": {"id": "call_1", "name": "read_file", "args": {"path": "a.txt"}}, "thoughtSignature": "c2ln"},
						{"functionCall": {"id": "call_2", "name": "read_file", "args": {}}}]},
					{"role": "user", "parts": [
						{"functionResponse": {"id": "call_1", "name": "read_file", "response": {"result": "hello"}}},
						{"functionResponse": {"id": "call_2", "name": "read_file", "response": {"error": "no such file"}}}]}],
				"tools": [{"functionDeclarations": [
					{"name": "read_file", "description": "Read a file.", "parametersJsonSchema": {"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},
					{"name": "list_files", "parametersJsonSchema": {"type":"object","properties":{}}}]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			f := newFake(t, file(t, tt.reply))
			env := envFor(tt.provider, f)
			if tt.provider == "gemini" {
				env = geminiEnv(f)
			}
			r, _ := testRegistry(env, Options{})
			r2 := *req
			r2.Messages = slices.Clone(req.Messages)
			r2.Messages[1].Opaque = tt.opaque
			if _, _, _, err := collect(t.Context(), provider(t, r, tt.provider), &r2); err != nil {
				t.Fatal(err)
			}
			sameJSON(t, f.requests()[0].body, tt.body)
		})
	}
}
