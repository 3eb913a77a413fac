package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
)

// Keys of the end-to-end test: random enough that no 8 characters of them
// turn up in an output by chance.
const (
	cmdKey    = "sk-cmd-Vq3Lr8Zt1Wn6Yp0KxJ"     // printed by local's api_key_cmd
	envKey    = "sk-env-Hj5Dc2Mx7Bs4Gf9RqE"     // in FIXED_KEY
	geminiKey = "AIzaSyTk4Pw8Nq1Ze6Ua3CoLvB"    // in GEMINI_API_KEY
	brokenKey = "sk-brk-Ry2Nf7Kd9Qa5Ws1TzU"     // printed by broken's api_key_cmd, which then fails
	headerVal = "hdr-Mb6Xe3Jv8Lc1Sg4PnH-secret" // in an extra header
)

// jsonlDaemon is a tinychat serve --jsonl child process that keeps all
// it writes, stdout and stderr, for the search for keys.
type jsonlDaemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stdout strings.Builder
	stderr bytes.Buffer
	next   int
}

func startJSONL(t *testing.T, env map[string]string, args ...string) *jsonlDaemon {
	t.Helper()
	d := &jsonlDaemon{t: t, cmd: command(t, env, append([]string{"serve", "--jsonl", "--log-level", "debug"}, args...)...)}
	d.stdin, _ = d.cmd.StdinPipe()
	out, _ := d.cmd.StdoutPipe()
	d.cmd.Stderr = &d.stderr
	d.lines = bufio.NewScanner(out)
	d.lines.Buffer(nil, 16<<20)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stdin.Close(); d.cmd.Process.Kill() })
	return d
}

type rpcError struct {
	Code    int
	Message string
	Data    map[string]any
}

// call sends one request and reads up to its response, keeping every line.
func (d *jsonlDaemon) call(method string, params any, result any) *rpcError {
	d.t.Helper()
	d.next++
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": d.next, "method": method, "params": params})
	if _, err := d.stdin.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("%s: %v", method, err)
	}
	for d.lines.Scan() {
		d.stdout.WriteString(d.lines.Text() + "\n")
		var m struct {
			ID     *int
			Result json.RawMessage
			Error  *rpcError
		}
		if err := json.Unmarshal(d.lines.Bytes(), &m); err != nil {
			d.t.Fatalf("stdout line is not JSON: %q", d.lines.Text())
		}
		if m.ID == nil || *m.ID != d.next {
			continue
		}
		if m.Error == nil && result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				d.t.Fatalf("%s: %v", method, err)
			}
		}
		return m.Error
	}
	d.t.Fatalf("%s: the daemon stopped; stderr:\n%s", method, d.stderr.String())
	return nil
}

// must is call for a request that must succeed.
func (d *jsonlDaemon) must(method string, params any, result any) {
	d.t.Helper()
	if e := d.call(method, params, result); e != nil {
		d.t.Fatalf("%s: %d %s", method, e.Code, e.Message)
	}
}

// stop shuts the daemon down and returns all it wrote.
func (d *jsonlDaemon) stop() string {
	d.t.Helper()
	d.must("shutdown", nil, nil)
	fmt.Fprintln(d.stdin, `{"jsonrpc":"2.0","method":"exit"}`)
	d.stdin.Close()
	for d.lines.Scan() {
		d.stdout.WriteString(d.lines.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("exit: %v; stderr:\n%s", err, d.stderr.String())
		}
	case <-time.After(10 * time.Second):
		d.t.Fatal("the daemon did not exit")
	}
	return d.stdout.String() + d.stderr.String()
}

// geminiServer replays the recorded Gemini stream on 127.0.0.1 and keeps
// what each request carried.
type geminiServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys []string // x-goog-api-key of each request
	urls []string
}

func newGeminiServer(t *testing.T) *geminiServer {
	body, err := os.ReadFile(filepath.Join("providers", "testdata", "gemini_stream.sse"))
	if err != nil {
		t.Fatal(err)
	}
	g := &geminiServer{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.keys = append(g.keys, r.Header.Get("x-goog-api-key"))
		g.urls = append(g.urls, r.URL.RequestURI())
		g.mu.Unlock()
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, ":streamGenerateContent") {
			http.Error(w, `{"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body)
	}))
	t.Cleanup(g.Close)
	return g
}

// TestConfigFileEndToEnd runs the real binary with a configuration file
// naming providers of its own: one OpenAI-compatible with its key from a
// command and the default, one with a fixed models list, one whose key
// command fails, and an override of the built-in gemini. Then it searches
// everything the binary wrote for the keys.
func TestConfigFileEndToEnd(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	srv.SetPace(0)
	gem := newGeminiServer(t)
	config := writeFile(t, "config.toml", `
default_provider = "local"
default_model = "test-model-large"

[providers.local]
type = "openai"
base_url = "`+srv.BaseURL()+`"
api_key_cmd = "printf '%s\n' `+cmdKey+`"
default_model = "test-model"

[providers.fixed]
type = "openai"
base_url = "`+srv.BaseURL()+`"
api_key_env = "FIXED_KEY"
headers = { "X-Team-Token" = "`+headerVal+`" }
models = ["m1", "m2"]

[providers.broken]
type = "anthropic"
base_url = "`+srv.AnthropicBaseURL()+`"
api_key_cmd = "echo `+brokenKey+`; echo `+brokenKey+` >&2; exit 7"

[providers.gemini]
base_url = "`+gem.URL+`"
`)
	env := map[string]string{
		"TINYCHAT_CONFIG": config,
		"FIXED_KEY":       envKey,
		"GEMINI_API_KEY":  geminiKey,
		// The file's base_url comes first.
		"GEMINI_BASE_URL": "http://127.0.0.1:9",
	}
	var output strings.Builder

	d := startJSONL(t, env)
	var init struct {
		Capabilities struct{ Chat struct{ Providers []string } }
	}
	d.must("initialize", map[string]any{"processId": nil, "rootUri": nil, "capabilities": map[string]any{}}, &init)
	if got, want := init.Capabilities.Chat.Providers, []string{"anthropic", "openai", "mistral", "gemini", "broken", "fixed", "local", "echo"}; !slices.Equal(got, want) {
		t.Errorf("capabilities providers = %v, want %v", got, want)
	}

	var list struct {
		Providers []struct {
			Name, DefaultModel, BaseURL string
			Configured                  bool
		}
	}
	d.must("providers/list", nil, &list)
	configured := map[string]bool{}
	for _, p := range list.Providers {
		configured[p.Name] = p.Configured
		if p.Name == "local" && (p.BaseURL != srv.BaseURL() || p.DefaultModel != "test-model") {
			t.Errorf("providers/list local = %+v", p)
		}
	}
	if !configured["local"] || !configured["fixed"] || !configured["gemini"] || !configured["broken"] || configured["openai"] {
		t.Errorf("providers/list configured = %v", configured)
	}

	var models struct{ Models []string }
	d.must("models/list", map[string]any{"provider": "local"}, &models)
	if !slices.Equal(models.Models, []string{"test-model", "test-model-large"}) {
		t.Errorf("models/list local = %v, want the server's", models.Models)
	}
	d.must("models/list", map[string]any{"provider": "fixed"}, &models)
	if !slices.Equal(models.Models, []string{"m1", "m2"}) {
		t.Errorf("models/list fixed = %v, want the file's", models.Models)
	}

	type sendResult struct{ SessionID, Text, Provider, Model string }
	// No provider named: the file's default provider and model.
	var res sendResult
	d.must("chat/send", map[string]any{"message": "hello local"}, &res)
	if res.Text != "hello local" || res.Provider != "local" || res.Model != "test-model-large" {
		t.Errorf("default: %+v", res)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer "+cmdKey || reqs[0].Model != "test-model-large" {
		t.Errorf("requests %+v, want one with the command's key", reqs)
	}

	// Chosen per request, then kept by the session.
	var sess struct{ ID string }
	d.must("session/new", map[string]any{}, &sess)
	d.must("chat/send", map[string]any{"message": "hi fixed", "provider": "fixed", "sessionId": sess.ID}, &res)
	if res.Provider != "fixed" || res.Model != "m1" {
		t.Errorf("per request: %+v", res)
	}
	d.must("chat/send", map[string]any{"message": "again", "sessionId": sess.ID}, &res)
	if res.Provider != "fixed" || res.Model != "m1" || res.Text != "again" {
		t.Errorf("per session: %+v", res)
	}
	if reqs := srv.Requests(); reqs[len(reqs)-1].Auth != "Bearer "+envKey {
		t.Errorf("fixed sent %q", reqs[len(reqs)-1].Auth)
	}

	d.must("chat/send", map[string]any{"message": "hi gemini", "provider": "gemini", "sessionId": sess.ID}, &res)
	if res.Text != "Hello! How can I help you today?" || res.Model != "gemini-2.5-flash" {
		t.Errorf("gemini: %+v", res)
	}
	if len(gem.keys) != 1 || gem.keys[0] != geminiKey || strings.Contains(gem.urls[0], geminiKey) ||
		gem.urls[0] != "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" {
		t.Errorf("gemini requests: keys %q, urls %q", gem.keys, gem.urls)
	}

	e := d.call("chat/send", map[string]any{"message": "hi broken", "provider": "broken"}, nil)
	if e == nil || e.Code != -32002 || !strings.Contains(e.Message, "broken") || !strings.Contains(e.Message, "exited with status 7") || e.Data["provider"] != "broken" {
		t.Errorf("broken key command: %+v", e)
	}
	output.WriteString(d.stop())

	// initializationOptions come above the file.
	d = startJSONL(t, env)
	d.must("initialize", map[string]any{"processId": nil, "rootUri": nil, "capabilities": map[string]any{}, "initializationOptions": map[string]any{"provider": "fixed"}}, nil)
	d.must("chat/send", map[string]any{"message": "options"}, &res)
	if res.Provider != "fixed" || res.Model != "m1" {
		t.Errorf("initializationOptions: %+v", res)
	}
	output.WriteString(d.stop())

	// The command line: ask with --config, tinychat config.
	delete(env, "TINYCHAT_CONFIG")
	for _, args := range [][]string{
		{"ask", "--config", config, "--log-level", "debug", "asked", "locally"},
		{"ask", "--config", config, "--log-level", "debug", "--provider", "gemini", "hi"},
		{"ask", "--config", config, "--provider", "broken", "hi"},
		{"config", "--config", config, "--log-level", "debug"},
		{"config", "--config", config, "--json"},
	} {
		out, errOut, code := runCmd(command(t, env, args...), "")
		output.WriteString(out + errOut)
		switch {
		case args[len(args)-1] == "locally":
			if code != 0 || out != "asked locally\n" {
				t.Errorf("ask: exit %d, %q, %s", code, out, errOut)
			}
		case slices.Contains(args, "broken"):
			if code != 1 || !strings.Contains(errOut, "broken: not configured: api_key_cmd exited with status 7") {
				t.Errorf("ask broken: exit %d, %s", code, errOut)
			}
		case args[0] == "ask":
			if code != 0 || out != "Hello! How can I help you today?\n" {
				t.Errorf("ask gemini: exit %d, %q, %s", code, out, errOut)
			}
		case slices.Contains(args, "--json"):
			var cfg struct {
				ConfigFile struct {
					Path  string
					Found bool
				}
				DefaultProvider, DefaultModel string
				Providers                     []struct {
					Name, Type string
					Key        struct {
						Env     string
						Set     bool
						Command bool
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &cfg); err != nil || code != 0 {
				t.Fatalf("config --json: exit %d, %v: %s", code, err, out)
			}
			if cfg.ConfigFile.Path != config || !cfg.ConfigFile.Found || cfg.DefaultProvider != "local" || cfg.DefaultModel != "test-model-large" {
				t.Errorf("config --json: %+v", cfg)
			}
		default:
			for _, want := range []string{
				"config file: " + config, "default provider: local", "default model: test-model-large",
				"local      openai     true        test-model", "api_key_cmd", "$FIXED_KEY (set)", "$ANTHROPIC_API_KEY (not set)", gem.URL,
			} {
				if code != 0 || !strings.Contains(out, want) {
					t.Errorf("config: exit %d, no %q in\n%s", code, want, out)
				}
			}
		}
	}

	all := output.String()
	if !strings.Contains(all, "level=DEBUG") || !strings.Contains(all, "provider request") {
		t.Errorf("no debug log in the output: the search below would prove little")
	}
	for _, key := range []string{cmdKey, envKey, geminiKey, brokenKey, headerVal} {
		for i := 0; i+8 <= len(key); i++ {
			if piece := key[i : i+8]; strings.Contains(all, piece) {
				t.Errorf("the output shows %q, a piece of a key", piece)
				break
			}
		}
	}
}

// TestBadConfigStops checks that a configuration file that cannot be used
// stops every command that needs the providers, with the file, the line and
// the field, and exit status 1.
func TestBadConfigStops(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // after the path
	}{
		{"syntax", "default_provider = \"local\n", ":1:26: basic strings cannot have new lines"},
		{"unknown type", "[providers.local]\ntype = \"ollama\"\n", `:2:1: providers.local.type: unknown type "ollama"`},
		{"unknown field", "[providers.local]\ntype = \"openai\"\nbase = \"http://localhost\"\n", ":3:1: providers.local.base: unknown field"},
		{"wrong type", "[providers.local]\ntype = \"openai\"\nmodels = \"llama3.2\"\n", ":3:10: providers.local.models: want an array of strings, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "config.toml", tt.text)
			for _, args := range [][]string{{"serve", "--config", path}, {"ask", "--config", path, "hi"}, {"config", "--config", path}, {"config"}, {"ask", "hi"}} {
				env := map[string]string{"TINYCHAT_CONFIG": path}
				if slices.Contains(args, path) {
					env = nil
				}
				out, errOut, code := runCmd(command(t, env, args...), "")
				if code != 1 || out != "" || !strings.HasPrefix(errOut, "tinychat: "+path+tt.want) || strings.Contains(errOut, "panic") {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and %q", args, code, out, errOut, path+tt.want)
				}
			}
		})
	}

	// A file named explicitly must exist; the default one need not.
	missing := filepath.Join(t.TempDir(), "missing.toml")
	for _, env := range []map[string]string{{"TINYCHAT_CONFIG": missing}, {"XDG_CONFIG_HOME": filepath.Dir(missing)}} {
		out, errOut, code := runCmd(command(t, env, "ask", "hi"), "")
		if _, explicit := env["TINYCHAT_CONFIG"]; explicit {
			if code != 1 || !strings.Contains(errOut, missing) {
				t.Errorf("missing TINYCHAT_CONFIG: exit %d, %q", code, errOut)
			}
		} else if code != 0 || out != "hi\n" {
			t.Errorf("no default file: exit %d, %q, %q", code, out, errOut)
		}
	}
}

// TestConfigDefaultPath checks that the file under XDG_CONFIG_HOME, else
// under HOME, is read with no flag.
func TestConfigDefaultPath(t *testing.T) {
	xdg := t.TempDir()
	path := filepath.Join(xdg, "tinychat", "config.toml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("default_provider = \"echo\"\n[providers.local]\ntype = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCmd(command(t, map[string]string{"XDG_CONFIG_HOME": xdg, "ANTHROPIC_API_KEY": "x"}, "config"), "")
	if code != 0 || !strings.Contains(out, "config file: "+path) || !strings.Contains(out, "default provider: echo") || !strings.Contains(out, "local ") {
		t.Errorf("config: exit %d, %s%s", code, out, errOut)
	}
	out, _, _ = runCmd(command(t, nil, "config"), "")
	if !strings.Contains(out, "config file: none (no ") {
		t.Errorf("config without a file:\n%s", out)
	}
}

// writeFile writes text to a file called name in a directory of its own.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
