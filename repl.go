package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (e *env) chatCommand() *cobra.Command {
	var f turnFlags
	cmd := &cobra.Command{
		Use:   "chat [flags]",
		Short: "Hold an ongoing chat in the workspace's current session",
		Long: `Hold an ongoing chat: each line you type is sent, in the workspace's
current session (or a new one with -n, or --session), and the reply
streams back. Lines are edited as in a shell, with history (up and down).
Ctrl-C stops a reply, keeping what came; at the prompt it ends the chat
(exit status 130), as Ctrl-D and /exit do (0).

  /new            start a new session
  /model [P] M    use model M (of provider P) from now on
  /session        print the session's id
  /exit           end the chat`,
		Example: `tinychat chat
tinychat chat -n -m claude-sonnet-4-5 -s "Answer in one sentence"`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return e.chat(&f) },
	}
	f.add(cmd.Flags())
	return cmd
}

func (e *env) chat(f *turnFlags) error {
	t, err := e.newTurner(f)
	if err != nil {
		return err
	}
	defer t.close()
	lines := newLineReader(e.stdin, e.stdout)
	if lines.interactive {
		fmt.Fprintln(e.stderr, "Chatting in", t.ws+". /help lists the commands; Ctrl-D ends the chat.")
	}
	for {
		line, err := lines.read()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, errCtrlC) {
			return &interrupted{os.Interrupt}
		}
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "/"):
			if done := e.chatCommandLine(t, line); done {
				return nil
			}
			continue
		}
		ctx, stop := interruptible(context.Background())
		res, err := t.turn(ctx, line, nil)
		stop()
		var sig *interrupted
		switch {
		case res != nil:
			t.report(res)
		case errors.As(context.Cause(ctx), &sig):
			// Stopped with Ctrl-C: the chat goes on.
		case err != nil:
			fmt.Fprintln(e.stderr, "tinychat:", err)
		}
	}
}

// chatCommandLine runs one of the chat's /commands, and reports whether it
// ends the chat.
func (e *env) chatCommandLine(t *turner, line string) bool {
	fields := strings.Fields(line)
	say := func(format string, args ...any) { fmt.Fprintf(e.stderr, format+"\n", args...) }
	switch fields[0] {
	case "/exit", "/quit":
		return true
	case "/new":
		t.newSession()
		say("the next message starts a new session")
	case "/model":
		switch len(fields) {
		case 1:
			say("provider %q, model %q (empty: the session's last, else the default)", t.f.provider, t.f.model)
		case 2:
			t.f.model = fields[1]
		case 3:
			if _, err := t.reg.Get(fields[1]); err != nil {
				say("tinychat: %v", err)
				break
			}
			t.f.provider, t.f.model = fields[1], fields[2]
		default:
			say("usage: /model [PROVIDER] MODEL")
		}
	case "/session":
		switch {
		case t.fresh:
			say("the next message starts a new session")
		case t.sessionID == "":
			say("the next message continues the workspace's current session, or starts one")
		default:
			say("session %s", t.sessionID)
		}
	case "/help":
		say("/new            start a new session\n/model [P] M    use model M (of provider P) from now on\n/session        print the session's id\n/exit           end the chat (or Ctrl-D)")
	default:
		say("unknown command %s; /help lists them", fields[0])
	}
	return false
}

// lineReader reads the lines of a chat: from a terminal with line editing
// and history, else line by line as they come.
type lineReader struct {
	interactive bool
	fd          int
	term        *term.Terminal
	keys        *ctrlCReader
	scan        *bufio.Scanner
}

// errCtrlC is Ctrl-C typed at the prompt, which ends the chat as Ctrl-C
// ends any command.
var errCtrlC = errors.New("ctrl-c")

// ctrlCReader notes a Ctrl-C among the keys typed: the line editor
// returns io.EOF for it as for Ctrl-D.
type ctrlCReader struct {
	r   io.Reader
	saw bool
}

func (c *ctrlCReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if bytes.IndexByte(p[:n], 3) >= 0 {
		c.saw = true
	}
	return n, err
}

func newLineReader(in io.Reader, out io.Writer) *lineReader {
	fin, ok := in.(*os.File)
	if ok && isTerminal(in) && isTerminal(out) {
		keys := &ctrlCReader{r: in}
		rw := struct {
			io.Reader
			io.Writer
		}{keys, out}
		return &lineReader{interactive: true, fd: int(fin.Fd()), term: term.NewTerminal(rw, "> "), keys: keys}
	}
	scan := bufio.NewScanner(in)
	scan.Buffer(nil, 1<<24)
	return &lineReader{scan: scan}
}

// read returns the next line, io.EOF at the end of the input (Ctrl-D on
// an empty line), or errCtrlC. The terminal is raw only while a line is
// typed: replies print as usual, and Ctrl-C during one is a signal.
func (r *lineReader) read() (string, error) {
	if r.term == nil {
		if r.scan.Scan() {
			return r.scan.Text(), nil
		}
		if err := r.scan.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	state, err := term.MakeRaw(r.fd)
	if err != nil {
		return "", err
	}
	defer term.Restore(r.fd, state)
	// A terminal that does not know its size says 0 by 0.
	if w, h, err := term.GetSize(r.fd); err == nil && w > 0 && h > 0 {
		r.term.SetSize(w, h)
	}
	// A Ctrl-C read with the keys before it may be handled by a later
	// ReadLine, which keeps what it read past the end of a line.
	line, err := r.term.ReadLine()
	if err == io.EOF && r.keys.saw {
		err = errCtrlC
	}
	return line, err
}
