package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConfigPath(t *testing.T) {
	tests := []struct {
		name     string
		flag     string
		env      map[string]string
		want     string
		explicit bool
	}{
		{"flag first", "/etc/tc.toml", map[string]string{"TINYCHAT_CONFIG": "/env.toml", "HOME": "/home/me"}, "/etc/tc.toml", true},
		{"then TINYCHAT_CONFIG", "", map[string]string{"TINYCHAT_CONFIG": "/env.toml", "XDG_CONFIG_HOME": "/xdg"}, "/env.toml", true},
		{"then XDG_CONFIG_HOME", "", map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/me"}, "/xdg/tinychat/config.toml", false},
		{"a relative XDG_CONFIG_HOME is ignored", "", map[string]string{"XDG_CONFIG_HOME": "xdg", "HOME": "/home/me"}, "/home/me/.config/tinychat/config.toml", false},
		{"then HOME", "", map[string]string{"HOME": "/home/me"}, "/home/me/.config/tinychat/config.toml", false},
		{"nowhere", "", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, explicit := ConfigPath(tt.flag, func(k string) string { return tt.env[k] })
			if got != tt.want || explicit != tt.explicit {
				t.Errorf("ConfigPath = %q, %v; want %q, %v", got, explicit, tt.want, tt.explicit)
			}
		})
	}
}

// writeConfig writes text to a config.toml of its own and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const exampleConfig = `# The example of README.
default_provider = "local"
default_model = "qwen2.5-coder"

[providers.local]
type = "openai"                 # wire format
base_url = "http://localhost:11434/v1"
api_key_env = "OLLAMA_API_KEY"
default_model = "llama3.2"
headers = { "X-Title" = "tinychat" }
models = ["llama3.2", "qwen2.5-coder"]

[providers.groq]
type = "openai"
base_url = "https://api.groq.com/openai/v1"
api_key_cmd = "pass show groq"

[providers.openai]
base_url = "https://proxy.example.com/v1"
`

func TestLoadConfig(t *testing.T) {
	path := writeConfig(t, exampleConfig)
	cfg, err := LoadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path: path, Found: true, Data: []byte(exampleConfig),
		DefaultProvider: "local", DefaultModel: "qwen2.5-coder",
		Providers: map[string]ProviderConfig{
			"local": {
				Type: "openai", BaseURL: "http://localhost:11434/v1", APIKeyEnv: "OLLAMA_API_KEY", DefaultModel: "llama3.2",
				Headers: map[string]string{"X-Title": "tinychat"}, Models: []string{"llama3.2", "qwen2.5-coder"},
			},
			"groq":   {Type: "openai", BaseURL: "https://api.groq.com/openai/v1", APIKeyCmd: "pass show groq"},
			"openai": {BaseURL: "https://proxy.example.com/v1"},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig = %+v\nwant %+v", cfg, want)
	}

	// The default file may be missing; a file named explicitly may not.
	home := t.TempDir()
	cfg, err = LoadConfig("", func(k string) string { return map[string]string{"HOME": home}[k] })
	if err != nil || cfg.Found || cfg.Path != filepath.Join(home, ".config", "tinychat", "config.toml") {
		t.Errorf("missing default file: %+v, %v", cfg, err)
	}
	missing := filepath.Join(home, "nope.toml")
	for _, env := range []map[string]string{{"TINYCHAT_CONFIG": missing}, {}} {
		flag := ""
		if len(env) == 0 {
			flag = missing
		}
		if _, err := LoadConfig(flag, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("missing explicit file %v: err = %v, want one naming it", env, err)
		}
	}
	// A directory where the file should be is no config either.
	dir := filepath.Join(home, ".config", "tinychat", "config.toml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig("", func(k string) string { return map[string]string{"HOME": home}[k] }); err == nil {
		t.Error("a directory for a config file: no error")
	}
}

// TestConfigErrors checks that each bad file stops with an error naming the
// file, the line and the field at fault.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		line  int
		field string
		msg   string // in the message
	}{
		{"syntax", "default_provider = \"local\n", 1, "", "basic strings cannot have new lines"},
		{"no equals", "[providers.local]\ntype \"openai\"\n", 2, "", "expected '='"},
		{"unknown type", "[providers.local]\ntype = \"ollama\"\n", 2, "providers.local.type", `unknown type "ollama": want openai, anthropic, mistral or gemini`},
		{"unknown type inline", "providers = { local = { type = \"ollama\" } }\n", 1, "providers.local.type", "unknown type"},
		{"unknown type dotted", "providers.local.type = \"ollama\"\n", 1, "providers.local.type", "unknown type"},
		{"missing type", "\n[providers.local]\nbase_url = \"http://localhost:11434/v1\"\n", 2, "providers.local", "type is required"},
		{"built-in of another type", "[providers.openai]\ntype = \"anthropic\"\n", 2, "providers.openai.type", "built-in provider openai is of type openai"},
		{"echo", "[providers.echo]\ndefault_model = \"x\"\n", 1, "providers.echo", "echo is built in"},
		{"unknown field", "[providers.local]\ntype = \"openai\"\napi_key = \"sk-1\"\n", 3, "providers.local.api_key", "unknown field: want type, base_url"},
		{"unknown top-level field", "\ndefault = \"local\"\n", 2, "default", "unknown field: want default_provider"},
		{"string for a number", "[providers.local]\ntype = \"openai\"\nbase_url = 11434\n", 3, "providers.local.base_url", "want a string, not an integer"},
		{"string for an array", "[providers.local]\ntype = \"openai\"\nmodels = \"llama3.2\"\n", 3, "providers.local.models", "want an array of strings, not a string"},
		{"number in headers", "[providers.local]\ntype = \"openai\"\nheaders = { X-Title = 1 }\n", 3, "providers.local.headers", "want a table of strings, not an integer"},
		{"providers not a table", "providers = [1]\n", 1, "providers", "want a table, not an array"},
		{"bad base_url", "[providers.local]\ntype = \"openai\"\nbase_url = \"localhost:11434/v1\"\n", 3, "providers.local.base_url", "want an http or https URL"},
		{"both key sources", "[providers.local]\ntype = \"openai\"\napi_key_env = \"K\"\napi_key_cmd = \"pass show k\"\n", 4, "providers.local.api_key_cmd", "not both"},
		{"bad header name", "[providers.local]\ntype = \"openai\"\nheaders = { \"X Title\" = \"t\" }\n", 3, "providers.local.headers", "not a header name"},
		{"empty model", "[providers.local]\ntype = \"openai\"\nmodels = [\"\"]\n", 3, "providers.local.models", "empty"},
		{"unknown default provider", "default_model = \"m\"\ndefault_provider = \"lokal\"\n[providers.local]\ntype = \"openai\"\n", 2, "default_provider", `no provider "lokal"`},
		{"reply limit too small", "\nmax_reply_bytes = 10\n", 2, "max_reply_bytes", "at least 1024"},
		{"reply limit negative", "max_reply_bytes = -1\n", 1, "max_reply_bytes", "at least 1024"},
		{"reply limit a string", "max_reply_bytes = \"4MiB\"\n", 1, "max_reply_bytes", "want an integer, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text)
			cfg, err := LoadConfig(path, func(string) string { return "" })
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig = %+v, %v; want a *ConfigError", cfg, err)
			}
			if ce.Path != path || ce.Line != tt.line || ce.Field != tt.field || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("err = %+v\nwant line %d, field %q, message with %q", *ce, tt.line, tt.field, tt.msg)
			}
			prefix := fmt.Sprintf("%s:%d:", path, tt.line)
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("err = %q, want it to start with %q and name %q", err, prefix, tt.field)
			}
		})
	}
}

// TestConfigErrorsHideKeys puts keys where names are wanted: the errors
// must not show them.
func TestConfigErrorsHideKeys(t *testing.T) {
	for _, text := range []string{
		"[providers.local]\ntype = \"openai\"\napi_key_env = \"" + testKey + "\"\n",
		"[providers.local]\ntype = \"openai\"\nheaders = { Authorization = \"Bearer " + testKey + "\n\" }\n",
		"[providers.local]\ntype = \"openai\"\nheaders = { Authorization = \"Bearer " + testKey + "\r\" }\n",
		"[providers.local]\ntype = \"openai\"\nbase_url = \"http://me:" + testKey + "@localhost\n",
		"[providers.local]\ntype = \"openai\"\nbase_url = \"localhost:" + testKey + "\"\n",
	} {
		_, err := ParseConfig("config.toml", []byte(text))
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("the error shows the key: %v", err)
		}
	}
	// Several errors are all reported, each with its line.
	_, err := ParseConfig("config.toml", []byte("a = 1\n[providers.x]\ntype = \"openai\"\nb = 2\n"))
	if err == nil || !strings.Contains(err.Error(), "config.toml:1:1: a: unknown field") || !strings.Contains(err.Error(), "config.toml:4:1: providers.x.b: unknown field") {
		t.Errorf("err = %v, want both unknown fields", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(exampleConfig)
	for _, s := range []string{"providers = { a = { type = 1 } }", "[providers]\na = 1", "[[providers]]", "providers.a.headers.b.c = 1", "x = [[1], {a = 2}]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig("config.toml", []byte(text))
		if err == nil {
			// A Config that parses makes a Registry.
			NewRegistry(Options{Config: cfg, Getenv: func(string) string { return "" }}).Default()
		}
	})
}

// TestConfigPrecedence checks which of the configuration file, the
// environment and the built-in defaults each setting comes from.
func TestConfigPrecedence(t *testing.T) {
	tests := []struct {
		name        string
		config      string
		env         map[string]string
		provider    string
		want        Info // Problem excepted
		wantDefault string
	}{
		{
			name: "built-in defaults", provider: "openai",
			want:        Info{Name: "openai", DefaultModel: "gpt-4.1-mini", BaseURL: "https://api.openai.com/v1", Type: "openai", Key: KeySource{Env: "OPENAI_API_KEY"}},
			wantDefault: "echo",
		},
		{
			name: "environment over built-in", provider: "openai",
			env:         map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"},
			want:        Info{Name: "openai", Configured: true, DefaultModel: "gpt-4.1-mini", BaseURL: "http://127.0.0.1:1/v1", Type: "openai", Key: KeySource{Env: "OPENAI_API_KEY", Set: true}},
			wantDefault: "openai",
		},
		{
			name: "file over environment", provider: "openai",
			config:      "[providers.openai]\nbase_url = \"http://127.0.0.1:2/v1/\"\napi_key_env = \"WORK_OPENAI_KEY\"\ndefault_model = \"gpt-4.1\"\n",
			env:         map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"},
			want:        Info{Name: "openai", DefaultModel: "gpt-4.1", BaseURL: "http://127.0.0.1:2/v1", Type: "openai", Key: KeySource{Env: "WORK_OPENAI_KEY"}},
			wantDefault: "echo",
		},
		{
			name: "a command over the environment", provider: "anthropic",
			config:      "[providers.anthropic]\ntype = \"anthropic\"\napi_key_cmd = \"echo x\"\n",
			env:         map[string]string{"ANTHROPIC_API_KEY": testKey},
			want:        Info{Name: "anthropic", Configured: true, DefaultModel: "claude-sonnet-4-5", BaseURL: "https://api.anthropic.com", Type: "anthropic", Key: KeySource{Command: true}},
			wantDefault: "anthropic",
		},
		{
			name: "a provider of its own, no key", provider: "local",
			config:      "[providers.local]\ntype = \"openai\"\nbase_url = \"http://localhost:11434/v1\"\nmodels = [\"llama3.2\", \"qwen2.5-coder\"]\n",
			env:         map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"},
			want:        Info{Name: "local", Configured: true, DefaultModel: "llama3.2", BaseURL: "http://localhost:11434/v1", Type: "openai"},
			wantDefault: "openai",
		},
		{
			name: "default_provider", provider: "local",
			config:      "default_provider = \"local\"\n[providers.local]\ntype = \"mistral\"\nbase_url = \"http://localhost:8080\"\napi_key_env = \"LOCAL_KEY\"\n",
			env:         map[string]string{"OPENAI_API_KEY": testKey, "LOCAL_KEY": testKey},
			want:        Info{Name: "local", Configured: true, DefaultModel: "mistral-large-latest", BaseURL: "http://localhost:8080", Type: "mistral", Key: KeySource{Env: "LOCAL_KEY", Set: true}},
			wantDefault: "local",
		},
		{
			name: "default_provider without its key", provider: "local",
			config:      "default_provider = \"local\"\n[providers.local]\ntype = \"gemini\"\napi_key_env = \"LOCAL_KEY\"\n",
			env:         map[string]string{"MISTRAL_API_KEY": testKey},
			want:        Info{Name: "local", DefaultModel: "gemini-2.5-flash", BaseURL: "https://generativelanguage.googleapis.com", Type: "gemini", Key: KeySource{Env: "LOCAL_KEY"}},
			wantDefault: "mistral",
		},
		{
			name: "default_provider echo", provider: "echo",
			config:      "default_provider = \"echo\"\n",
			env:         map[string]string{"ANTHROPIC_API_KEY": testKey},
			want:        Info{Name: "echo", Configured: true, DefaultModel: "echo", Type: "echo"},
			wantDefault: "echo",
		},
		{
			name: "a bad environment base URL", provider: "gemini",
			env:         map[string]string{"GEMINI_API_KEY": testKey, "GEMINI_BASE_URL": "generativelanguage.googleapis.com"},
			want:        Info{Name: "gemini", DefaultModel: "gemini-2.5-flash", Type: "gemini", Key: KeySource{Env: "GEMINI_API_KEY", Set: true}},
			wantDefault: "echo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig("config.toml", []byte(tt.config))
			if err != nil {
				t.Fatal(err)
			}
			r, _ := testRegistry(tt.env, Options{Config: cfg})
			var got *Info
			for _, info := range r.List() {
				if info.Name == tt.provider {
					got = &info
				}
			}
			if got == nil {
				t.Fatalf("no %s in %v", tt.provider, r.Names())
			}
			got.Problem = ""
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("info = %+v\nwant %+v", *got, tt.want)
			}
			if d := r.Default(); d != tt.wantDefault {
				t.Errorf("Default() = %q, want %q", d, tt.wantDefault)
			}
		})
	}
}

// TestNamedProvider runs a provider of the configuration file against a
// local server: its name, base URL, headers and models.
func TestNamedProvider(t *testing.T) {
	f := newFake(t, file(t, "openai_stream.sse"))
	cfg, err := ParseConfig("config.toml", []byte(`
[providers.local]
type = "openai"
base_url = "`+f.URL+`/v1"
headers = { "X-Title" = "tinychat", "HTTP-Referer" = "https://example.com" }
models = ["llama3.2", "qwen2.5-coder"]

[providers.router]
type = "openai"
base_url = "`+f.URL+`/router/v1"
api_key_env = "ROUTER_KEY"
default_model = "openai/gpt-4.1"
`))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := testRegistry(map[string]string{"ROUTER_KEY": testKey}, Options{Config: cfg})
	if got, want := r.Names(), []string{"anthropic", "openai", "mistral", "gemini", "local", "router", "echo"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}

	p := provider(t, r, "local")
	text, _, res, err := collect(t.Context(), p, hello)
	if err != nil || text != "Hello! How can I help you today?" || res.StopReason != StopEnd {
		t.Fatalf("local: %q, %+v, %v", text, res, err)
	}
	req := f.requests()[0]
	if req.path != "/v1/chat/completions" || req.header.Get("X-Title") != "tinychat" || req.header.Get("Http-Referer") != "https://example.com" {
		t.Errorf("local request: %s %v", req.path, req.header)
	}
	if req.header.Get("Authorization") != "" {
		t.Errorf("local has no key, yet Authorization = %q", req.header.Get("Authorization"))
	}
	if !strings.Contains(req.body, `"model":"llama3.2"`) {
		t.Errorf("local body %s, want the first of its models", req.body)
	}
	models, err := p.Models(t.Context())
	if want := []string{"llama3.2", "qwen2.5-coder"}; err != nil || !reflect.DeepEqual(models, want) || len(f.requests()) != 1 {
		t.Errorf("local models = %v, %v after %d requests; want %v without asking", models, err, len(f.requests()), want)
	}

	if _, _, _, err := collect(t.Context(), provider(t, r, "router"), hello); err != nil {
		t.Fatal(err)
	}
	req = f.requests()[1]
	if req.path != "/router/v1/chat/completions" || req.header.Get("Authorization") != "Bearer "+testKey || req.header.Get("X-Title") != "" {
		t.Errorf("router request: %s %v", req.path, req.header)
	}
	if !strings.Contains(req.body, `"model":"openai/gpt-4.1"`) {
		t.Errorf("router body %s", req.body)
	}

	// Without its variable, router is not configured, and says what to set.
	r, _ = testRegistry(nil, Options{Config: cfg})
	_, err = r.Get("router")
	var nc *NotConfiguredError
	if !errors.As(err, &nc) || *nc != (NotConfiguredError{Provider: "router", Env: "ROUTER_KEY"}) || err.Error() != "router: not configured: set ROUTER_KEY" {
		t.Errorf("Get(router) = %v", err)
	}
}

// keyCmdRegistry is a Registry with one provider, "cmd", whose key comes
// from line, pointed at f, logging to log.
func keyCmdRegistry(t *testing.T, f *fake, line string, log *bytes.Buffer, timeout time.Duration) *Registry {
	t.Helper()
	cfg, err := ParseConfig("config.toml", []byte(fmt.Sprintf("[providers.cmd]\ntype = \"anthropic\"\nbase_url = %q\napi_key_cmd = %q\n", f.URL, line)))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, _ := testRegistry(nil, Options{Config: cfg, Logger: logger, KeyCommandTimeout: timeout})
	return r
}

func TestKeyCommand(t *testing.T) {
	f := newFake(t, file(t, "anthropic_stream.sse"))
	runs := filepath.Join(t.TempDir(), "runs")
	var log bytes.Buffer
	// The key ends in a newline, as pass prints it; the command counts
	// its runs.
	r := keyCmdRegistry(t, f, fmt.Sprintf("echo run >> %s; printf '%%s\\n' %s", runs, testKey), &log, 0)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			p, err := r.Get("cmd")
			if err != nil {
				t.Error(err)
				return
			}
			if _, _, _, err := collect(t.Context(), p, hello); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if b, _ := os.ReadFile(runs); string(b) != "run\n" {
		t.Errorf("the command ran %d times, want once", strings.Count(string(b), "run"))
	}
	for _, req := range f.requests() {
		if req.header.Get("X-Api-Key") != testKey {
			t.Errorf("x-api-key = %q, want the key the command printed", req.header.Get("X-Api-Key"))
		}
	}
	info := r.List()[4]
	if info.Name != "cmd" || !info.Configured || !info.Key.Command || info.Problem != "" {
		t.Errorf("info = %+v", info)
	}
	b, _ := json.Marshal(r.List())
	if strings.Contains(log.String(), "SECRET") || bytes.Contains(b, []byte("SECRET")) {
		t.Errorf("the key is shown: log %s, list %s", log.String(), b)
	}
	if !strings.Contains(log.String(), "provider key command ran") {
		t.Errorf("log = %s", log.String())
	}
}

func TestKeyCommandFails(t *testing.T) {
	leak := "printf '%s\\n' " + testKey + "; printf 'error: %s\\n' " + testKey + " >&2"
	tests := []struct {
		name    string
		line    string
		timeout time.Duration
		reason  string
	}{
		{"exit status", leak + "; exit 3", 0, "api_key_cmd exited with status 3"},
		{"not found", "no-such-password-manager show " + testKey, 0, "api_key_cmd exited with status 127"},
		{"timeout", leak + "; sleep 10", 200 * time.Millisecond, "api_key_cmd timed out after 200ms"},
		{"nothing printed", "true", 0, "api_key_cmd printed nothing"},
		{"several lines", leak + "; echo second line", 0, "api_key_cmd printed more than one line"},
		{"killed", "kill -9 $$", 0, "api_key_cmd stopped: signal: killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, file(t, "anthropic_stream.sse"))
			var log bytes.Buffer
			r := keyCmdRegistry(t, f, tt.line, &log, tt.timeout)
			start := time.Now()
			_, err := r.Get("cmd")
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Get took %v", elapsed)
			}
			var nc *NotConfiguredError
			if !errors.As(err, &nc) || nc.Provider != "cmd" || nc.Reason != tt.reason {
				t.Fatalf("err = %#v, want a NotConfiguredError with reason %q", err, tt.reason)
			}
			if want := "cmd: not configured: " + tt.reason; err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			info := r.List()[4]
			if info.Configured || info.Problem != "cmd: "+tt.reason {
				t.Errorf("after the failure, info = %+v", info)
			}
			if r.Default() != "echo" {
				t.Errorf("Default() = %q", r.Default())
			}
			b, _ := json.Marshal(r.List())
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(log.String(), "SECRET") || bytes.Contains(b, []byte("SECRET")) {
				t.Errorf("the output is shown: err %v, log %s, list %s", err, log.String(), b)
			}
			if !strings.Contains(log.String(), tt.reason) {
				t.Errorf("log = %s, want a warning with the reason", log.String())
			}
			if len(f.requests()) != 0 {
				t.Errorf("%d requests without a key", len(f.requests()))
			}
		})
	}
}

// TestKeyCommandRetried checks that a command that failed runs again at the
// next use: the password manager may have been unlocked meanwhile.
func TestKeyCommandRetried(t *testing.T) {
	f := newFake(t, file(t, "anthropic_stream.sse"))
	unlocked := filepath.Join(t.TempDir(), "unlocked")
	var log bytes.Buffer
	r := keyCmdRegistry(t, f, fmt.Sprintf("test -e %s && echo %s", unlocked, testKey), &log, 0)
	if _, err := r.Get("cmd"); err == nil {
		t.Fatal("no error while locked")
	}
	if err := os.WriteFile(unlocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := r.Get("cmd")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := collect(t.Context(), p, hello); err != nil {
		t.Fatal(err)
	}
	if info := r.List()[4]; !info.Configured || info.Problem != "" {
		t.Errorf("info = %+v", info)
	}
	// Once it succeeded, it does not run again.
	if err := os.Remove(unlocked); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("cmd"); err != nil {
		t.Errorf("Get after success: %v", err)
	}
}

// TestKeyCommandRedacted makes the provider echo the key from the command
// back in its error.
func TestKeyCommandRedacted(t *testing.T) {
	f := newFake(t, reply{status: 401, body: `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key ` + testKey + `"}}`})
	var log bytes.Buffer
	r := keyCmdRegistry(t, f, "echo "+testKey, &log, 0)
	_, _, _, err := collect(t.Context(), provider(t, r, "cmd"), hello)
	if want := "cmd: 401 authentication_error: invalid x-api-key [redacted]"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
