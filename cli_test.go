package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

// cli runs commands of the binary in one working directory (a workspace)
// over one store, with the fake provider as openai.
type cli struct {
	t   *testing.T
	dir string
	env map[string]string
	srv *providertest.Server
}

func newCLI(t *testing.T) *cli {
	srv := providertest.NewServer()
	t.Cleanup(srv.Close)
	return &cli{t: t, dir: t.TempDir(), srv: srv, env: map[string]string{
		"TINYCHAT_DB":    filepath.Join(t.TempDir(), "chat.db"),
		"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.BaseURL(),
	}}
}

// run runs the command line args with stdin, in c's directory.
func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := command(c.t, c.env, args...)
	cmd.Dir = c.dir
	return runCmd(cmd, stdin)
}

// ok runs a command that must succeed, and returns its stdout.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("tinychat %q: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

func (c *cli) sessions(args ...string) []session.Session {
	c.t.Helper()
	var list struct{ Sessions []session.Session }
	if err := json.Unmarshal([]byte(c.ok("", append([]string{"sessions", "--json"}, args...)...)), &list); err != nil {
		c.t.Fatal(err)
	}
	return list.Sessions
}

// TestAsk checks the habits of ask, row by row of README's table: piped
// input with and without a message, flags anywhere, the short flags, and
// --session by a prefix of the id.
func TestAsk(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"a pipe and a message", "file contents\n", []string{"ask", "-p", "echo", "summarize this"},
			"File: stdin\n```\nfile contents\n```\n\nsummarize this\n"},
		{"a pipe alone is the message", "hi there\n", []string{"ask", "-p", "echo"}, "hi there\n"},
		{"- reads stdin", "from stdin", []string{"ask", "-p", "echo", "summarize this", "-"},
			"File: stdin\n```\nfrom stdin\n```\n\nsummarize this\n"},
		{"flags after the message", "", []string{"ask", "hello", "--new", "-p", "echo"}, "hello\n"},
		{"-- ends the flags", "", []string{"ask", "-p", "echo", "--", "--new", "-x"}, "--new -x\n"},
		{"-m and -p", "", []string{"ask", "-m", "test-model-large", "-p", "openai", "two words"}, "two words\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.ok(tt.stdin, tt.args...); got != tt.want {
				t.Errorf("stdout %q, want %q", got, tt.want)
			}
		})
	}
	list := c.sessions()
	if len(list) != 2 || list[0].Title != "hello" || list[0].MessageCount != 6 || list[1].Title != "summarize this" {
		t.Fatalf("sessions: %+v; want the one --new started, of three turns, and the first", list)
	}
	if reqs := c.srv.Requests(); len(reqs) != 1 || reqs[0].Model != "test-model-large" {
		t.Errorf("provider requests %+v, want one for test-model-large", reqs)
	}

	// -s, -v and --usage; -n starts a session, --session continues one.
	_, errOut, _ := c.run("", "ask", "-n", "-p", "openai", "-s", "Answer tersely", "-v", "--usage", "why")
	reqs := c.srv.Requests()
	first := reqs[len(reqs)-1].Messages[0]
	if first.Role != "system" || first.Content != "Answer tersely" {
		t.Errorf("first message sent %+v, want the system prompt", first)
	}
	newest := c.sessions()[0]
	for _, want := range []string{"openai/gpt-4.1-mini, session " + newest.ID, "20 input tokens, 1 output tokens"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not say %q", errOut, want)
		}
	}
	// A new session whose first turn fails leaves nothing behind.
	if _, errOut, code := c.run("", "ask", "-n", "-p", "openai", "error 401 bad key"); code != 1 || !strings.Contains(errOut, "openai: 401") {
		t.Errorf("a failed turn: exit %d, %q", code, errOut)
	}
	if got := c.sessions(); len(got) != 3 {
		t.Errorf("sessions after a failed turn with -n: %+v", got)
	}
	oldest := list[1]
	c.ok("", "ask", "--session", oldest.ID[:6], "-p", "echo", "more")
	list = c.sessions()
	if i := slices.IndexFunc(list, func(s session.Session) bool { return s.ID == oldest.ID }); i < 0 || list[i].MessageCount != 8 || !list[i].Current {
		t.Errorf("sessions after --session %s: %+v; want it current, with 8 messages", oldest.ID[:6], list)
	}
}

// TestChat drives chat over a pipe: each line a turn in one session, the
// /commands, and the end at /exit.
func TestChat(t *testing.T) {
	c := newCLI(t)
	out, errOut, code := c.run("one\n\n/session\n/new\ntwo words\n/model openai test-model-large\n/bogus\nthree\n/exit\nnever\n", "chat", "-p", "echo")
	if code != 0 || out != "one\ntwo words\nthree\n" {
		t.Fatalf("chat: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	list := c.sessions()
	if len(list) != 2 || list[0].MessageCount != 4 || list[1].MessageCount != 2 {
		t.Fatalf("sessions %+v; want one of one turn, then the /new one of two", list)
	}
	for _, want := range []string{"session " + list[1].ID, "the next message starts a new session", "unknown command /bogus"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not say %q", errOut, want)
		}
	}
	if reqs := c.srv.Requests(); len(reqs) != 1 || reqs[0].Model != "test-model-large" || len(reqs[0].Messages) != 3 {
		t.Errorf("the turn after /model sent %+v; want test-model-large and the session's history", reqs)
	}
}

// TestSessionCommands drives sessions, export, import, rename and rm, with
// ids given by a prefix.
func TestSessionCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("", "ask", "-p", "echo", "first question")
	c.ok("", "ask", "-n", "-p", "echo", "second question")
	other := t.TempDir()
	c.ok("", "ask", "-w", other, "-p", "echo", "elsewhere")

	// sessions: this workspace's, -n, --all.
	list := c.sessions()
	if len(list) != 2 || list[0].Title != "second question" || !list[0].Current {
		t.Fatalf("sessions: %+v", list)
	}
	if got := c.sessions("-n", "1"); len(got) != 1 || got[0].ID != list[0].ID {
		t.Errorf("sessions -n 1: %+v", got)
	}
	if got := c.sessions("--all"); len(got) != 3 {
		t.Errorf("sessions --all: %+v", got)
	}
	table := c.ok("", "sessions", "--all")
	if !strings.Contains(table, "WORKSPACE") || !strings.Contains(table, other) {
		t.Errorf("sessions --all table:\n%s", table)
	}
	lines := strings.Split(strings.TrimSpace(c.ok("", "sessions")), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "*") || !strings.Contains(lines[1], list[0].ID) {
		t.Errorf("sessions table:\n%s", strings.Join(lines, "\n"))
	}

	// export: the current session, or one by prefix, flags anywhere, -o.
	if got := c.ok("", "export"); got != "You: second question\n\nLLM: second question\n" {
		t.Errorf("export: %q", got)
	}
	first := list[1]
	js := c.ok("", "export", first.ID[:5], "--format", "json")
	file := filepath.Join(t.TempDir(), "chat.md")
	c.ok("", "export", "-o", file, "-f", "markdown", first.ID)
	if b, err := os.ReadFile(file); err != nil || !strings.HasPrefix(string(b), "# first question\n") {
		t.Errorf("export -o: %q, %v", b, err)
	}

	// import: a file, and stdin, into --workspace.
	jsonFile := filepath.Join(t.TempDir(), "chat.json")
	os.WriteFile(jsonFile, []byte(js), 0o600)
	id := strings.TrimSpace(c.ok("", "import", jsonFile))
	id2 := strings.TrimSpace(c.ok(js, "import", "-", "--workspace", other))
	if list := c.sessions(); len(list) != 3 || list[0].ID != id || list[0].MessageCount != 2 {
		t.Errorf("after import: %+v, want %s first", list, id)
	}
	if list := c.sessions("-w", other); len(list) != 2 || list[0].ID != id2 {
		t.Errorf("after import -: %+v, want %s first", list, id2)
	}

	// rename and rm by prefix.
	c.ok("", "rename", id[:6], "Imported", "chat")
	if got := c.sessions()[0]; got.Title != "Imported chat" {
		t.Errorf("after rename: %+v", got)
	}
	out := c.ok("", "rm", id[:6], id2)
	if !strings.Contains(out, "deleted "+id+"  Imported chat") || !strings.Contains(out, "deleted "+id2) {
		t.Errorf("rm: %q", out)
	}
	if got := c.sessions("--all"); len(got) != 3 {
		t.Errorf("after rm: %+v", got)
	}
	// One id that is wrong deletes nothing.
	if _, errOut, code := c.run("", "rm", first.ID, "ffffffffffffffffff"); code != 1 || !strings.Contains(errOut, `no session has the id "ffffffffffffffffff"`) {
		t.Errorf("rm of a missing session: exit %d, %q", code, errOut)
	}
	if got := c.sessions(); len(got) != 2 {
		t.Errorf("a failed rm deleted: %+v", got)
	}
}

// TestSearchCommand searches a store of English, Japanese, emoji and code
// from the command line.
func TestSearchCommand(t *testing.T) {
	c := newCLI(t)
	for _, msg := range []string{"Rust lifetimes are checked", "explain lifetimes Rust style", "東京で goroutine を使う 🚀", "call fmt.Println(x)"} {
		c.ok("", "ask", "-p", "echo", msg)
	}
	other := t.TempDir()
	c.ok("", "ask", "-w", other, "-p", "echo", "a goroutine elsewhere")
	hits := func(args ...string) []session.Hit {
		t.Helper()
		var res struct{ Hits []session.Hit }
		if err := json.Unmarshal([]byte(c.ok("", append([]string{"search", "--json"}, args...)...)), &res); err != nil {
			t.Fatal(err)
		}
		return res.Hits
	}
	for _, tt := range []struct {
		args []string
		want int // hits: each message is stored twice, asked and echoed
		in   string
	}{
		{[]string{`"lifetimes Rust"`}, 2, "explain «lifetimes Rust» style"},
		{[]string{"lifetimes", "Rust"}, 4, "lifetimes"},
		{[]string{"gorout*"}, 2, "«goroutine»"},
		{[]string{"gorout*", "--all"}, 4, "«goroutine»"},
		{[]string{"東京"}, 2, "«東京»で"},
		{[]string{"🚀"}, 2, "«🚀»"},
		{[]string{"fmt.Println"}, 2, "call «fmt.Println»(x)"},
		{[]string{"rust", "NOT", "style"}, 2, "«Rust» lifetimes"},
		{[]string{"-w", other, "goroutine"}, 2, "a «goroutine» elsewhere"},
	} {
		got := hits(tt.args...)
		if len(got) != tt.want || !strings.Contains(got[0].Snippet, tt.in) {
			t.Errorf("search %q: %+v; want %d hits with %q", tt.args, got, tt.want, tt.in)
		}
	}
	out := c.ok("", "search", "東京")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.Contains(lines[0], "user       Rust lifetimes are checked") ||
		lines[1] != "    «東京»で goroutine を使う 🚀" {
		t.Errorf("search output:\n%s", out)
	}
	if _, errOut, code := c.run("", "search", "nothing-here"); code != 0 || !strings.Contains(errOut, "--all searches every workspace") {
		t.Errorf("search with no hits: exit %d, %q", code, errOut)
	}
}

// TestModelsAndConfig lists models of the fake provider and of echo.
func TestModelsAndConfig(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("", "models"); out != "test-model\ntest-model-large\n" {
		t.Errorf("models (the default provider, openai here): %q", out)
	}
	if out := c.ok("", "models", "-p", "echo"); out != "echo\n" {
		t.Errorf("models -p echo: %q", out)
	}
	if out := c.ok("", "config"); !strings.Contains(out, "default provider: openai") || strings.Contains(out, "sk-test") {
		t.Errorf("config:\n%s", out)
	}
}

// TestHelp checks that help reads like llm's and names each command's
// arguments.
func TestHelp(t *testing.T) {
	c := newCLI(t)
	root := c.ok("", "--help")
	if !strings.HasPrefix(root, "Usage: tinychat [COMMAND] [flags] [ARGS]...\n") || !strings.Contains(root, "\nCommands:\n  acp ") || !strings.Contains(root, "\n  ask ") ||
		!strings.Contains(root, "cat main.go | tinychat ask") || strings.Contains(root, "--jsonl") {
		t.Errorf("tinychat --help:\n%s", root)
	}
	if help := c.ok("", "help"); help != root {
		t.Errorf("tinychat help differs from --help:\n%s", help)
	}
	for cmd, usage := range map[string]string{
		"acp":      "docs/acp.md",
		"ask":      "Usage: tinychat ask [flags] [MESSAGE]... [-]",
		"export":   "Usage: tinychat export [flags] [SESSION]",
		"import":   "Usage: tinychat import [flags] FILE|-",
		"rename":   "Usage: tinychat rename SESSION TITLE...",
		"rm":       "Usage: tinychat rm SESSION...",
		"search":   "Usage: tinychat search [flags] QUERY...",
		"serve":    "--jsonl",
		"sessions": "--all",
		"chat":     "/model [P] M",
		"models":   "-p, --provider",
	} {
		if got := c.ok("", "help", cmd); !strings.Contains(got, usage) || got != c.ok("", cmd, "--help") {
			t.Errorf("help %s does not say %q, or differs from %s --help:\n%s", cmd, usage, cmd, got)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if out := c.ok("", args...); out != "tinychat 0.1.0-dev\n" {
			t.Errorf("%v: %q", args, out)
		}
	}
}

// TestUsageErrors checks that a wrong command line says what is wrong once,
// points at the help, and exits 2.
func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ask", "--bogus", "x"}, "tinychat: unknown flag: --bogus\nRun 'tinychat ask --help' for usage.\n"},
		{[]string{"sesions"}, "tinychat: unknown command \"sesions\"; did you mean \"sessions\"?\nRun 'tinychat --help' for usage.\n"},
		{[]string{"ask"}, "tinychat: ask needs a message: tinychat ask MESSAGE, or pipe one to it\nRun 'tinychat ask --help' for usage.\n"},
		{[]string{"ask", "-n", "--session", "abc", "x"}, "tinychat: --session and --new do not go together\nRun 'tinychat ask --help' for usage.\n"},
		{[]string{"export", "--format", "pdf"}, "tinychat: unknown format \"pdf\": want text, markdown, json\nRun 'tinychat export --help' for usage.\n"},
		{[]string{"rename", "abc"}, "tinychat: requires at least 2 arg(s), only received 1\nRun 'tinychat rename --help' for usage.\n"},
		{[]string{"search", "a", "OR"}, "tinychat: bad search query: OR needs a word or phrase on each side\nRun 'tinychat search --help' for usage.\n"},
		{[]string{"sessions", "--all", "-w", "/x"}, "tinychat: --all and --workspace do not go together\nRun 'tinychat sessions --help' for usage.\n"},
		{[]string{"--log-level", "loud", "config"}, "tinychat: bad log level \"loud\": want debug, info, warn or error\nRun 'tinychat config --help' for usage.\n"},
	} {
		out, errOut, code := c.run("", tt.args...)
		if code != 2 || errOut != tt.want || out != "" {
			t.Errorf("tinychat %q: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// TestAskRetries checks that a retry is one short line on stderr.
func TestAskRetries(t *testing.T) {
	c := newCLI(t)
	_, errOut, code := c.run("", "ask", "-p", "openai", "--retries", "1", "error 503 busy")
	if code != 1 || !strings.HasPrefix(errOut, "tinychat: openai: 503") || !strings.Contains(errOut, "; retrying in ") || strings.Contains(errOut, "level=") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
