package tools

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// buildServer builds testdata/mcpserver once for the tests that run it.
var buildServer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tinychat-tools-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mcpserver")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/mcpserver").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./testdata/mcpserver: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildServer(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// testServer returns the ServerConfig of testdata/mcpserver with args.
func testServer(t *testing.T, args ...string) ServerConfig {
	t.Helper()
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	return ServerConfig{Command: bin, Args: args}
}

// logs is a slog.Handler that passes on the messages logged through it,
// for the tests that wait for something the Manager only logs.
type logs chan string

func (l logs) Enabled(context.Context, slog.Level) bool { return true }
func (l logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logs) WithGroup(string) slog.Handler            { return l }

func (l logs) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	select {
	case l <- msg:
	default: // a test that reads none does not block the Manager
	}
	return nil
}

// waitFor reads messages until one starts with prefix, and returns it.
func (l logs) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	for msg := range l {
		if strings.HasPrefix(msg, prefix) {
			return msg
		}
	}
	panic("unreachable")
}

func newManager(t *testing.T, servers map[string]ServerConfig) (*Manager, logs) {
	t.Helper()
	l := make(logs, 100)
	m := NewManager(servers, slog.New(l))
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m, l
}

// call calls the tool name with args and fails the test on an error.
func call(t *testing.T, m *Manager, name, args string) Result {
	t.Helper()
	r, err := m.Call(t.Context(), t.TempDir(), name, json.RawMessage(args))
	if err != nil {
		t.Fatalf("Call(%s, %s): %v", name, args, err)
	}
	return r
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func TestMCPTools(t *testing.T) {
	// Pages of 3 tools: the list takes five of them.
	m, _ := newManager(t, map[string]ServerConfig{"test": testServer(t, "-page-size", "3")})
	tools, problems := m.Tools(t.Context(), t.TempDir())
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	var names []string
	seen := map[string]bool{}
	for _, tool := range tools {
		names = append(names, tool.Name)
		if !validName.MatchString(tool.Name) || seen[tool.Name] {
			t.Errorf("tool name %q is not a valid and unique tool name", tool.Name)
		}
		seen[tool.Name] = true
		var schema struct{ Type string }
		if err := json.Unmarshal(tool.Schema, &schema); err != nil || schema.Type != "object" {
			t.Errorf("%s: schema %s is not an object schema", tool.Name, tool.Schema)
		}
		if wantServer := map[bool]string{true: "", false: "test"}[findBuiltin(tool.Name) != nil]; tool.Server != wantServer {
			t.Errorf("%s: Server = %q, want %q", tool.Name, tool.Server, wantServer)
		}
	}
	// The server lists its tools by name.
	want := []string{
		"read_file", "list_files", "grep",
		"test__a_tool_whose_name_is_much_too_long_to_fit_in_sixt_", "test__a_tool_whose_name_is_much_too_long_to_fit_in_sixt_",
		"test__add_tool", "test__big", "test__crash", "test__dotted_echo_", "test__echo", "test__env",
		"test__fail", "test__hang", "test__image", "test__pid",
	}
	if len(names) != len(want) {
		t.Fatalf("Tools gave %d tools, want %d (every page of the server's list and the built-ins):\n%s", len(names), len(want), strings.Join(names, "\n"))
	}
	for i, name := range names {
		if !strings.HasPrefix(name, want[i]) {
			t.Errorf("tool %d is %s, want a name starting with %s", i, name, want[i])
		}
	}

	// Each tool can be called by the name it was given.
	for _, name := range []string{names[3], names[4], names[8], names[9]} {
		if r := call(t, m, name, `{"text":"hi"}`); r.Content != "hi" || r.IsError {
			t.Errorf("Call(%s) = %+v, want hi", name, r)
		}
	}
}

func TestMCPCall(t *testing.T) {
	t.Setenv("TINYCHAT_TEST_KEY", "a key of tinychat's")
	cfg := testServer(t)
	cfg.Env = map[string]string{"GIVEN": "by the config"}
	m, _ := newManager(t, map[string]ServerConfig{"test": cfg})
	if _, problems := m.Tools(t.Context(), ""); len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, tt := range []struct {
		name, args string
		want       Result
	}{
		{"test__echo", `{"text":"hello"}`, Result{Content: "hello"}},
		{"test__echo", `{"text":""}`, Result{Content: ""}},
		{"test__fail", ``, Result{Content: "it failed, as asked", IsError: true}},
		{"test__image", `{}`, Result{Content: "a picture:\n[image/png, 18 bytes]"}},
		// A server's command gets its env table, PATH, and not the rest
		// of tinychat's environment.
		{"test__env", `{"name":"GIVEN"}`, Result{Content: `"by the config" true`}},
		{"test__env", `{"name":"PATH"}`, Result{Content: fmt.Sprintf("%q true", os.Getenv("PATH"))}},
		{"test__env", `{"name":"TINYCHAT_TEST_KEY"}`, Result{Content: `"" false`}},
		{"test__echo", `["not", "an", "object"]`, Result{Content: "the arguments must be a JSON object", IsError: true}},
		{"test__no_such_tool", `{}`, Result{Content: `there is no tool called "test__no_such_tool"`, IsError: true}},
	} {
		if got := call(t, m, tt.name, tt.args); got != tt.want {
			t.Errorf("Call(%s, %s) = %+v, want %+v", tt.name, tt.args, got, tt.want)
		}
	}

	// Arguments the server's schema refuses: the server says why, and the
	// model is told.
	if r := call(t, m, "test__echo", `{"text":3}`); !r.IsError || !strings.Contains(r.Content, "text") {
		t.Errorf("Call(test__echo, {text: 3}) = %+v, want an error about text", r)
	}

	// Output past MaxOutput is cut, at a character boundary, with a note.
	r := call(t, m, "test__big", `{"size":200000}`)
	if len(r.Content) > MaxOutput || !strings.HasSuffix(r.Content, "[cut: the output has 200000 bytes; the first 65536 are shown]") || !json.Valid([]byte(fmt.Sprintf("%q", r.Content))) {
		t.Errorf("Call(test__big) gave %d bytes ending %q, want at most %d with a note", len(r.Content), r.Content[len(r.Content)-80:], MaxOutput)
	}
}

// hangStarted calls the hang tool in a goroutine, with a context of its
// own, and returns once the server runs it: then the channel gives the
// Call's outcome, the connection the server tells about it, and cancel.
func hangStarted(t *testing.T, m *Manager, name string) (<-chan error, *bufio.Reader, context.CancelFunc) {
	t.Helper()
	// Not t.TempDir: a Unix socket's path must be short.
	dir, err := os.MkdirTemp("", "hang")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		args, _ := json.Marshal(map[string]string{"socket": sock})
		_, err := m.Call(ctx, "", name, args)
		done <- err
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); line != "started\n" {
		t.Fatalf("the hang tool said %q, %v; want started", line, err)
	}
	return done, r, cancel
}

func TestMCPCancel(t *testing.T) {
	m, _ := newManager(t, map[string]ServerConfig{"test": testServer(t)})
	pid := call(t, m, "test__pid", `{}`).Content

	done, conn, cancel := hangStarted(t, m, "test__hang")
	cancel()
	// The hanging call ends without waiting for the server.
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled call returned %v, want context.Canceled", err)
	}
	// The server was told: its handler's context was cancelled.
	if line, err := conn.ReadString('\n'); line != "cancelled\n" {
		t.Errorf("the hang tool said %q, %v; want cancelled", line, err)
	}
	// And it was not stopped for it.
	if got := call(t, m, "test__pid", `{}`).Content; got != pid {
		t.Errorf("after the cancel the server is process %s, want the same %s", got, pid)
	}
}

func TestMCPCrash(t *testing.T) {
	m, l := newManager(t, map[string]ServerConfig{"test": testServer(t)})
	pid := call(t, m, "test__pid", `{}`).Content

	// A server that dies during a call: the call fails, naming the server,
	// how it ended and what it said last.
	_, err := m.Call(t.Context(), "", "test__crash", json.RawMessage(`{}`))
	var se *ServerError
	if !errors.As(err, &se) || se.Server != "test" {
		t.Fatalf("Call(test__crash) returned %v, want a *ServerError of test", err)
	}
	for _, want := range []string{"mcp server test", "exit status 3", "mcpserver: crashing as asked"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
	l.waitFor(t, "mcp server stopped")

	// It is started again at its next use.
	pid2 := call(t, m, "test__pid", `{}`).Content
	if pid2 == pid {
		t.Errorf("after the crash the server is process %s, the one that crashed", pid2)
	}

	// A server killed between calls is reported when it dies, and started
	// again at its next use.
	n := 0
	fmt.Sscan(pid2, &n)
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if msg := l.waitFor(t, "mcp server stopped"); !strings.Contains(msg, "signal: killed") {
		t.Errorf("logged %q, want the signal that ended the server", msg)
	}
	if pid3 := call(t, m, "test__pid", `{}`).Content; pid3 == pid2 {
		t.Errorf("after being killed the server is process %s, the one killed", pid3)
	}
}

func TestMCPStartFails(t *testing.T) {
	m, _ := newManager(t, map[string]ServerConfig{
		"exits":   testServer(t, "-exit-at-start"),
		"missing": {Command: filepath.Join(t.TempDir(), "no-such-command"), Env: map[string]string{"SECRET": "hunter2"}},
		"test":    testServer(t),
	})
	tools, problems := m.Tools(t.Context(), "")
	// The servers that cannot start are left out, and reported.
	if len(tools) == 0 || tools[0].Server != "test" {
		t.Errorf("Tools gave %v, want the tools of test alone", tools)
	}
	if len(problems) != 2 {
		t.Fatalf("Tools gave problems %v, want one for each of exits and missing", problems)
	}
	for i, want := range [][]string{
		{"mcp server exits", "could not start", "mcpserver: cannot start: exiting as asked"},
		{"mcp server missing", "could not start", "no-such-command"},
	} {
		for _, w := range want {
			if !strings.Contains(problems[i].Error(), w) {
				t.Errorf("problem %q does not say %q", problems[i], w)
			}
		}
		if strings.Contains(problems[i].Error(), "hunter2") {
			t.Errorf("problem %q shows an env value", problems[i])
		}
	}
	// A call of their tools fails the same way.
	if r := call(t, m, "exits__echo", `{}`); !r.IsError || !strings.Contains(r.Content, "exiting as asked") {
		t.Errorf("Call(exits__echo) = %+v, want the server's failure", r)
	}
}

func TestMCPListChanged(t *testing.T) {
	m, l := newManager(t, map[string]ServerConfig{"test": testServer(t)})
	before, _ := m.Tools(t.Context(), "")
	if r := call(t, m, "test__add_tool", `{"name":"added"}`); r.Content != "added added" {
		t.Fatalf("add_tool gave %+v", r)
	}
	l.waitFor(t, "mcp server's tools changed")
	after, problems := m.Tools(t.Context(), "")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if len(after) != len(before)+1 || !slices.ContainsFunc(after, func(t Tool) bool { return t.Name == "test__added" }) {
		t.Fatalf("after list_changed Tools gave %d tools, want %d with test__added", len(after), len(before)+1)
	}
	if r := call(t, m, "test__added", `{"text":"new"}`); r.Content != "new" {
		t.Errorf("Call(test__added) = %+v, want new", r)
	}
}

func TestMCPClose(t *testing.T) {
	m := NewManager(map[string]ServerConfig{"test": testServer(t)}, nil)
	pid := 0
	r, err := m.Call(t.Context(), "", "test__pid", nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(r.Content, &pid)
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// The process is gone: signal 0 finds none.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("after Close, kill -0 %d gave %v, want ESRCH", pid, err)
	}
	if _, err := m.Call(t.Context(), "", "test__pid", nil); err == nil {
		t.Error("Call after Close did not fail")
	}
}
