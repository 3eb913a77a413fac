package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/creack/pty"

	"github.com/tinychat/tinychat/session"
)

// screen is the terminal side of a pseudo-terminal: what the program
// wrote to it, read as it comes.
type screen struct {
	t    *testing.T
	ptmx *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	more *sync.Cond
	done bool
}

func newScreen(t *testing.T, ptmx *os.File) *screen {
	s := &screen{t: t, ptmx: ptmx}
	s.more = sync.NewCond(&s.mu)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.done = err != nil
			s.more.Broadcast()
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

// waitFor waits until the screen has shown want n times in all, and
// fails if the program's side closes first.
func (s *screen) waitFor(want string, n int) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for strings.Count(s.buf.String(), want) < n {
		if s.done {
			s.t.Fatalf("the terminal closed before showing %q %d times; it showed %q", want, n, s.buf.String())
		}
		s.more.Wait()
	}
}

// text waits until the program's side of the terminal is closed, and
// returns what it showed.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.done {
		s.more.Wait()
	}
	return s.buf.String()
}

func (s *screen) typ(text string) {
	s.t.Helper()
	if _, err := io.WriteString(s.ptmx, text); err != nil {
		s.t.Fatal(err)
	}
}

// inTerminal starts the binary with each stream for which tty is true on
// a pseudo-terminal (its controlling terminal, when stdin is one), the
// others on pipes into stdout and stderr.
func (c *cli) inTerminal(stdin, stdout, stderr bool, args ...string) (*exec.Cmd, *screen, *bytes.Buffer) {
	c.t.Helper()
	cmd := command(c.t, c.env, args...)
	cmd.Dir = c.dir
	ptmx, tty, err := pty.Open()
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { ptmx.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		c.t.Fatal(err)
	}
	var piped bytes.Buffer
	cmd.Stdout, cmd.Stderr = &piped, &piped
	if stdin {
		cmd.Stdin = tty
		// A session of its own, with the terminal (its stdin) as its
		// controlling terminal, where Ctrl-C is SIGINT.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	if stdout {
		cmd.Stdout = tty
	}
	if stderr {
		cmd.Stderr = tty
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	// The program holds the terminal now: closing ours lets the screen
	// end when it exits.
	tty.Close()
	return cmd, newScreen(c.t, ptmx), &piped
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSpinner checks that ask turns a spinner on a terminal's stderr while
// it waits, labelled with the provider and model, and clears it, while
// stdout (a pipe) gets the reply alone.
func TestSpinner(t *testing.T) {
	c := newCLI(t)
	cmd, scr, out := c.inTerminal(false, false, true, "ask", "-p", "echo", "spin", "please")
	err := cmd.Wait()
	shown := scr.text()
	if code := exitCode(err); code != 0 || out.String() != "spin please\n" {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
	if !strings.Contains(shown, "\r\x1b[K⠋ echo/echo") || !strings.HasSuffix(shown, "\r\x1b[K") {
		t.Errorf("stderr %q: want a spinner labelled echo/echo, cleared at the end", shown)
	}
	// Without a terminal, no spinner.
	if _, errOut, _ := c.run("", "ask", "-p", "echo", "quiet"); errOut != "" {
		t.Errorf("stderr on a pipe: %q", errOut)
	}
}

// TestMarkdownOnATerminal checks that a reply's Markdown is rendered when
// stdout is a terminal, and left as it is with --raw.
func TestMarkdownOnATerminal(t *testing.T) {
	c := newCLI(t)
	msg := "# Title\n\nSome **bold** and `code`:\n\n- one\n\n```go\nx := 1 ** 2\n```\n"
	cmd, scr, _ := c.inTerminal(false, true, false, "ask", "-p", "echo", msg)
	cmd.Wait()
	shown := strings.ReplaceAll(scr.text(), "\r\n", "\n")
	for _, want := range []string{
		sgrHeading + "# Title" + sgrReset + "\n",
		"Some " + sgrBold + "bold" + sgrBoldOff + " and " + sgrCode + "code" + sgrCodeOff + ":",
		"• one",
		sgrDim + "```go" + sgrReset + "\n" + sgrCode + "x := 1 ** 2" + sgrReset + "\n" + sgrDim + "```" + sgrReset,
	} {
		if !strings.Contains(shown, want) {
			t.Errorf("the terminal shows %q; want %q in it", shown, want)
		}
	}
	cmd, scr, _ = c.inTerminal(false, true, false, "ask", "--raw", "-p", "echo", msg)
	cmd.Wait()
	if shown := strings.ReplaceAll(scr.text(), "\r\n", "\n"); shown != msg {
		t.Errorf("--raw shows %q, want %q", shown, msg)
	}
}

// TestCtrlC interrupts a reply with Ctrl-C typed on the terminal: ask
// exits 130, and the reply so far is kept, marked interrupted.
func TestCtrlC(t *testing.T) {
	c := newCLI(t)
	c.env["TINYCHAT_ECHO_DELAY"] = "20ms"
	words := strings.Repeat("word ", 500)
	cmd, scr, _ := c.inTerminal(true, true, true, "ask", "--raw", "-p", "echo", "first", words)
	scr.waitFor("first word word", 1)
	scr.typ("\x03")
	err := cmd.Wait()
	shown := scr.text()
	if code := exitCode(err); code != 130 || !strings.Contains(shown, "tinychat: interrupted; the reply so far is kept in session") {
		t.Fatalf("exit %d, terminal %q; want 130 and a note", code, shown)
	}
	var export struct{ Messages []session.Message }
	if err := json.Unmarshal([]byte(c.ok("", "export", "--format", "json")), &export); err != nil {
		t.Fatal(err)
	}
	if len(export.Messages) != 2 {
		t.Fatalf("messages %+v", export.Messages)
	}
	reply := export.Messages[1]
	if !reply.Interrupted || reply.StopReason != "cancelled" || !strings.HasPrefix(reply.Content, "first word") || len(reply.Content) >= len(words) {
		t.Errorf("the reply kept: %+v", reply)
	}
}

// TestChatInATerminal types into chat on a terminal: a line, the same line
// again from the history (up arrow), and Ctrl-D to end.
func TestChatInATerminal(t *testing.T) {
	c := newCLI(t)
	cmd, scr, _ := c.inTerminal(true, true, true, "chat", "-p", "echo")
	scr.waitFor("> ", 1)
	scr.typ("hello there\r")
	scr.waitFor("> ", 2)
	scr.typ("\x1b[A\r")
	scr.waitFor("> ", 3)
	scr.typ("\x04")
	if code := exitCode(cmd.Wait()); code != 0 {
		t.Fatalf("exit %d, terminal %q", code, scr.text())
	}
	if got := c.ok("", "export"); got != "You: hello there\n\nLLM: hello there\n\nYou: hello there\n\nLLM: hello there\n" {
		t.Errorf("export after the chat: %q", got)
	}
}

// TestChatCtrlC types Ctrl-C in chat: during a reply it stops the reply,
// which is kept, and the chat goes on; at the prompt it ends the chat with
// status 130.
func TestChatCtrlC(t *testing.T) {
	c := newCLI(t)
	c.env["TINYCHAT_ECHO_DELAY"] = "20ms"
	cmd, scr, _ := c.inTerminal(true, true, true, "chat", "--raw", "-p", "echo")
	scr.waitFor("> ", 1)
	scr.typ("first " + strings.Repeat("word ", 500) + "\r")
	// The line as typed, then the reply.
	scr.waitFor("first word word", 2)
	scr.typ("\x03")
	scr.waitFor("> ", 2)
	scr.typ("\x03")
	if code := exitCode(cmd.Wait()); code != 130 {
		t.Fatalf("exit %d, terminal %q; want 130", code, scr.text())
	}
	var export struct{ Messages []session.Message }
	if err := json.Unmarshal([]byte(c.ok("", "export", "--format", "json")), &export); err != nil {
		t.Fatal(err)
	}
	if len(export.Messages) != 2 || !export.Messages[1].Interrupted || !strings.HasPrefix(export.Messages[1].Content, "first word") {
		t.Errorf("messages after Ctrl-C: %+v", export.Messages)
	}
}

// TestAskTools runs ask on a reply that reads a workspace file: on a pipe,
// with no one to ask, the call is refused; with --yes it runs; on a
// terminal the user is asked, and "a" (always) is remembered, so that the
// next run does not ask.
func TestAskTools(t *testing.T) {
	c := newCLI(t)
	if err := os.WriteFile(filepath.Join(c.dir, "a.txt"), []byte("the file's text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	msg := `tool {"path": "a.txt"}`
	out, errOut, code := c.run("", "ask", "-n", "-p", "openai", msg)
	if code != 0 || !strings.Contains(out, "declined") || !strings.Contains(errOut, "tinychat: tool read_file {\"path\": \"a.txt\"}: rejected") {
		t.Errorf("without a terminal: exit %d, stdout %q, stderr %q; want the call refused", code, out, errOut)
	}
	out, errOut, code = c.run("", "ask", "-n", "-y", "-p", "openai", msg)
	if code != 0 || !strings.Contains(out, "the file's text") || !strings.Contains(errOut, ": completed") {
		t.Errorf("--yes: exit %d, stdout %q, stderr %q; want the file read", code, out, errOut)
	}

	cmd, scr, piped := c.inTerminal(true, false, true, "ask", "-n", "-p", "openai", msg)
	scr.waitFor("[y]es, [a]lways here, [n]o, ne[v]er here: ", 1)
	scr.typ("a\r")
	if code := exitCode(cmd.Wait()); code != 0 || !strings.Contains(piped.String(), "the file's text") {
		t.Fatalf("on a terminal: exit %d, stdout %q, terminal %q", code, piped.String(), scr.text())
	}
	// Always, for this workspace: no question, even on a pipe.
	if out, errOut, code := c.run("", "ask", "-n", "-p", "openai", msg); code != 0 || !strings.Contains(out, "the file's text") {
		t.Errorf("after always: exit %d, stdout %q, stderr %q; want the call run without asking", code, out, errOut)
	}
}
