package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestRegistryDefault(t *testing.T) {
	tests := []struct {
		keys []string
		want string
	}{
		{nil, "echo"},
		{[]string{"MISTRAL_API_KEY"}, "mistral"},
		{[]string{"MISTRAL_API_KEY", "OPENAI_API_KEY"}, "openai"},
		{[]string{"MISTRAL_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"}, "anthropic"},
		{[]string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}, "anthropic"},
		{[]string{"GEMINI_API_KEY"}, "gemini"},
		{[]string{"GEMINI_API_KEY", "MISTRAL_API_KEY"}, "mistral"},
	}
	for _, tt := range tests {
		env := map[string]string{}
		for _, k := range tt.keys {
			env[k] = testKey
		}
		r, _ := testRegistry(env, Options{})
		if got := r.Default(); got != tt.want {
			t.Errorf("keys %v: Default() = %q, want %q", tt.keys, got, tt.want)
		}
	}
}

func TestRegistryGet(t *testing.T) {
	r, _ := testRegistry(map[string]string{"OPENAI_API_KEY": testKey + "\n"}, Options{})
	if got, want := r.Names(), []string{"anthropic", "openai", "mistral", "gemini", "echo"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, name := range []string{"openai", "echo"} {
		p, err := r.Get(name)
		if err != nil || p.Name() != name {
			t.Errorf("Get(%q) = %v, %v", name, p, err)
		}
	}
	if p := provider(t, r, "openai").(*httpProvider); p.key != testKey {
		t.Errorf("key = %q: not trimmed", p.key)
	}

	_, err := r.Get("anthropic")
	var nc *NotConfiguredError
	if !errors.As(err, &nc) || *nc != (NotConfiguredError{Provider: "anthropic", Env: "ANTHROPIC_API_KEY"}) {
		t.Errorf("Get(anthropic) err = %v, want a NotConfiguredError", err)
	}
	if _, err := r.Get("gpt"); !errors.Is(err, ErrUnknownProvider) || !strings.Contains(err.Error(), `"gpt"`) {
		t.Errorf("Get(gpt) err = %v, want ErrUnknownProvider", err)
	}
}

func TestRegistryBadBaseURL(t *testing.T) {
	for _, base := range []string{"localhost:11434/v1", "ftp://example.com", "http://%zz"} {
		r, _ := testRegistry(map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": base}, Options{})
		if _, err := r.Get("openai"); err == nil || !strings.Contains(err.Error(), "OPENAI_BASE_URL") {
			t.Errorf("base %q: err = %v, want one naming OPENAI_BASE_URL", base, err)
		}
		if r.Default() != "echo" {
			t.Errorf("base %q: Default() = %q, want echo", base, r.Default())
		}
	}
}

func TestRegistryList(t *testing.T) {
	r, _ := testRegistry(map[string]string{
		"ANTHROPIC_API_KEY": testKey,
		"OPENAI_BASE_URL":   "http://user:" + testKey + "@127.0.0.1:8080/v1/",
	}, Options{})
	want := []Info{
		{Name: "anthropic", Configured: true, DefaultModel: "claude-sonnet-4-5", BaseURL: "https://api.anthropic.com",
			Type: "anthropic", Key: KeySource{Env: "ANTHROPIC_API_KEY", Set: true}},
		{Name: "openai", DefaultModel: "gpt-4.1-mini", BaseURL: "http://user:xxxxx@127.0.0.1:8080/v1",
			Type: "openai", Key: KeySource{Env: "OPENAI_API_KEY"}},
		{Name: "mistral", DefaultModel: "mistral-large-latest", BaseURL: "https://api.mistral.ai",
			Type: "mistral", Key: KeySource{Env: "MISTRAL_API_KEY"}},
		{Name: "gemini", DefaultModel: "gemini-2.5-flash", BaseURL: "https://generativelanguage.googleapis.com",
			Type: "gemini", Key: KeySource{Env: "GEMINI_API_KEY"}},
		{Name: "echo", Configured: true, DefaultModel: "echo", Type: "echo"},
	}
	got := r.List()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %+v\nwant %+v", got, want)
	}
	b, _ := json.Marshal(got)
	if bytes.Contains(b, []byte("SECRET")) {
		t.Errorf("List() shows the key: %s", b)
	}
}

// TestKeyNeverShown makes a provider echo the key back in its error, and
// checks that neither the error nor the log shows it.
func TestKeyNeverShown(t *testing.T) {
	f := newFake(t, reply{status: 401, body: `{"error":{"message":"Incorrect API key provided: ` + testKey + `.","type":"invalid_request_error"}}`})
	var log bytes.Buffer
	r, _ := testRegistry(envFor("openai", f), Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_, _, _, err := collect(t.Context(), provider(t, r, "openai"), hello)
	if want := "openai: 401 invalid_request_error: Incorrect API key provided: [redacted]."; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if !strings.Contains(log.String(), "status=401") {
		t.Errorf("no log line for the request: %q", log.String())
	}
	if strings.Contains(log.String(), "SECRET") {
		t.Errorf("the log shows the key: %s", log.String())
	}
}

func TestModels(t *testing.T) {
	openAIList := `{"object":"list","data":[{"id":"gpt-4.1-mini","object":"model","created":1744318173,"owned_by":"system"},{"id":"gpt-4.1","object":"model","created":1744316542,"owned_by":"system"}]}`
	tests := []struct {
		provider string
		body     string
		path     string
		header   map[string]string
		want     []string
	}{
		{
			provider: "openai", body: openAIList, path: "/v1/models",
			header: map[string]string{"Authorization": "Bearer " + testKey},
			want:   []string{"gpt-4.1-mini", "gpt-4.1"},
		},
		{
			provider: "mistral", path: "/v1/models",
			body:   `{"object":"list","data":[{"id":"mistral-large-latest","object":"model","created":1754550000,"owned_by":"mistralai","capabilities":{"completion_chat":true}},{"id":"codestral-latest","object":"model"}]}`,
			header: map[string]string{"Authorization": "Bearer " + testKey},
			want:   []string{"mistral-large-latest", "codestral-latest"},
		},
		{
			provider: "anthropic", path: "/v1/models?limit=1000",
			body:   `{"data":[{"type":"model","id":"claude-sonnet-4-5-20250929","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"},{"type":"model","id":"claude-opus-4-1-20250805","display_name":"Claude Opus 4.1","created_at":"2025-08-05T00:00:00Z"}],"has_more":false,"first_id":"claude-sonnet-4-5-20250929","last_id":"claude-opus-4-1-20250805"}`,
			header: map[string]string{"X-Api-Key": testKey, "Anthropic-Version": "2023-06-01"},
			want:   []string{"claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			f := newFake(t, reply{body: tt.body})
			r, _ := testRegistry(envFor(tt.provider, f), Options{})
			got, err := provider(t, r, tt.provider).Models(t.Context())
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Models() = %v, %v; want %v", got, err, tt.want)
			}
			req := f.requests()[0]
			if req.method != http.MethodGet || req.path != tt.path {
				t.Errorf("request = %s %s, want GET %s", req.method, req.path, tt.path)
			}
			for k, v := range tt.header {
				if req.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, req.header.Get(k), v)
				}
			}
		})
	}
}

func TestModelsError(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  string
	}{
		{"401", reply{status: 401, body: `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`}, "anthropic: 401 authentication_error: invalid x-api-key"},
		{"not JSON", reply{body: "<html>"}, "anthropic: 200 invalid_response: cannot decode the models list: invalid character '<' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			r, _ := testRegistry(envFor("anthropic", f), Options{})
			_, err := provider(t, r, "anthropic").Models(t.Context())
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRedaction checks how a key the provider echoed back leaves its
// errors: a key is hidden wherever it stands as a whole token, and a
// placeholder that local servers take for a key ("x", "ollama", "EMPTY")
// is no secret, so an error that happens to contain it is left whole.
func TestRedaction(t *testing.T) {
	for _, tc := range []struct {
		key, message, want string
	}{
		{"x", "unexpected EOF", "unexpected EOF"},
		{"x", "x", "x"},
		{"ollama", "model not found, try ollama pull llama3.2", "model not found, try ollama pull llama3.2"},
		{"EMPTY", "the prompt is EMPTY", "the prompt is EMPTY"},
		{testKey, "Incorrect API key provided: " + testKey + ".", "Incorrect API key provided: [redacted]."},
		{testKey, `{"key":"` + testKey + `"}`, `{"key":"[redacted]"}`},
		{testKey, "key=" + testKey + "&x=1, again " + testKey, "key=[redacted]&x=1, again [redacted]"},
		// Inside a longer token the key is part of something else: not
		// a copy of it.
		{"sk-local-12345", "sk-local-123456 is not sk-local-12345x", "sk-local-123456 is not sk-local-12345x"},
		{"sk-local-12345", "Bearer sk-local-12345", "Bearer [redacted]"},
		{"", "nothing to hide", "nothing to hide"},
	} {
		if got := redact(tc.message, tc.key); got != tc.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tc.message, tc.key, got, tc.want)
		}
	}
}

// TestShortKeyLeavesErrorsWhole runs a request with the key "x", as a local
// server takes, against a provider whose error holds an x in a word.
func TestShortKeyLeavesErrorsWhole(t *testing.T) {
	f := newFake(t, reply{status: 400, body: `{"error":{"message":"unexpected EOF","type":"invalid_request_error"}}`})
	env := envFor("openai", f)
	env["OPENAI_API_KEY"] = "x"
	r, _ := testRegistry(env, Options{})
	_, _, _, err := collect(t.Context(), provider(t, r, "openai"), hello)
	if want := "openai: 400 invalid_request_error: unexpected EOF"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
