package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/tinychat/tinychat/chat"
)

// replyOptions say how a reply is shown.
type replyOptions struct {
	reasoning bool // show the model's reasoning
	raw       bool // never render Markdown
}

// replyWriter writes a reply as it streams: the answer to stdout, rendered
// as Markdown when stdout is a terminal, and the reasoning to stderr,
// dimmed on a terminal, so that a pipe of stdout gets the answer alone.
// While nothing has arrived, a spinner turns on stderr if it is a
// terminal.
type replyWriter struct {
	out       *bufio.Writer
	md        *markdown // nil: the answer is written as it is
	reasoning bool
	dim       bool

	// mu orders the writes to stderr: the spinner's, from its own
	// goroutine, and the reasoning's and retries'.
	mu   sync.Mutex
	errw *bufio.Writer
	spin *spinner // nil when stderr is not a terminal

	inReasoning      bool
	lastOut, lastErr byte // the last byte written to each, for the newlines at the end
}

func newReplyWriter(stdout, stderr io.Writer, o replyOptions) *replyWriter {
	r := &replyWriter{out: bufio.NewWriter(stdout), errw: bufio.NewWriter(stderr), reasoning: o.reasoning, dim: isTerminal(stderr)}
	if !o.raw && isTerminal(stdout) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" {
		r.md = newMarkdown(r.out)
	}
	if isTerminal(stderr) {
		r.spin = &spinner{w: r.errw, mu: &r.mu}
	}
	return r
}

// start begins a reply, turning the spinner with label until it arrives.
func (r *replyWriter) start(label string) {
	r.lastOut, r.lastErr = 0, 0
	if r.spin != nil {
		r.spin.start(label)
	}
}

func (r *replyWriter) event(e chat.Event) {
	if e.Kind == chat.RetryEvent {
		return // retrying says so, for every face of the command line
	}
	if r.spin != nil {
		r.spin.stop()
	}
	if e.Kind == chat.ToolCallEvent {
		r.toolCall(e.Call)
		return
	}
	if e.Text == "" {
		return
	}
	if e.Kind == chat.Reasoning {
		if !r.reasoning {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.dim && !r.inReasoning {
			r.errw.WriteString("\x1b[2m")
		}
		r.inReasoning = true
		r.errw.WriteString(e.Text)
		r.lastErr = e.Text[len(e.Text)-1]
		r.errw.Flush()
		return
	}
	r.endReasoning()
	if r.md != nil {
		r.md.write(e.Text)
	} else {
		r.out.WriteString(e.Text)
	}
	r.lastOut = e.Text[len(e.Text)-1]
	r.out.Flush()
}

// endReasoning closes the reasoning, on a line of its own, before the
// answer starts or the reply ends.
func (r *replyWriter) endReasoning() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inReasoning {
		return
	}
	r.inReasoning = false
	if r.dim {
		r.errw.WriteString("\x1b[0m")
	}
	if r.lastErr != '\n' {
		r.errw.WriteString("\n")
	}
	r.errw.Flush()
}

// end ends the reply with a newline, if it has none.
func (r *replyWriter) end() {
	if r.spin != nil {
		r.spin.stop()
	}
	r.endReasoning()
	if r.md != nil {
		r.md.Flush()
	}
	if r.lastOut != 0 && r.lastOut != '\n' {
		r.out.WriteString("\n")
	}
	r.out.Flush()
}

// retrying says on stderr that a provider request is retried; it is the
// registry's OnRetry.
func (r *replyWriter) retrying(provider string, attempt int, wait time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spin != nil {
		r.errw.WriteString(clearLine)
	}
	r.errw.WriteString(retryLine(provider, attempt, wait, err) + "\n")
	r.errw.Flush()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// clearLine returns to the start of the line and clears it.
const clearLine = "\r\x1b[K"

// spinner turns on a terminal while a reply is awaited.
type spinner struct {
	w  *bufio.Writer
	mu *sync.Mutex // held while writing to w

	stopc chan struct{}
	done  chan struct{}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (s *spinner) start(label string) {
	s.stopc, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		tick := time.NewTicker(80 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			s.mu.Lock()
			s.w.WriteString(clearLine + spinnerFrames[i%len(spinnerFrames)] + " " + label)
			s.w.Flush()
			s.mu.Unlock()
			select {
			case <-tick.C:
			case <-s.stopc:
				s.mu.Lock()
				s.w.WriteString(clearLine)
				s.w.Flush()
				s.mu.Unlock()
				return
			}
		}
	}()
}

// stop stops the spinner and clears its line; it may be called again.
func (s *spinner) stop() {
	if s.stopc == nil {
		return
	}
	close(s.stopc)
	<-s.done
	s.stopc = nil
}

// pause makes way for a question on stderr: the spinner stops, the
// reasoning ends its line, and what came of the answer is written out.
func (r *replyWriter) pause() {
	if r.spin != nil {
		r.spin.stop()
	}
	r.endReasoning()
	if r.md != nil {
		r.md.Flush()
	}
	r.out.Flush()
	// On a terminal that shows both, the answer so far may end mid-line.
	if r.dim && r.md != nil && r.lastOut != 0 && r.lastOut != '\n' {
		r.mu.Lock()
		r.errw.WriteByte('\n')
		r.errw.Flush()
		r.mu.Unlock()
		r.lastOut = '\n'
	}
}

// toolCall says on stderr how a tool call ended, on a line of its own.
func (r *replyWriter) toolCall(c *chat.ToolCall) {
	switch c.Status {
	case chat.CallCompleted, chat.CallFailed, chat.CallRejected:
	default:
		return
	}
	r.pause()
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.errw, "tinychat: tool %s %s: %s\n", c.Name, c.Arguments, c.Status)
	r.errw.Flush()
}
