package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
)

// The real binary, built once for the tests that run it as editors and
// scripts do: a child process on real pipes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tinychat-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "tinychat")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tinychat: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command runs the binary with a clean environment: no provider keys, a
// store of its own, and the given extra variables.
func command(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "TINYCHAT_DB=" + filepath.Join(t.TempDir(), "tinychat.db")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = t.TempDir()
	// A session of its own, with no controlling terminal: a run of the
	// tests from a terminal must not have tinychat ask its questions there.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

func runCmd(cmd *exec.Cmd, stdin string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errOut.String(), code
}

func TestAskWithNoKeysUsesEcho(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	env := map[string]string{"TINYCHAT_DB": db}
	out, errOut, code := runCmd(command(t, env, "ask", "hello", "world"), "")
	if code != 0 || out != "hello world\n" {
		t.Fatalf("ask: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A second turn continues the same session; export prints it.
	if _, errOut, code := runCmd(command(t, env, "ask", "-"), "from stdin\n"); code != 0 {
		t.Fatalf("ask -: exit %d: %s", code, errOut)
	}
	// Each command runs in a new working directory: another workspace.
	_, errOut, code = runCmd(command(t, env, "export", "--format", "text"), "")
	if code != 1 || !strings.Contains(errOut, "no sessions") {
		t.Errorf("export elsewhere: exit %d, %q", code, errOut)
	}
	ws := t.TempDir()
	runCmd(command(t, env, "ask", "--workspace", ws, "first"), "")
	runCmd(command(t, env, "ask", "--workspace", ws, "second"), "")
	out, _, code = runCmd(command(t, env, "export", "--workspace", ws), "")
	want := "You: first\n\nLLM: first\n\nYou: second\n\nLLM: second\n"
	if code != 0 || out != want {
		t.Errorf("export: exit %d, %q, want %q", code, out, want)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"ask"}, 2, "needs a message"},
		{[]string{"ask", "--bogus", "x"}, 2, "bogus"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"ask", "--provider", "anthropic", "hi"}, 1, "ANTHROPIC_API_KEY"},
		{[]string{"ask", "--provider", "nope", "hi"}, 1, "nope"},
		{[]string{"export", "--format", "pdf", "x"}, 2, "pdf"},
		{[]string{"version"}, 0, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := runCmd(command(t, nil, tc.args...), "")
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}

// TestServeUnusableStore checks that a daemon whose store cannot be opened
// exits 1 and says why, whether its input ended first or is still open:
// it answers initialize while the store opens, so the failure may come
// after it has started serving.
func TestServeUnusableStore(t *testing.T) {
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
	framed := fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(initialize), initialize)
	notADB := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notADB, bytes.Repeat([]byte("not a database\n"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	const want = "not a tinychat database"

	t.Run("input ended", func(t *testing.T) {
		_, errOut, code := runCmd(command(t, nil, "serve", "--db", notADB), framed)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
		}
	})
	t.Run("input open", func(t *testing.T) {
		cmd := command(t, nil, "serve", "--db", notADB)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(stdin, framed)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errOut.String(), want) {
				t.Errorf("exit %v, stderr %q; want 1 and %q", err, errOut.String(), want)
			}
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatal("the daemon kept running on a store it could not open")
		}
	})
}

// TestProvidersEndToEnd points each provider's base URL at a local server
// speaking its real wire format and runs a turn through the binary.
func TestProvidersEndToEnd(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	env := map[string]string{
		"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": srv.BaseURL(),
		"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": srv.AnthropicBaseURL(),
		"MISTRAL_API_KEY": "mistral-test", "MISTRAL_BASE_URL": srv.MistralBaseURL(),
	}
	for _, provider := range []string{"openai", "anthropic", "mistral"} {
		t.Run(provider, func(t *testing.T) {
			out, errOut, code := runCmd(command(t, env, "ask", "--provider", provider, "--model", "m1", "streamed from", provider), "")
			if code != 0 || out != "streamed from "+provider+"\n" {
				t.Errorf("ask: exit %d, %q, stderr %q", code, out, errOut)
			}
			_, errOut, code = runCmd(command(t, env, "ask", "--provider", provider, "error 401 bad key"), "")
			if code != 1 || !strings.Contains(errOut, provider+": 401 test_error: bad key") {
				t.Errorf("error: exit %d, stderr %q", code, errOut)
			}
		})
	}
}

// TestAskReasoning runs ask on a reply that thinks first: stdout gets the
// answer alone, stderr the reasoning (plain, stderr being no terminal here)
// unless --no-reasoning, and a refusal or a filtered reply is named there.
func TestAskReasoning(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	env := map[string]string{"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": srv.BaseURL()}
	out, errOut, code := runCmd(command(t, env, "ask", "--provider", "openai", "think 3"), "")
	if code != 0 || out != "w0 w1 w2 \n" || errOut != "t0 t1 t2 \n" {
		t.Errorf("ask: exit %d, stdout %q, stderr %q; want the answer on stdout, the reasoning on stderr", code, out, errOut)
	}
	out, errOut, code = runCmd(command(t, env, "ask", "--provider", "openai", "--no-reasoning", "think 3"), "")
	if code != 0 || out != "w0 w1 w2 \n" || errOut != "" {
		t.Errorf("ask --no-reasoning: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for msg, note := range map[string]string{"refuse": "the model refused to answer", "filter": "stopped by the provider's content filter"} {
		out, errOut, code = runCmd(command(t, env, "ask", "--provider", "openai", msg), "")
		if code != 0 || out == "" || !strings.Contains(errOut, note) {
			t.Errorf("ask %s: exit %d, stdout %q, stderr %q; want the reply and %q", msg, code, out, errOut, note)
		}
	}
}

// TestDaemonOverPipes speaks both framings to the real binary.
func TestDaemonOverPipes(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": srv.AnthropicBaseURL()}

	t.Run("lsp", func(t *testing.T) {
		cmd := command(t, env)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		send := func(body string) {
			fmt.Fprintf(stdin, "Content-Length: %d\r\n\r\n%s", len(body), body)
		}
		read := func() map[string]any {
			body, err := readFrame(r)
			if err != nil {
				t.Fatalf("reading: %v; stderr: %s", err, stderr.String())
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("bad body %q", body)
			}
			return m
		}
		send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":null,"capabilities":{}}}`)
		if m := read(); m["result"].(map[string]any)["serverInfo"].(map[string]any)["name"] != "tinychat" {
			t.Fatalf("initialize: %v", m)
		}
		// The default provider is the first configured one: anthropic here.
		send(`{"jsonrpc":"2.0","id":2,"method":"chat/send","params":{"message":"two words"}}`)
		var text strings.Builder
		for {
			m := read()
			if m["method"] == "chat/delta" {
				text.WriteString(m["params"].(map[string]any)["text"].(string))
				continue
			}
			res := m["result"].(map[string]any)
			if res["text"] != "two words" || text.String() != "two words" || res["provider"] != "anthropic" {
				t.Fatalf("chat/send: %v, deltas %q", m, text.String())
			}
			usage := res["usage"].(map[string]any)
			if usage["outputTokens"] != float64(2) || usage["inputTokens"] != float64(10) {
				t.Errorf("usage %v", usage)
			}
			break
		}
		send(`{"jsonrpc":"2.0","id":3,"method":"shutdown"}`)
		read()
		send(`{"jsonrpc":"2.0","method":"exit"}`)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exit after shutdown: %v; stderr %s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("daemon did not exit")
		}
	})

	t.Run("jsonl", func(t *testing.T) {
		cmd := command(t, env, "--jsonl")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(stdin, "this is not json\n"+`{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"hi there","provider":"echo"}}`+"\n")
		lines := bufio.NewScanner(stdout)
		var text string
		var sawParseError, sawResult bool
		for !sawResult && lines.Scan() {
			var m struct {
				Method string
				Params struct{ Text string }
				Result *struct{ Text string }
				Error  *struct{ Code int }
			}
			if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
				t.Fatalf("stdout line is not JSON: %q", lines.Text())
			}
			switch {
			case m.Method == "chat/delta":
				text += m.Params.Text
			case m.Result != nil:
				sawResult = true
				if m.Result.Text != "hi there" || text != "hi there" {
					t.Errorf("result %q, deltas %q", m.Result.Text, text)
				}
			case m.Error != nil:
				sawParseError = m.Error.Code == -32700
			}
		}
		if !sawResult || !sawParseError {
			t.Errorf("result %v, parse error %v", sawResult, sawParseError)
		}
		stdin.Close() // end of input is a clean stop
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit at end of input: %v", err)
		}
		if !strings.Contains(stderr.String(), "level=") {
			t.Errorf("logs should be on stderr: %q", stderr.String())
		}
	})
}

// TestMalformedInputToTheBinary sends each kind of bad input to the real
// daemon, each followed by a good request that must be answered.
func TestMalformedInputToTheBinary(t *testing.T) {
	frame := func(body string) string { return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body) }
	good := func(id int) string {
		// A workspace each: two replies at once in one session would be -32005.
		return frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"chat/send","params":{"message":"ok %d","workspace":"/w/%d"}}`, id, id, id))
	}
	bad := []struct {
		input string
		code  float64
	}{
		{frame("{this is not json"), -32700},
		{frame(`{"jsonrpc":"2.0","id":"x","method":42}`), -32600},
		{"Content-Type: text/plain\r\n\r\n", -32700},
		{"Content-Length: many\r\n\r\n", -32700},
		{frame(`"` + strings.Repeat("x", 2048) + `"`), -32600},
		{frame(`{"jsonrpc":"2.0","id":"p","method":"chat/send","params":{"message":["not","a","string"]}}`), -32602},
		{frame(`{"jsonrpc":"2.0","id":"m","method":"no/such/method"}`), -32601},
	}
	var input strings.Builder
	for i, b := range bad {
		input.WriteString(b.input + good(i))
	}
	cmd := command(t, nil, "--max-message-size", "1024")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, input.String())
	r := bufio.NewReader(stdout)
	answered := map[float64]bool{}
	var codes []float64
	for len(answered) < len(bad) {
		body, err := readFrame(r)
		if err != nil {
			t.Fatalf("the daemon stopped: %v (answered %v, errors %v)", err, answered, codes)
		}
		var m struct {
			ID     any
			Result *struct{ Text string }
			Error  *struct{ Code float64 }
		}
		json.Unmarshal(body, &m)
		switch {
		case m.Result != nil:
			answered[m.ID.(float64)] = true
			if want := fmt.Sprintf("ok %v", m.ID); m.Result.Text != want {
				t.Errorf("answer %q, want %q", m.Result.Text, want)
			}
		case m.Error != nil:
			codes = append(codes, m.Error.Code)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	// chat/send is served in the background, so its errors may come later.
	var want []float64
	for _, b := range bad {
		want = append(want, b.code)
	}
	slices.Sort(codes)
	slices.Sort(want)
	if !slices.Equal(codes, want) {
		t.Errorf("error codes %v, want %v", codes, want)
	}
}

// readFrame reads the body of one Content-Length framed message.
func readFrame(r *bufio.Reader) ([]byte, error) {
	n := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return body, err
}

// TestToolsThroughTheBinary configures tools in config.toml: tinychat
// config shows the policy and the MCP servers without their secrets, and
// the daemon's model reads a workspace file with the built-in read_file,
// which the policy allows without asking, while an MCP server that cannot
// start is left out rather than failing the turn.
func TestToolsThroughTheBinary(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(`
[tools]
read_file = "allow"

[mcp_servers.broken]
command = "/nonexistent/mcp-server"
env = { DEMO_TOKEN = "secret-token-123" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": srv.BaseURL(), "TINYCHAT_CONFIG": cfg}

	out, errOut, code := runCmd(command(t, env, "config"), "")
	if code != 0 || !strings.Contains(out, "read_file = allow") || !strings.Contains(out, "broken") || !strings.Contains(out, "DEMO_TOKEN") || strings.Contains(out+errOut, "secret-token-123") {
		t.Errorf("config: exit %d, %q, stderr %q; want the policy and the server, without the secret", code, out, errOut)
	}

	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "a.txt"), []byte("the file's text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := command(t, env, "--jsonl")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	fmt.Fprintf(stdin, `{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"tool {\"path\":\"a.txt\"}","provider":"openai","workspace":%q}}`+"\n", ws)
	dec := json.NewDecoder(stdout)
	var statuses []string
	for {
		var m struct {
			Method string
			Params struct{ Status string }
			Result *struct{ Text, StopReason string }
			Error  json.RawMessage
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("reading: %v; stderr: %s", err, stderr.String())
		}
		if m.Method == "chat/toolCall" {
			statuses = append(statuses, m.Params.Status)
		}
		if m.Result == nil && m.Error == nil {
			continue
		}
		if m.Result == nil || !strings.Contains(m.Result.Text, "the file's text") || strings.Join(statuses, ",") != "pending,running,completed" {
			t.Errorf("result %+v %s after statuses %v; want the file read", m.Result, m.Error, statuses)
		}
		break
	}
	// The log is read once the daemon has exited and written the last of it.
	stdin.Close()
	cmd.Wait()
	if strings.Contains(stderr.String(), "secret-token-123") {
		t.Errorf("the MCP server's secret is in the log: %s", stderr.String())
	}
}
