// Package chat runs turns: it chooses a turn's provider and model, builds
// the provider's request from the session's history, streams the reply as
// typed events (answer text, reasoning, tool calls) to whichever face asked
// (the JSON-RPC daemon, the command line), runs the tools the model calls
// with the user's permission until it answers, and keeps the store up to
// date while the reply streams and when it ends.
package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"

	"github.com/tinychat/tinychat/internal/textcut"
)

// Stop reasons of a turn, as on the wire: those a provider reports, and
// those of a turn that did not end well, which come with an error.
const (
	StopEnd           = providers.StopEnd
	StopMaxTokens     = providers.StopMaxTokens
	StopRefusal       = providers.StopRefusal
	StopContentFilter = providers.StopContentFilter
	// StopMaxSize is a reply stopped at the Engine's MaxReplyBytes.
	StopMaxSize   = "max_size"
	StopCancelled = "cancelled"
	StopError     = "error"
)

// DefaultMaxReplyBytes is how long a reply may grow, its answer and its
// reasoning together, when the Engine does not say: a model that never
// stops (a loop, a broken server) would otherwise grow the daemon's
// memory, the store and the answer to the editor without end.
const DefaultMaxReplyBytes = 4 << 20

// errMaxSize is the cause with which a turn stops its provider's stream
// once the reply reached its size limit.
var errMaxSize = errors.New("the reply reached its size limit")

// EventKind says what an Event carries.
type EventKind uint8

// The kinds of Event.
const (
	// Text is answer text, a refusal's included: joined, the events of
	// this kind are the reply.
	Text EventKind = iota
	// Reasoning is the model's thinking, apart from the answer.
	Reasoning
	// ToolCallEvent is a tool call that the model made, or that changed
	// status: Call says which.
	ToolCallEvent
	// RetryEvent is a provider request that failed before any of its
	// reply came and is about to be made again: Retry says which attempt.
	RetryEvent
)

// Event is one piece of a turn's reply, as it streams, or news of it.
type Event struct {
	Kind  EventKind
	Text  string
	Call  *ToolCall // of a ToolCallEvent
	Retry *Retry    // of a RetryEvent
}

// Retry is a provider request that failed and will be made again.
type Retry struct {
	Provider string
	Attempt  int           // the attempt that failed, from 1
	Wait     time.Duration // before the next attempt
	Err      error         // why the attempt failed
}

// Request describes one user turn.
type Request struct {
	Workspace string // normalised; used when SessionID is empty
	SessionID string // empty: the workspace's current session, or a new one
	// New starts a new session in Workspace (SessionID empty), which
	// becomes its current one once the turn has a message to keep.
	New     bool
	Message string
	Context []session.ContextItem

	// Provider and Model override the session's last provider and model.
	Provider string
	Model    string
	// Temperature, MaxTokens and System override Settings.
	Temperature *float64
	MaxTokens   int
	System      string

	Settings Settings
	// Permit asks the user before a tool runs; nil when no one can be
	// asked, and the policy decides alone.
	Permit Permit
	// Tools, when set, are the turn's tools instead of the Engine's: an
	// ACP session's, which has MCP servers of its own.
	Tools Toolbox
	// Flush, if set, is called after events as providers.Request.Flush
	// says: when the provider's stream has given every event it read,
	// with waiting true if its next read will likely wait, false if more
	// is already there or the stream has ended.
	Flush func(waiting bool)
}

// Result is a turn that ended well.
type Result struct {
	SessionID string
	MessageID string
	Provider  string
	Model     string
	Text      string
	Reasoning string
	// StopReason is StopEnd, StopMaxTokens, StopRefusal,
	// StopContentFilter, StopMaxToolSteps or StopMaxSize.
	StopReason string
	Usage      providers.Usage // of every step of the turn
	ToolCalls  []session.ToolCall
}

// BusyError reports a session that is already streaming a reply.
type BusyError struct{ SessionID string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("session %s is already streaming a reply", e.SessionID)
}

// TurnError is a turn that failed or was cancelled, or whose reply the
// store could not take. Partial and Reasoning are what had arrived of the
// reply (and was saved as interrupted, or is kept until the store takes
// it); when both are empty the user message was not added to the history.
type TurnError struct {
	SessionID   string
	MessageID   string
	UserMessage string
	Partial     string
	Reasoning   string
	// StopReason is how the reply ended: StopError or StopCancelled, or
	// for a reply the store could not take, its own (StopEnd…).
	StopReason string
	Err        error
}

func (e *TurnError) Error() string { return e.Err.Error() }
func (e *TurnError) Unwrap() error { return e.Err }

// Engine runs turns over a store and the providers of a registry.
type Engine struct {
	Store     *session.Store
	Providers *providers.Registry
	// Checkpoint is how often a reply in progress is saved; 0 means a second.
	Checkpoint time.Duration
	// Tools, when set, are offered to the model under Policy.
	Tools  Toolbox
	Policy tools.Policy
	// MaxToolSteps bounds the steps of a turn: the model's first reply,
	// and one more after each round of tool calls; 0 means
	// DefaultMaxToolSteps.
	MaxToolSteps int
	Logger       *slog.Logger // nil: discard
	// MaxReplyBytes bounds each reply, its answer and reasoning together;
	// 0 means DefaultMaxReplyBytes. A reply that reaches it stops there,
	// with StopMaxSize.
	MaxReplyBytes int

	mu   sync.Mutex
	busy map[string]bool

	ck checkpointer
	// beforeCheckpoint, when a test sets it, runs between a tick's copy of
	// the replies and their write, to widen the window in which a turn may
	// end.
	beforeCheckpoint func()
}

// Turn is a resolved turn, ready to run: the session, message id, provider
// and model are known, and the session is held until Run returns.
type Turn struct {
	SessionID string
	MessageID string // of the reply
	Provider  string
	Model     string

	engine    *Engine
	workspace string
	prov      providers.Provider
	req       providers.Request
	box       Toolbox               // where the tools come from
	tools     map[string]tools.Tool // offered, by name
	permit    Permit
	user      session.Message
	progress  progress
	// checkpoint is the checkpoint being written that holds the reply,
	// closed once written; Engine.ck.mu guards it.
	checkpoint chan struct{}
	created    bool // the session was made for this turn
	asked      bool // the user message is in the store
	keep       bool // the turn's messages stay in the history: a reply, or part of one, came
	released   bool
}

// Begin resolves the session, provider and model of a turn and reserves the
// session. Its errors come before anything streams: session.ErrNotFound,
// *BusyError, *providers.NotConfiguredError, providers.ErrUnknownProvider.
// Every Turn that Begin returns must be Run or Released.
func (e *Engine) Begin(ctx context.Context, r Request) (*Turn, error) {
	// The lookups run on a goroutine that ends with them. SQLite's calls
	// grow a goroutine's stack deep, and the caller's goes on to stream
	// for minutes with a stack it no longer needs: 500 streams at once
	// kept 3 MB more of stacks when Begin ran on their own goroutines.
	var (
		t    *Turn
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		t, err = e.begin(ctx, r)
	}()
	<-done
	return t, err
}

func (e *Engine) begin(ctx context.Context, r Request) (*Turn, error) {
	// The lookups are short and must not fail for a cancel that came early:
	// that cancel is Run's to answer, with the turn's ids.
	ctx = context.WithoutCancel(ctx)
	// Replies kept while the store could not take them go first: a turn
	// saved before them would come before them in their sessions, and a
	// store that cannot take them cannot take the turn either.
	if err := e.flush(ctx); err != nil {
		return nil, &TurnError{SessionID: r.SessionID, UserMessage: r.Message, Err: err}
	}
	t := &Turn{engine: e}
	var sess *session.Session
	var err error
	switch {
	case r.SessionID != "":
		sess, err = e.Store.Session(ctx, r.SessionID)
	case r.New:
		sess, err = e.Store.New(ctx, r.Workspace, "")
		t.created = true
	default:
		sess, err = e.Store.Current(ctx, r.Workspace)
		if errors.Is(err, session.ErrNotFound) {
			sess, err = e.Store.New(ctx, r.Workspace, "")
			t.created = true
		}
	}
	if err != nil {
		return nil, err
	}
	t.SessionID, t.workspace, t.permit, t.box = sess.ID, sess.Workspace, r.Permit, e.Tools
	if r.Tools != nil {
		t.box = r.Tools
	}

	history, err := e.Store.Messages(ctx, sess.ID)
	if err != nil {
		return nil, err
	}
	t.Provider, t.Model = pick(r, history, e.Providers.Default())
	if t.prov, err = e.Providers.Get(t.Provider); err != nil {
		t.discard()
		return nil, err
	}
	if t.Model == "" {
		t.Model = t.prov.DefaultModel()
	}
	if !e.reserve(sess.ID) {
		t.discard()
		return nil, &BusyError{SessionID: sess.ID}
	}

	t.MessageID = session.NewID()
	// CreatedAt as the store keeps it, so that saving the message, as the
	// checkpoints do from their own goroutine, never changes it.
	t.user = session.Message{ID: session.NewID(), Role: session.RoleUser, Content: r.Message, Context: r.Context,
		CreatedAt: time.UnixMilli(time.Now().UnixMilli()).UTC()}
	// The user's message is saved before the provider is asked: a daemon
	// killed before the reply's first checkpoint would otherwise lose it,
	// and leave the session it made for the turn empty and untitled.
	saves := []session.Save{{SessionID: t.SessionID, Messages: []*session.Message{&t.user}}}
	if err = e.Store.SaveAll(ctx, saves); err == nil {
		err = saves[0].Err
	}
	if err != nil {
		t.Release()
		var we *session.WriteError
		if errors.As(err, &we) {
			return nil, &TurnError{SessionID: t.SessionID, UserMessage: r.Message, Err: err}
		}
		return nil, err
	}
	t.asked = true
	t.req = providers.Request{
		Model:       t.Model,
		System:      cmp.Or(r.System, r.Settings.System),
		Temperature: r.Temperature,
		MaxTokens:   r.MaxTokens,
		Messages:    make([]providers.Message, 0, len(history)+1),
		Flush:       r.Flush,
	}
	if t.req.Temperature == nil {
		t.req.Temperature = r.Settings.Temperature
	}
	if t.req.MaxTokens == 0 {
		t.req.MaxTokens = r.Settings.MaxTokens
	}
	for _, m := range append(history, t.user) {
		t.req.Messages = append(t.req.Messages, t.history(m)...)
	}
	t.offer(ctx)
	return t, nil
}

// history is a stored message as the provider is given it. A reply that
// called tools is, as it was made, its text up to each round of calls,
// the calls, their results, and the text after.
func (t *Turn) history(m session.Message) []providers.Message {
	pm := providers.Message{Role: m.Role, Content: session.Prompt(m)}
	// A reply's opaque data is its provider's and model's: signatures
	// that another would reject, or misread.
	if m.ReasoningData != "" && m.Provider == t.Provider && sameModel(m.Model, t.Model) {
		pm.Opaque = []byte(m.ReasoningData)
	}
	if len(m.ToolCalls) == 0 {
		return []providers.Message{pm}
	}
	var out []providers.Message
	at := 0
	for i := 0; i < len(m.ToolCalls); {
		// The calls made at one place in the text were one round.
		off := min(max(m.ToolCalls[i].TextOffset, at), len(m.Content))
		step := providers.Message{Role: session.RoleAssistant, Content: m.Content[at:off]}
		results := providers.Message{Role: providers.RoleTool}
		for ; i < len(m.ToolCalls) && min(max(m.ToolCalls[i].TextOffset, at), len(m.Content)) == off; i++ {
			c := m.ToolCalls[i]
			step.ToolCalls = append(step.ToolCalls, providers.ToolCall{ID: c.ID, Name: c.Name, Arguments: c.Arguments})
			results.Results = append(results.Results, providers.ToolResult{CallID: c.ID, Name: c.Name,
				Content: cmp.Or(c.Output, notRun), IsError: c.Status != CallCompleted})
		}
		out = append(out, step, results)
		at = off
	}
	// The opaque data is the last round's: it goes with the text after,
	// if the reply went on after its calls.
	if at == len(m.Content) {
		return out
	}
	return append(out, providers.Message{Role: session.RoleAssistant, Content: m.Content[at:], Opaque: pm.Opaque})
}

// sameModel reports whether a reply stored as written by model stored (the
// name the provider gave in its stream) came from the model asked for:
// that name, or that alias of a dated one ("claude-sonnet-4-5" for
// "claude-sonnet-4-5-20250929", "gpt-4.1-mini" for
// "gpt-4.1-mini-2025-04-14"), but not another model that shares its start
// ("claude-sonnet-4" is not "claude-sonnet-4-5-...").
func sameModel(stored, asked string) bool {
	date, ok := strings.CutPrefix(stored, asked+"-")
	return stored == asked || ok && isDate(date)
}

// isDate reports whether s is a date as model names hold one: 20250929 or
// 2025-04-14.
func isDate(s string) bool {
	digits := strings.ReplaceAll(s, "-", "")
	if len(digits) != 8 || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	return s == digits || len(s) == 10 && s[4] == '-' && s[7] == '-'
}

// Run streams the reply, calling onEvent with each piece of answer text,
// reasoning and tool call in order. While the model calls tools, Run runs
// each call it may (see Request.Permit), gives the results back and
// streams the model's next step, up to MaxToolSteps rounds. The reply in
// progress is saved at every checkpoint; when the turn ends the user
// message and the reply are saved for good. On failure or cancel Run
// returns a *TurnError wrapping the cause (context.Canceled for a cancel,
// *providers.Error for a provider failure).
func (t *Turn) Run(ctx context.Context, onEvent func(Event)) (*Result, error) {
	defer t.Release()

	t.progress.reply = session.Message{ID: t.MessageID, Role: session.RoleAssistant, Provider: t.Provider, Model: t.Model, Interrupted: true}
	t.engine.track(t)
	res, usage, err := t.steps(ctx, onEvent)
	t.engine.untrack(t)

	// Saving uses a context that survives cancel: a cancelled or
	// shutting-down turn must still reach the store.
	store := context.WithoutCancel(ctx)
	reply := &t.progress.reply
	reply.Content, reply.Reasoning = t.progress.text.String(), t.progress.reasoning.String()
	reply.ToolCalls = t.progress.calls
	if err != nil {
		reply.StopReason = StopError
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			reply.StopReason = StopCancelled
			err = fmt.Errorf("%w: %w", cmp.Or(context.Cause(ctx), context.Canceled), err)
		}
		terr := &TurnError{SessionID: t.SessionID, MessageID: t.MessageID, UserMessage: t.user.Content,
			Partial: reply.Content, Reasoning: reply.Reasoning, StopReason: reply.StopReason, Err: err}
		if reply.Content == "" && reply.Reasoning == "" && len(reply.ToolCalls) == 0 {
			// Nothing came: Release takes the user message back.
			return nil, terr
		}
		t.keep = true
		if serr := t.save(store, reply); serr != nil {
			terr.Err = fmt.Errorf("%w; and %w", err, serr)
		}
		return nil, terr
	}
	t.keep = true
	reply.Interrupted = false
	reply.StopReason = res.StopReason
	reply.Usage = (*session.Usage)(&usage)
	reply.Model = cmp.Or(res.Model, reply.Model)
	reply.ReasoningData = string(res.Opaque)
	out := &Result{SessionID: t.SessionID, MessageID: t.MessageID, Provider: t.Provider, Model: t.Model,
		Text: reply.Content, Reasoning: reply.Reasoning, StopReason: res.StopReason, Usage: usage, ToolCalls: reply.ToolCalls}
	if err := t.save(store, reply); err != nil {
		var we *session.WriteError
		if !errors.As(err, &we) {
			return out, err
		}
		return nil, &TurnError{SessionID: t.SessionID, MessageID: t.MessageID, UserMessage: t.user.Content,
			Partial: reply.Content, Reasoning: reply.Reasoning, StopReason: reply.StopReason, Err: err}
	}
	return out, nil
}

// steps streams the model's steps: one, and one more after each round of
// tool calls. It returns the last step's result, with a stop reason a
// turn can end with, and the usage of them all.
func (t *Turn) steps(ctx context.Context, onEvent func(Event)) (*providers.Result, providers.Usage, error) {
	var usage providers.Usage
	maxSteps := cmp.Or(t.engine.MaxToolSteps, DefaultMaxToolSteps)
	limit := cmp.Or(t.engine.MaxReplyBytes, DefaultMaxReplyBytes)
	size := 0 // of the reply so far, over all its steps
	t.req.OnRetry = func(attempt int, wait time.Duration, err error) {
		onEvent(Event{Kind: RetryEvent, Retry: &Retry{Provider: t.Provider, Attempt: attempt, Wait: wait, Err: err}})
	}
	for step := 0; ; step++ {
		start := t.progress.textLen()
		sctx, stop := context.WithCancelCause(ctx)
		full := false
		res, err := t.prov.Stream(sctx, &t.req, func(pe providers.Event) {
			var e Event
			switch {
			case full:
				return
			case pe.Kind == providers.EventText, pe.Kind == providers.EventRefusal:
				// A refusal is the reply: what the model says instead.
				e = Event{Kind: Text, Text: pe.Text}
			case pe.Kind == providers.EventReasoning:
				e = Event{Kind: Reasoning, Text: pe.Text}
			default:
				// Tool-call fragments are whole in the result.
				return
			}
			if size+len(e.Text) > limit {
				// The reply is as long as it may be: this piece is cut to
				// fit, between characters, and the stream stopped.
				e.Text = textcut.Prefix(e.Text, limit-size)
				full = true
				stop(errMaxSize)
				if e.Text == "" {
					return
				}
			}
			size += len(e.Text)
			t.progress.add(e)
			onEvent(e)
		})
		stop(nil)
		if full {
			// The stream ended because the turn stopped it: that is the
			// reply's end, whatever the provider made of it.
			if err != nil {
				res, err = &providers.Result{}, nil
			}
			usage.InputTokens += res.Usage.InputTokens
			usage.OutputTokens += res.Usage.OutputTokens
			res.StopReason = StopMaxSize
			return res, usage, nil
		}
		if err != nil {
			return nil, usage, err
		}
		usage.InputTokens += res.Usage.InputTokens
		usage.OutputTokens += res.Usage.OutputTokens
		if res.StopReason != providers.StopToolCalls {
			return res, usage, nil
		}
		if len(t.tools) == 0 {
			return nil, usage, unofferedTools(t.Provider, res.ToolCalls)
		}
		if step+1 >= maxSteps {
			res.StopReason = StopMaxToolSteps
			return res, usage, nil
		}
		results, err := t.runCalls(ctx, res.ToolCalls, onEvent)
		if err != nil {
			return nil, usage, err
		}
		t.req.Messages = append(t.req.Messages,
			providers.Message{Role: session.RoleAssistant, Content: t.progress.textSince(start), ToolCalls: res.ToolCalls, Opaque: res.Opaque},
			providers.Message{Role: providers.RoleTool, Results: results})
	}
}

// unofferedTools is the error for a reply that stopped to have tools run
// when none was offered: a model may still try (some servers add tools of
// their own), and the reply must not pass for an empty answer.
func unofferedTools(provider string, calls []providers.ToolCall) error {
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.Name
	}
	return &providers.Error{Provider: provider, Type: "unexpected_tool_call",
		Message: fmt.Sprintf("the model asked to call %s, but no tools were offered", strings.Join(names, ", "))}
}

// save stores the reply for good and makes the session current, in one
// transaction; the user message was saved when the turn began. A reply the
// store cannot take (a *session.WriteError) is kept, to be saved at the
// next checkpoint or turn that finds room: the editor has shown it.
func (t *Turn) save(ctx context.Context, reply *session.Message) error {
	sv := session.Save{SessionID: t.SessionID, Messages: []*session.Message{reply}}
	saves := []session.Save{sv}
	err := t.engine.Store.SaveAll(ctx, saves)
	if err == nil {
		err = saves[0].Err
	}
	var we *session.WriteError
	if errors.As(err, &we) {
		t.engine.keep(sv)
		err = fmt.Errorf("%w; tinychat keeps the reply and saves it once the store takes it again", err)
	}
	return err
}

// discard takes the turn out of the store: a turn that got no reply, not
// even part of one, leaves no trace. Its user message is removed, and so
// is a session made for it.
func (t *Turn) discard() {
	ctx := context.Background()
	switch {
	case t.created:
		_ = t.engine.Store.Delete(ctx, t.SessionID)
		t.created = false
	case t.asked:
		_ = t.engine.Store.DeleteMessage(ctx, t.SessionID, t.user.ID)
	}
	t.asked = false
}

// Release frees the session for the next turn without running this one,
// which is then taken out of the store (see discard).
func (t *Turn) Release() {
	if t.released {
		return
	}
	t.released = true
	if !t.keep {
		t.discard()
	}
	t.engine.mu.Lock()
	delete(t.engine.busy, t.SessionID)
	t.engine.mu.Unlock()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

func (e *Engine) reserve(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy[id] {
		return false
	}
	if e.busy == nil {
		e.busy = map[string]bool{}
	}
	e.busy[id] = true
	return true
}
