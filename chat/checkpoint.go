package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tinychat/tinychat/session"
)

// checkpointer saves the replies in progress of every running turn, each
// Checkpoint, in one transaction on one goroutine: 500 streaming turns cost
// one write a second, not 500, and SQLite's deep stack grows on one
// goroutine, not on one per turn. With them it saves the replies that
// ended while the store could not take them (a full disk), once it can.
type checkpointer struct {
	mu      sync.Mutex
	live    map[*Turn]bool
	kept    []session.Save // turns that ended unsaved, in the order they ended
	running bool           // the goroutine is ticking
	failing bool           // the last write failed, and a warning said so
}

// track adds a streaming turn to the checkpoints.
func (e *Engine) track(t *Turn) {
	e.ck.mu.Lock()
	defer e.ck.mu.Unlock()
	if e.ck.live == nil {
		e.ck.live = map[*Turn]bool{}
	}
	e.ck.live[t] = true
	e.tick()
}

// tick starts the checkpoints' goroutine unless it runs. ck.mu is held.
func (e *Engine) tick() {
	if !e.ck.running {
		e.ck.running = true
		every := e.Checkpoint
		if every <= 0 {
			every = time.Second
		}
		go e.checkpoints(every)
	}
}

// keep holds on to the last save of a turn that the store could not take,
// to try again at each checkpoint and before each turn.
func (e *Engine) keep(sv session.Save) {
	e.ck.mu.Lock()
	defer e.ck.mu.Unlock()
	e.ck.kept = append(e.ck.kept, sv)
	e.log().Warn("a reply is kept in memory until the store takes it", "session", sv.SessionID, "kept", len(e.ck.kept))
	e.tick()
}

// flush saves the replies kept for a store that could not take them, and
// returns why some are still unsaved.
func (e *Engine) flush(ctx context.Context) error {
	e.ck.mu.Lock()
	saves := slices.Clone(e.ck.kept)
	e.ck.mu.Unlock()
	if len(saves) == 0 {
		return nil
	}
	if err := e.saved(saves, e.Store.SaveAll(ctx, saves)); err != nil {
		return fmt.Errorf("the store has no room for the replies kept for it (%d): %w", len(saves), err)
	}
	return nil
}

// saved lets go of the kept saves among saves that SaveAll, which
// returned err, wrote, or refused for good (their session was deleted,
// say), and returns why the others are still unsaved.
func (e *Engine) saved(saves []session.Save, err error) error {
	if err != nil {
		return err // nothing was written
	}
	e.ck.mu.Lock()
	defer e.ck.mu.Unlock()
	var we *session.WriteError
	for _, sv := range saves {
		switch {
		case errors.As(sv.Err, &we):
			err = sv.Err
			continue
		case sv.Err != nil:
			e.log().Error("a reply kept for the store is lost", "session", sv.SessionID, "error", sv.Err)
		default:
			e.log().Info("saved a reply kept for the store", "session", sv.SessionID)
		}
		e.ck.kept = slices.DeleteFunc(e.ck.kept, func(k session.Save) bool { return k.Messages[0] == sv.Messages[0] })
	}
	return err
}

// Close saves what is kept for a store that could not take it, one last
// time, and returns why some of it is lost if it could not.
func (e *Engine) Close() error {
	err := e.flush(context.Background())
	if err != nil {
		e.log().Error("replies are lost: the store could not take them", "error", err)
	}
	return err
}

// untrack takes t out of the checkpoints. When it returns no checkpoint
// of t is being written, so that none can land after t's last save. It
// waits only for a checkpoint that holds t's reply: with 1,000 turns
// streaming, a turn that ended waited for whichever batch of replies was
// being written, and its last save for the next batch's turn after that.
func (e *Engine) untrack(t *Turn) {
	e.ck.mu.Lock()
	delete(e.ck.live, t)
	writing := t.checkpoint
	e.ck.mu.Unlock()
	if writing != nil {
		<-writing
	}
}

// checkpointBatch bounds the replies one checkpoint transaction saves. A
// turn that ends waits for the transaction in flight before its last save
// (untrack), and the store writes one transaction at a time: with 1,000
// turns streaming, one transaction for all their replies took 250 ms, and
// every turn that ended meanwhile waited for it.
const checkpointBatch = 64

func (e *Engine) checkpoints(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for range tick.C {
		e.ck.mu.Lock()
		if len(e.ck.live) == 0 && len(e.ck.kept) == 0 {
			e.ck.running = false
			e.ck.mu.Unlock()
			return
		}
		turns := make([]*Turn, 0, len(e.ck.live))
		for t := range e.ck.live {
			turns = append(turns, t)
		}
		e.ck.mu.Unlock()
		// The kept saves go with the first batch; a turn that ended since
		// the tick began is left out of the batches after it.
		var failed error
		kept := true
		for first := true; first || len(turns) > 0; first = false {
			n := min(len(turns), checkpointBatch)
			err := e.checkpoint(turns[:n], kept)
			turns, kept = turns[n:], false
			if err != nil && failed == nil {
				failed = err
			}
		}
		e.ck.mu.Lock()
		switch {
		case failed != nil && !e.ck.failing:
			e.log().Warn("could not save the replies in progress: they are kept in memory until the store takes them", "error", failed)
		case failed == nil && e.ck.failing:
			e.log().Info("the store takes the replies in progress again")
		}
		e.ck.failing = failed != nil
		e.ck.mu.Unlock()
	}
}

// checkpoint saves, in one transaction, the replies of those of turns that
// are still streaming and have more since their last checkpoint, and with
// kept the saves kept for a store that could not take them. It returns why
// a save failed.
func (e *Engine) checkpoint(turns []*Turn, kept bool) error {
	e.ck.mu.Lock()
	var (
		saves []session.Save
		live  []*Turn
		marks []mark
	)
	for _, t := range turns {
		if !e.ck.live[t] {
			continue
		}
		if reply, m, ok := t.progress.unsaved(); ok {
			// The user's message was saved when the turn began: only
			// the reply changes, and only its new text is written.
			saves = append(saves, session.Save{SessionID: t.SessionID, Messages: []*session.Message{reply}, Appended: true})
			live, marks = append(live, t), append(marks, m)
		}
	}
	n := len(saves) // the rest are kept ones
	if kept {
		saves = append(saves, e.ck.kept...)
	}
	if len(saves) == 0 {
		e.ck.mu.Unlock()
		return nil
	}
	// Set before ck.mu is let go: an untrack that follows waits for these
	// saves.
	done := make(chan struct{})
	for _, t := range live {
		t.checkpoint = done
	}
	e.ck.mu.Unlock()
	if e.beforeCheckpoint != nil {
		e.beforeCheckpoint()
	}
	// A failed checkpoint is retried at the next tick and at the end; the
	// streams go on regardless.
	err := e.Store.SaveAll(context.Background(), saves)
	failed := err
	if err == nil {
		for i, sv := range saves[:n] {
			if sv.Err == nil {
				live[i].progress.checkpointed(marks[i])
			} else {
				failed = sv.Err
			}
		}
	}
	if kept {
		e.saved(saves[n:], err)
	}
	close(done)
	return failed
}

// progress is the reply of a turn as it streams.
type progress struct {
	mu        sync.Mutex
	reply     session.Message // Interrupted until the stream ends well
	text      strings.Builder
	reasoning strings.Builder
	calls     []session.ToolCall
	changes   int  // of calls, which change in place
	saved     mark // at the last checkpoint
}

// mark is how far a reply had come: the length of its text and reasoning,
// and the changes of its tool calls. Each only grows.
type mark struct{ text, reasoning, changes int }

func (p *progress) add(e Event) {
	p.mu.Lock()
	if e.Kind == Reasoning {
		p.reasoning.WriteString(e.Text)
	} else {
		p.text.WriteString(e.Text)
	}
	p.mu.Unlock()
}

func (p *progress) mark() mark { return mark{p.text.Len(), p.reasoning.Len(), p.changes} }

// textLen is the length of the answer text so far.
func (p *progress) textLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.text.Len()
}

// textSince returns the answer text from start on.
func (p *progress) textSince(start int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.text.String()[start:]
}

// addCall adds a tool call the reply made, where its text stands now, and
// returns its index.
func (p *progress) addCall(c session.ToolCall) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.TextOffset = p.text.Len()
	p.calls = append(p.calls, c)
	p.changes++
	return len(p.calls) - 1
}

// setCall sets the status of call i and, when not empty, its output.
func (p *progress) setCall(i int, status, output string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[i].Status = status
	if output != "" {
		p.calls[i].Output = output
	}
	p.changes++
}

// call returns call i.
func (p *progress) call(i int) session.ToolCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[i]
}

// unsaved returns, when more came since the last checkpoint, a copy of the
// reply whose text and reasoning are what came since (a session.Save
// Appended), and how far the reply had come.
func (p *progress) unsaved() (*session.Message, mark, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.mark()
	if now == p.saved {
		return nil, mark{}, false
	}
	r := p.reply
	r.Content, r.Reasoning = p.text.String()[p.saved.text:], p.reasoning.String()[p.saved.reasoning:]
	r.ToolCalls = slices.Clone(p.calls)
	return &r, now, true
}

// checkpointed records a checkpoint of the reply as far as m.
func (p *progress) checkpointed(m mark) {
	p.mu.Lock()
	p.saved = mark{max(p.saved.text, m.text), max(p.saved.reasoning, m.reasoning), max(p.saved.changes, m.changes)}
	p.mu.Unlock()
}
