package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/tinychat/tinychat/chat"
)

// permitOf is how ask and chat decide on a tool call the policy leaves to
// the user: every call allowed with --yes; else asked on the terminal, when
// the process has one; else none, and the call is refused.
func permitOf(yes bool, stderr io.Writer, out *replyWriter) chat.Permit {
	if yes {
		return func(context.Context, chat.ToolCall) (string, error) { return chat.AllowOnce, nil }
	}
	// The controlling terminal, whatever stdin is: a pipe may feed the
	// message while the user answers at the keyboard.
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return nil
	}
	return terminalPermit(tty, stderr, out)
}

// answers maps what the user types to a permission answer.
var answers = map[string]string{
	"y": chat.AllowOnce, "yes": chat.AllowOnce,
	"a": chat.AllowAlways, "always": chat.AllowAlways,
	"n": chat.RejectOnce, "no": chat.RejectOnce, "": chat.RejectOnce,
	"v": chat.RejectAlways, "never": chat.RejectAlways,
}

// terminalPermit asks on in (the terminal) and w (stderr). The wait ends
// with ctx, at Ctrl-C say; the terminal is read by one goroutine, line by
// line, for as long as the process runs.
func terminalPermit(in io.Reader, w io.Writer, out *replyWriter) chat.Permit {
	var once sync.Once
	lines := make(chan string)
	read := func() {
		r := bufio.NewReader(in)
		for {
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				close(lines)
				return
			}
			lines <- line
		}
	}
	return func(ctx context.Context, c chat.ToolCall) (string, error) {
		once.Do(func() { go read() })
		out.pause()
		name := c.Name
		if c.Server != "" {
			name += " (" + c.Server + ")"
		}
		for {
			fmt.Fprintf(w, "tinychat: run %s %s? [y]es, [a]lways here, [n]o, ne[v]er here: ", name, c.Arguments)
			select {
			case <-ctx.Done():
				fmt.Fprintln(w)
				return "", ctx.Err()
			case line, ok := <-lines:
				if !ok {
					// The terminal is gone: no one can answer.
					fmt.Fprintln(w)
					return chat.RejectOnce, nil
				}
				if a, ok := answers[strings.ToLower(strings.TrimSpace(line))]; ok {
					return a, nil
				}
			}
		}
	}
}
