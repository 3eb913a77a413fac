package providers

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// geminiEnv is the environment that points gemini at f with testKey.
func geminiEnv(f *fake) map[string]string {
	return map[string]string{"GEMINI_API_KEY": testKey, "GEMINI_BASE_URL": f.URL}
}

// TestGeminiReplay replays recorded Gemini streams and error bodies.
func TestGeminiReplay(t *testing.T) {
	tests := []struct {
		name     string
		reply    reply
		wantText string
		wantRes  *Result
		wantErr  *Error // Provider excepted
		wantMsg  string // the whole of err.Error(), when set
	}{
		{
			name: "text and usage", reply: file(t, "gemini_stream.sse"),
			wantText: "Hello! How can I help you today?",
			wantRes:  &Result{Model: "gemini-2.5-flash", StopReason: StopEnd, Usage: Usage{InputTokens: 3, OutputTokens: 9 + 28}},
		},
		{
			name: "thought summaries are not reply text", reply: file(t, "gemini_thinking.sse"),
			wantText: "Hi there! What can I do for you?",
			wantRes:  &Result{Model: "gemini-2.5-pro", StopReason: StopEnd, Usage: Usage{InputTokens: 4, OutputTokens: 8 + 41}},
		},
		{
			name: "max tokens", reply: file(t, "gemini_max_tokens.sse"),
			wantText: "Once upon a time",
			wantRes:  &Result{Model: "gemini-2.5-flash", StopReason: StopMaxTokens, Usage: Usage{InputTokens: 7, OutputTokens: 4}},
		},
		{
			name: "safety block after text", reply: file(t, "gemini_safety.sse"),
			wantText: "To make it, you",
			wantRes:  &Result{Model: "gemini-2.5-flash", StopReason: StopContentFilter, Usage: Usage{InputTokens: 11, OutputTokens: 5}},
		},
		{
			name: "blocked prompt", reply: file(t, "gemini_prompt_blocked.sse"),
			wantErr: &Error{Type: "prompt_blocked", Message: "the prompt was blocked with blockReason PROHIBITED_CONTENT"},
		},
		{
			name: "truncated", reply: file(t, "gemini_truncated.sse"),
			wantText: "Half a reply",
			wantErr:  &Error{Type: "truncated_stream", Message: "the stream ended before its end marker", Retryable: true},
		},
		{
			name: "error body", reply: reply{status: 400, body: file(t, "gemini_400.json").body},
			wantErr: &Error{Status: 400, Type: "INVALID_ARGUMENT", Message: "API key not valid. Please pass a valid API key."},
			wantMsg: "gemini: 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key.",
		},
		{
			name: "error body in an array", reply: reply{status: 404, body: file(t, "gemini_404.json").body},
			wantErr: &Error{Status: 404, Type: "NOT_FOUND", Message: "models/gemini-9-ultra is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."},
		},
		{
			name: "error inside the stream",
			reply: reply{body: "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Par\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n" +
				"data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded. Please try again later.\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n"},
			wantText: "Par",
			wantErr:  &Error{Type: "UNAVAILABLE", Message: "The model is overloaded. Please try again later.", Retryable: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			r, _ := testRegistry(geminiEnv(f), Options{})
			text, _, res, err := collect(t.Context(), provider(t, r, "gemini"), hello)
			if checkReplay(t, "gemini", text, res, err, tt.wantText, tt.wantRes, tt.wantErr, tt.wantMsg) == nil {
				return
			}
			// Nothing is retried once text went out, nor a 4xx, nor a block.
			if n := len(f.requests()); n != 1 && (tt.wantText != "" || !tt.wantErr.Retryable) {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestGeminiRequest checks the request: the model in the path, the key in
// a header and nowhere in the URL, the history with Gemini's roles.
func TestGeminiRequest(t *testing.T) {
	temp := 0.5
	req := &Request{
		Model:  "gemini-2.5-pro",
		System: "Be brief.",
		Messages: []Message{
			{Role: RoleAssistant, Content: "Welcome!"},
			{Role: RoleUser, Content: "Hi"},
			{Role: RoleAssistant, Content: "Hello.", Opaque: []byte(`{"thoughtSignature":"c2ln"}`)},
			{Role: RoleUser, Content: "Who are you?"},
			{Role: RoleAssistant, Content: ""},
			{Role: RoleUser, Content: "Hello?"},
		},
		Temperature: &temp,
		MaxTokens:   100,
	}
	tests := []struct {
		name string
		req  *Request
		path string
		body string
	}{
		{
			name: "everything", req: req,
			path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
			body: `{
				"contents": [
					{"role": "user", "parts": [{"text": "Hi"}]},
					{"role": "model", "parts": [{"text": "Hello.", "thoughtSignature": "c2ln"}]},
					{"role": "user", "parts": [{"text": "Who are you?\n\nHello?"}]}],
				"systemInstruction": {"parts": [{"text": "Be brief."}]},
				"generationConfig": {"temperature": 0.5, "maxOutputTokens": 100}}`,
		},
		{
			name: "defaults", req: hello,
			path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
			body: `{"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, file(t, "gemini_stream.sse"))
			r, _ := testRegistry(geminiEnv(f), Options{})
			if _, _, _, err := collect(t.Context(), provider(t, r, "gemini"), tt.req); err != nil {
				t.Fatal(err)
			}
			got := f.requests()[0]
			if got.method != http.MethodPost || got.path != tt.path {
				t.Errorf("request = %s %s, want POST %s", got.method, got.path, tt.path)
			}
			if strings.Contains(got.path, "SECRET") || strings.Contains(got.path, "key=") {
				t.Errorf("the key is in the URL: %s", got.path)
			}
			for k, v := range map[string]string{"X-Goog-Api-Key": testKey, "Content-Type": "application/json", "Accept": "text/event-stream"} {
				if got.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v)
				}
			}
			if got.header.Get("Authorization") != "" {
				t.Errorf("Authorization = %q, want none", got.header.Get("Authorization"))
			}
			sameJSON(t, got.body, tt.body)
		})
	}
}

// TestGeminiRetry checks that Gemini goes through the shared retries: a
// 503 before any text is tried again.
func TestGeminiRetry(t *testing.T) {
	f := newFake(t,
		reply{status: 503, body: `{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}`},
		file(t, "gemini_stream.sse"))
	r, w := testRegistry(geminiEnv(f), Options{})
	text, _, _, err := collect(t.Context(), provider(t, r, "gemini"), hello)
	if err != nil || text != "Hello! How can I help you today?" {
		t.Fatalf("got %q, %v", text, err)
	}
	if n := len(w.all()); n != 1 {
		t.Errorf("%d retries, want 1", n)
	}
}

func TestGeminiModels(t *testing.T) {
	body := `{
  "models": [
    {"name": "models/embedding-001", "version": "001", "displayName": "Embedding 001", "supportedGenerationMethods": ["embedContent"]},
    {"name": "models/gemini-2.5-flash", "version": "001", "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
     "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"], "thinking": true},
    {"name": "models/gemini-2.5-pro", "version": "2.5", "displayName": "Gemini 2.5 Pro", "supportedGenerationMethods": ["generateContent", "countTokens"]}
  ],
  "nextPageToken": ""
}`
	f := newFake(t, reply{body: body})
	r, _ := testRegistry(geminiEnv(f), Options{})
	got, err := provider(t, r, "gemini").Models(t.Context())
	if want := []string{"gemini-2.5-flash", "gemini-2.5-pro"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Models() = %v, %v; want %v", got, err, want)
	}
	req := f.requests()[0]
	if req.method != http.MethodGet || req.path != "/v1beta/models?pageSize=1000" || req.header.Get("X-Goog-Api-Key") != testKey {
		t.Errorf("request = %s %s, key header %q", req.method, req.path, req.header.Get("X-Goog-Api-Key"))
	}
}

func FuzzDecodeGemini(f *testing.F) {
	seedEvents(f, "gemini_stream.sse", "gemini_thinking.sse", "gemini_safety.sse", "gemini_prompt_blocked.sse",
		"recorded/gemini_function_call_thought_signature.sse", "recorded/gemini_thought_parts.sse")
	for _, data := range []string{`{"candidates":null,"usageMetadata":null}`, `{"candidates":[{"content":null}]}`, `{"candidates":[{}]}`, `{"promptFeedback":{}}`, `{"error":null}`, `{"error":"x"}`, `[]`, `"x"`} {
		f.Add("", data)
	}
	f.Fuzz(fuzzDecoder(geminiWire{}))
}
