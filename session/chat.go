package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tinychat/tinychat/providers"
)

// Defaults are the settings a turn falls back to when neither the request
// nor the session's own history names them (initializationOptions, config).
type Defaults struct {
	Provider    string   `json:"provider,omitempty"`
	Model       string   `json:"model,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   int      `json:"maxTokens,omitempty"`
	System      string   `json:"system,omitempty"`
}

// SendParams describe one user turn.
type SendParams struct {
	Workspace string // normalised; used when SessionID is empty
	SessionID string // empty: the workspace's current session, or a new one
	Message   string
	Context   []ContextItem

	// Provider and Model override the session's last provider and model.
	Provider string
	Model    string
	// Temperature, MaxTokens and System override Defaults.
	Temperature *float64
	MaxTokens   int
	System      string

	Defaults Defaults
}

// BusyError reports a session that is already streaming a reply.
type BusyError struct{ SessionID string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("session %s is already streaming a reply", e.SessionID)
}

// TurnError is a turn that failed or was cancelled. Partial is the reply text
// that had arrived (and was saved as interrupted); when it is empty the user
// message was not added to the history.
type TurnError struct {
	SessionID   string
	MessageID   string
	UserMessage string
	Partial     string
	Err         error
}

func (e *TurnError) Error() string { return e.Err.Error() }
func (e *TurnError) Unwrap() error { return e.Err }

// Chat runs turns: it sends a session's history to a provider, relays the
// reply and keeps the store up to date while it streams.
type Chat struct {
	Store     *Store
	Providers *providers.Registry
	// Checkpoint is how often a reply in progress is saved; 0 means a second.
	Checkpoint time.Duration

	mu   sync.Mutex
	busy map[string]bool

	ck checkpointer
	// beforeCheckpoint, when a test sets it, runs between a tick's copy of
	// the replies and their write, to widen the window in which a turn may
	// end.
	beforeCheckpoint func()
}

// checkpointer saves the replies in progress of every running turn, each
// Checkpoint, in one transaction on one goroutine: 500 streaming turns cost
// one write a second, not 500, and SQLite's deep stack grows on one
// goroutine, not on one per turn.
type checkpointer struct {
	mu      sync.Mutex
	live    map[*Turn]bool
	running bool          // the goroutine is ticking
	writing chan struct{} // the tick being written, closed when it is; nil between ticks
}

// track adds a streaming turn to the checkpoints.
func (c *Chat) track(t *Turn) {
	c.ck.mu.Lock()
	defer c.ck.mu.Unlock()
	if c.ck.live == nil {
		c.ck.live = map[*Turn]bool{}
	}
	c.ck.live[t] = true
	if !c.ck.running {
		c.ck.running = true
		every := c.Checkpoint
		if every <= 0 {
			every = time.Second
		}
		go c.checkpoints(every)
	}
}

// untrack takes t out of the checkpoints. When it returns no checkpoint
// of t is being written, so that none can land after t's last save.
func (c *Chat) untrack(t *Turn) {
	c.ck.mu.Lock()
	delete(c.ck.live, t)
	writing := c.ck.writing
	c.ck.mu.Unlock()
	if writing != nil {
		<-writing
	}
}

func (c *Chat) checkpoints(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for range tick.C {
		c.ck.mu.Lock()
		if len(c.ck.live) == 0 {
			c.ck.running = false
			c.ck.mu.Unlock()
			return
		}
		var (
			saves []Save
			turns []*Turn
			sizes []int
		)
		for t := range c.ck.live {
			if reply, size, ok := t.progress.unsaved(); ok {
				saves = append(saves, Save{SessionID: t.SessionID, Messages: []*Message{&t.user, reply}})
				turns, sizes = append(turns, t), append(sizes, size)
			}
		}
		if len(saves) == 0 {
			c.ck.mu.Unlock()
			continue
		}
		// Set before ck.mu is let go: an untrack that follows waits for
		// these saves.
		done := make(chan struct{})
		c.ck.writing = done
		c.ck.mu.Unlock()
		if c.beforeCheckpoint != nil {
			c.beforeCheckpoint()
		}
		// A failed checkpoint is retried at the next tick and at the end;
		// the streams go on regardless.
		if c.Store.SaveAll(context.Background(), saves) == nil {
			for i, sv := range saves {
				if sv.Err == nil {
					turns[i].progress.checkpointed(sizes[i])
				}
			}
		}
		c.ck.mu.Lock()
		c.ck.writing = nil
		c.ck.mu.Unlock()
		close(done)
	}
}

// Turn is a resolved turn, ready to run: the session, message id, provider
// and model are known, and the session is held until Run returns.
type Turn struct {
	SessionID string
	MessageID string // of the reply
	Provider  string
	Model     string

	chat     *Chat
	prov     providers.Provider
	req      providers.Request
	user     Message
	progress progress
	created  bool // the session was made for this turn
	released bool
}

// progress is the reply of a turn as it streams.
type progress struct {
	mu     sync.Mutex
	reply  Message // Interrupted until the stream ends well
	text   strings.Builder
	saved  int  // length of text at the last checkpoint
	stored bool // a message of the turn reached the store
}

func (p *progress) add(s string) {
	p.mu.Lock()
	p.text.WriteString(s)
	p.mu.Unlock()
}

// unsaved returns a copy of the reply, and its length, when text came
// since the last checkpoint.
func (p *progress) unsaved() (*Message, int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.text.Len() == p.saved {
		return nil, 0, false
	}
	r := p.reply
	r.Content = p.text.String()
	return &r, p.text.Len(), true
}

// checkpointed records a checkpoint of the first size bytes of text.
func (p *progress) checkpointed(size int) {
	p.mu.Lock()
	p.saved, p.stored = max(p.saved, size), true
	p.mu.Unlock()
}

// Begin resolves the session, provider and model of a turn and reserves the
// session. Its errors come before anything streams: ErrNotFound,
// *BusyError, *providers.NotConfiguredError, providers.ErrUnknownProvider.
// Every Turn that Begin returns must be Run or Released.
func (c *Chat) Begin(ctx context.Context, p SendParams) (*Turn, error) {
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
		t, err = c.begin(ctx, p)
	}()
	<-done
	return t, err
}

func (c *Chat) begin(ctx context.Context, p SendParams) (*Turn, error) {
	// The lookups are short and must not fail for a cancel that came early:
	// that cancel is Run's to answer, with the turn's ids.
	ctx = context.WithoutCancel(ctx)
	t := &Turn{chat: c}
	var sess *Session
	var err error
	if p.SessionID != "" {
		sess, err = c.Store.Session(ctx, p.SessionID)
	} else {
		sess, err = c.Store.Current(ctx, p.Workspace)
		if errors.Is(err, ErrNotFound) {
			sess, err = c.Store.New(ctx, p.Workspace, "")
			t.created = true
		}
	}
	if err != nil {
		return nil, err
	}
	t.SessionID = sess.ID

	history, err := c.Store.Messages(ctx, sess.ID)
	if err != nil {
		return nil, err
	}
	t.Provider, t.Model = pickModel(p, history, c.Providers.Default())
	if t.prov, err = c.Providers.Get(t.Provider); err != nil {
		t.discard()
		return nil, err
	}
	if t.Model == "" {
		t.Model = t.prov.DefaultModel()
	}
	if !c.reserve(sess.ID) {
		t.discard()
		return nil, &BusyError{SessionID: sess.ID}
	}

	t.MessageID = NewID()
	// CreatedAt as the store keeps it, so that saving the message, as the
	// checkpoints do from their own goroutine, never changes it.
	t.user = Message{ID: NewID(), Role: providers.RoleUser, Content: p.Message, Context: p.Context, CreatedAt: fromMillis(time.Now().UnixMilli())}
	t.req = providers.Request{
		Model:       t.Model,
		System:      firstNonEmpty(p.System, p.Defaults.System),
		Temperature: p.Temperature,
		MaxTokens:   p.MaxTokens,
		Messages:    make([]providers.Message, 0, len(history)+1),
	}
	if t.req.Temperature == nil {
		t.req.Temperature = p.Defaults.Temperature
	}
	if t.req.MaxTokens == 0 {
		t.req.MaxTokens = p.Defaults.MaxTokens
	}
	for _, m := range append(history, t.user) {
		t.req.Messages = append(t.req.Messages, providers.Message{Role: m.Role, Content: Prompt(m)})
	}
	return t, nil
}

// pickModel applies the precedence of DESIGN: the request, then the
// provider and model the session last used (a resumed chat must not switch
// model silently), then the defaults, then the registry's default provider.
func pickModel(p SendParams, history []Message, fallback string) (provider, model string) {
	var lastProvider, lastModel string
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Provider != "" {
			lastProvider, lastModel = history[i].Provider, history[i].Model
			break
		}
	}
	provider = firstNonEmpty(p.Provider, lastProvider, p.Defaults.Provider, fallback)
	model = p.Model
	if model == "" {
		switch provider {
		case lastProvider:
			model = lastModel
		case p.Defaults.Provider:
			model = p.Defaults.Model
		}
	}
	return provider, model
}

// Prompt is the text a provider is given for a stored message: the user's
// context items quoted ahead of the message itself.
func Prompt(m Message) string {
	if len(m.Context) == 0 {
		return m.Content
	}
	var b strings.Builder
	for _, c := range m.Context {
		b.WriteString("File: " + c.URI + c.Range.lines() + "\n")
		fence := Fence(c.Text)
		b.WriteString(fence + c.LanguageID + "\n" + c.Text)
		if !strings.HasSuffix(c.Text, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(fence + "\n\n")
	}
	b.WriteString(m.Content)
	return b.String()
}

// Fence returns a Markdown code fence longer than any run of backticks in
// text, so quoted code can never close it early.
func Fence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// Run streams the reply, calling onDelta with each piece of text in order.
// The reply in progress is saved at every checkpoint; when the stream ends
// the user message and the reply are saved for good. On failure or cancel
// Run returns a *TurnError wrapping the cause (context.Canceled for a
// cancel, *providers.Error for a provider failure).
func (t *Turn) Run(ctx context.Context, onDelta func(text string)) (*providers.Result, string, error) {
	defer t.Release()

	t.progress.reply = Message{ID: t.MessageID, Role: providers.RoleAssistant, Provider: t.Provider, Model: t.Model, Interrupted: true}
	t.chat.track(t)
	res, err := t.prov.Stream(ctx, &t.req, func(s string) {
		t.progress.add(s)
		onDelta(s)
	})
	t.chat.untrack(t)

	// Saving uses a context that survives cancel: a cancelled or
	// shutting-down turn must still reach the store.
	store := context.WithoutCancel(ctx)
	reply := &t.progress.reply
	reply.Content = t.progress.text.String()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		terr := &TurnError{SessionID: t.SessionID, MessageID: t.MessageID, UserMessage: t.user.Content, Partial: reply.Content, Err: err}
		if reply.Content == "" {
			return nil, "", terr
		}
		if serr := t.save(store, reply); serr != nil {
			terr.Err = errors.Join(err, serr)
		}
		return nil, reply.Content, terr
	}
	reply.Interrupted = false
	reply.Usage = &res.Usage
	if res.Model != "" {
		reply.Model = res.Model
	}
	if err := t.save(store, reply); err != nil {
		return nil, reply.Content, err
	}
	return res, reply.Content, nil
}

// save stores the user message and reply for good and makes the session
// current, in one transaction.
func (t *Turn) save(ctx context.Context, reply *Message) error {
	saves := []Save{{SessionID: t.SessionID, Messages: []*Message{&t.user, reply}}}
	err := t.chat.Store.SaveAll(ctx, saves)
	if err == nil {
		err = saves[0].Err
	}
	if err == nil {
		t.progress.stored = true
	}
	return err
}

// discard removes a session that was made for this turn and never got a
// message: a turn that failed before any text leaves no trace.
func (t *Turn) discard() {
	if t.created {
		_ = t.chat.Store.Delete(context.Background(), t.SessionID)
		t.created = false
	}
}

// Release frees the session for the next turn without running this one.
// A session made for the turn that never got a message is removed.
func (t *Turn) Release() {
	if t.released {
		return
	}
	t.released = true
	if !t.progress.stored {
		t.discard()
	}
	t.chat.mu.Lock()
	delete(t.chat.busy, t.SessionID)
	t.chat.mu.Unlock()
}

func (c *Chat) reserve(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy[id] {
		return false
	}
	if c.busy == nil {
		c.busy = map[string]bool{}
	}
	c.busy[id] = true
	return true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
