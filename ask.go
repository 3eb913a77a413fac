package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// turnFlags are the flags of the commands that send turns: ask and chat.
type turnFlags struct {
	limitFlags
	provider, model, system string
	fresh                   bool
	sessionID               string
	dir                     string
	raw                     bool
	verbose                 bool
	usage                   bool
	noReasoning             bool
	yes                     bool
}

func (f *turnFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&f.model, "model", "m", "", "the model (default: the session's last, else the provider's default)")
	fs.StringVarP(&f.provider, "provider", "p", "", "the provider (default: the session's last, else the first configured; see 'tinychat config')")
	fs.StringVarP(&f.system, "system", "s", "", "a system prompt")
	fs.BoolVarP(&f.fresh, "new", "n", false, "start a new session")
	fs.StringVar(&f.sessionID, "session", "", "continue this session (an `id`, or the start of one) instead of the workspace's current one")
	fs.StringVar(&f.sessionID, "continue", "", "the same as --session")
	fs.MarkHidden("continue")
	fs.StringVarP(&f.dir, "workspace", "w", "", "the workspace `dir`ectory (default: the working directory)")
	fs.BoolVar(&f.raw, "raw", false, "print the reply as it comes, without rendering its Markdown on a terminal")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "say which provider and model answered, and in which session, on stderr")
	fs.BoolVar(&f.usage, "usage", false, "print the tokens used on stderr")
	fs.BoolVar(&f.noReasoning, "no-reasoning", false, "do not show the model's reasoning (shown dimmed on stderr by default)")
	fs.BoolVarP(&f.yes, "yes", "y", false, "run every tool call the model makes in this run without asking (calls the [tools] policy denies excepted)")
	f.limitFlags.add(fs)
}

func (e *env) askCommand() *cobra.Command {
	var f turnFlags
	cmd := &cobra.Command{
		Use:   "ask [flags] [MESSAGE]... [-]",
		Short: "Ask a question: one turn in the workspace's current session",
		Long: `Ask a question: one turn in the workspace's current session (the one the
editors of this folder see too), or in a new one with -n. The reply streams
to stdout, rendered when stdout is a terminal; the model's reasoning, when
it sends any, goes to stderr.

Text piped to stdin comes with the message as context, ahead of it; with
no message, it is the message. '-' reads stdin even from a terminal.`,
		Example: `tinychat ask "What is a goroutine?"
cat main.go | tinychat ask "explain this"
git diff | tinychat ask -n -s "You review code tersely" "review this"
tinychat ask --session 3f2a "and in Rust?"
tinychat ask -p openai -m gpt-4.1-mini "hello"`,
		RunE: func(cmd *cobra.Command, args []string) error { return e.ask(&f, args) },
	}
	f.add(cmd.Flags())
	return cmd
}

func (e *env) ask(f *turnFlags, args []string) error {
	readStdin := slices.Contains(args, "-")
	args = slices.DeleteFunc(args, func(a string) bool { return a == "-" })
	msg := strings.Join(args, " ")
	var items []session.ContextItem
	if readStdin || isPiped(e.stdin) {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		switch text := strings.TrimRight(string(b), "\n"); {
		case strings.TrimSpace(text) == "":
		case strings.TrimSpace(msg) == "":
			msg = text
		default:
			items = []session.ContextItem{{URI: "stdin", Text: text}}
		}
	}
	if strings.TrimSpace(msg) == "" {
		return usagef("ask needs a message: tinychat ask MESSAGE, or pipe one to it")
	}
	t, err := e.newTurner(f)
	if err != nil {
		return err
	}
	defer t.close()
	ctx, stop := interruptible(context.Background())
	defer stop()
	res, err := t.turn(ctx, msg, items)
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err == nil {
		t.report(res)
	}
	return err
}

// isPiped reports whether r is a pipe or a file, which ask reads: not a
// terminal, nor the /dev/null of a process started without input.
func isPiped(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && (st.Mode()&os.ModeNamedPipe != 0 || st.Mode().IsRegular())
}

// interrupted is a command stopped by a signal: exit status 128 plus its
// number, 130 for Ctrl-C.
type interrupted struct{ sig os.Signal }

func (i *interrupted) Error() string { return "interrupted" }

func (i *interrupted) code() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitInterrupted
}

// interruptible returns a context that Ctrl-C (or SIGTERM) cancels, with
// an *interrupted as its cause.
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			cancel(&interrupted{sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// turner sends turns for ask and chat: the store, the providers, the
// engine that runs turns, and where their replies go.
type turner struct {
	e      *env
	f      *turnFlags
	store  *session.Store
	reg    *providers.Registry
	engine *chat.Engine
	tools  *tools.Manager
	permit chat.Permit // nil: the policy decides alone
	ws     string
	cfg    chat.Settings
	// sessionID is the session of the next turn; "" for the workspace's
	// current one, or a new one when fresh is set.
	sessionID string
	fresh     bool
	out       *replyWriter
}

func (e *env) newTurner(f *turnFlags) (*turner, error) {
	if f.sessionID != "" && f.fresh {
		return nil, usagef("--session and --new do not go together")
	}
	log, _, err := e.logger(slog.LevelWarn, true)
	if err != nil {
		return nil, err
	}
	ws, err := workspace(f.dir)
	if err != nil {
		return nil, err
	}
	t := &turner{e: e, f: f, ws: ws}
	t.out = newReplyWriter(e.stdout, e.stderr, replyOptions{reasoning: !f.noReasoning, raw: f.raw})
	reg, cfg, err := e.registry(log, &f.limitFlags, t.out.retrying)
	if err != nil {
		return nil, err
	}
	t.reg, t.cfg = reg, chat.ConfigSettings(reg, cfg)
	toolbox, policy, err := toolsOf(cfg, log)
	if err != nil {
		return nil, err
	}
	if t.store, err = e.open(); err != nil {
		toolbox.Close()
		return nil, err
	}
	t.tools = toolbox
	t.engine = &chat.Engine{Store: t.store, Providers: reg, Tools: toolbox, Policy: policy,
		MaxReplyBytes: cfg.MaxReplyBytes, Logger: log}
	t.permit = permitOf(f.yes, e.stderr, t.out)
	t.fresh = f.fresh
	if f.sessionID != "" {
		sess, err := resolve(context.Background(), t.store, f.sessionID)
		if err != nil {
			t.close()
			return nil, err
		}
		t.sessionID = sess.ID
	}
	return t, nil
}

// newSession has the next turn start a new session. The engine makes it,
// and keeps it only if the turn leaves a message in it.
func (t *turner) newSession() {
	t.sessionID, t.fresh = "", true
}

// close saves what the engine kept for a store that could not take it,
// if it can now (else it says what is lost), and closes the tools and the
// store.
func (t *turner) close() {
	t.engine.Close()
	t.tools.Close()
	t.store.Close()
}

// turn sends one message and streams its reply. A reply cut short by ctx
// is kept, marked interrupted, as the engine saves it.
func (t *turner) turn(ctx context.Context, msg string, items []session.ContextItem) (*chat.Result, error) {
	turn, err := t.engine.Begin(ctx, chat.Request{Workspace: t.ws, SessionID: t.sessionID, New: t.fresh, Message: msg, Context: items,
		Provider: t.f.provider, Model: t.f.model, System: t.f.system, Settings: t.cfg, Permit: t.permit})
	if err != nil {
		return nil, err
	}
	t.out.start(turn.Provider + "/" + turn.Model)
	res, err := turn.Run(ctx, t.out.event)
	t.out.end()
	var terr *chat.TurnError
	// The session holds the turn now, unless nothing came of it.
	if res != nil || errors.As(err, &terr) && (terr.Partial != "" || terr.Reasoning != "") {
		t.sessionID, t.fresh = turn.SessionID, false
	}
	switch {
	case errors.As(err, &terr) && ctx.Err() != nil:
		if terr.Partial != "" || terr.Reasoning != "" {
			fmt.Fprintf(t.e.stderr, "tinychat: interrupted; the reply so far is kept in session %s\n", terr.SessionID)
		}
	case res != nil:
		if note := stopNotes[res.StopReason]; note != "" {
			fmt.Fprintln(t.e.stderr, "tinychat:", note)
		}
	}
	return res, err
}

// report says on stderr, as the flags ask, who answered and what it cost.
func (t *turner) report(res *chat.Result) {
	if t.f.verbose {
		fmt.Fprintf(t.e.stderr, "tinychat: %s/%s, session %s\n", res.Provider, res.Model, res.SessionID)
	}
	if t.f.usage {
		fmt.Fprintf(t.e.stderr, "tinychat: %d input tokens, %d output tokens\n", res.Usage.InputTokens, res.Usage.OutputTokens)
	}
}

// stopNotes say on stderr why a reply ended, where it was not its end.
var stopNotes = map[string]string{
	chat.StopMaxTokens:     "the reply was cut off at the token limit",
	chat.StopRefusal:       "the model refused to answer",
	chat.StopContentFilter: "the reply was stopped by the provider's content filter",
	chat.StopMaxSize:       "the reply was cut off at max_reply_bytes",
}

// retryLine is a provider retry as a person reads it.
func retryLine(provider string, attempt int, wait time.Duration, err error) string {
	return fmt.Sprintf("tinychat: %v; retrying in %v (retry %d)", err, wait.Round(100*time.Millisecond), attempt)
}
