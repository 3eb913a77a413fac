package rpc

import (
	"sync"

	"github.com/tinychat/tinychat/chat"

	"github.com/tinychat/tinychat/internal/textcut"
)

// Limits of a relay.
const (
	// maxDeltaText caps the text of one chat/delta notification.
	maxDeltaText = 64 << 10
	// maxPending is how much text may wait for the client before the
	// provider's stream is paused: a client that stops reading slows the
	// provider down instead of growing the daemon's memory.
	maxPending = 1 << 20
)

// relay carries the answer text and reasoning of one chat/send to the
// client with adaptive coalescing: one notification per write and kind,
// and text that arrives while a write is in flight goes out together in
// the next one. At a provider's usual pace every delta is its own
// notification, with no added wait; when the client reads slower than the
// provider writes, notifications get fewer and larger instead of
// queueing. Text is never merged across requests (each chat/send has its
// own relay) nor across kinds, whose order is kept.
//
// While a provider streams at a realistic pace, its events are written by
// the goroutine that reads them, when the stream has given all it read and
// is about to wait for more (streamFlush): nothing is handed to another
// goroutine, which would wake a thread for each delta. The relay's own
// goroutine writes everything else: what comes while the provider's bytes
// pile up faster than they are read (then the writes overlap the reads),
// a tool call's notification between two steps, and what piles up while a
// write blocks.
type relay struct {
	out     *stream
	encs    [2]*deltaEncoder // by chat.EventKind: chat/delta, chat/reasoning
	notices noticeEncoder    // chat/toolCall and chat/retry

	mu      sync.Mutex
	room    sync.Cond // signalled when pending is taken, and when it is written
	pending []byte
	runs    []run // of pending, in order
	writing bool  // a writer holds text it took and has not written yet
	closed  bool
	// streaming: a provider's stream is giving events and will call
	// streamFlush before it waits for more, so add need not wake the
	// relay's goroutine.
	streaming bool
	broken    bool // see send
	// The buffers written last, kept for the next take; whoever set
	// writing owns them.
	spare     []byte
	spareRuns []run

	wake chan struct{} // capacity 1: "pending has text"
	done chan struct{} // closed when the writer has flushed everything
}

// run is where text of one kind ends in a relay's pending text, the end
// of the run before it being where it starts. A run of kind
// chat.ToolCallEvent or chat.RetryEvent is one whole notification, written
// as it is.
type run struct {
	kind chat.EventKind
	end  int
}

func newRelay(out *stream, requestID id, sessionID, messageID string) *relay {
	r := &relay{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.encs[chat.Text] = newDeltaEncoder(methodDelta, requestID, sessionID, messageID)
	r.encs[chat.Reasoning] = newDeltaEncoder(methodReasoning, requestID, sessionID, messageID)
	r.notices = noticeEncoder{requestID, sessionID, messageID}
	r.room.L = &r.mu
	go r.write()
	return r
}

// add queues an event for the client: its text, or the notification of a
// tool call. It is called from the turn, one event at a time.
func (r *relay) add(e chat.Event) {
	text := e.Text
	if notice(e.Kind) {
		text = string(r.notices.encode(e))
	}
	r.mu.Lock()
	for len(r.pending) >= maxPending && !r.closed {
		r.signal()
		r.room.Wait()
	}
	r.pending = append(r.pending, text...)
	if n := len(r.runs); n > 0 && r.runs[n-1].kind == e.Kind && !notice(e.Kind) {
		r.runs[n-1].end = len(r.pending)
	} else {
		r.runs = append(r.runs, run{e.Kind, len(r.pending)})
	}
	streaming := r.streaming
	r.mu.Unlock()
	if !streaming {
		r.signal()
	}
}

// signal wakes the relay's goroutine.
func (r *relay) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// streamFlush is chat.Request.Flush: the provider's stream has given every
// event it read. With waiting true its next read will likely wait: what
// the events queued is written now, on the stream's goroutine, unless a
// write is in flight, whose writer then takes it next; and events that
// follow wait for the next call. With waiting false more is already there,
// or the stream has ended: the relay's goroutine writes what is queued
// and what follows, while the stream reads on.
func (r *relay) streamFlush(waiting bool) {
	r.mu.Lock()
	r.streaming = waiting
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	if !waiting || r.writing || r.closed {
		r.mu.Unlock()
		r.signal()
		return
	}
	r.writePending()
	r.mu.Unlock()
}

// writePending takes the pending text and writes it, letting go of r.mu,
// which is held, while it writes; no one else is writing. It swaps the
// pending buffers for the ones written last, so that in a steady stream
// nothing is allocated.
func (r *relay) writePending() {
	text, runs := r.pending, r.runs
	r.pending, r.runs = r.spare[:0], r.spareRuns[:0]
	r.writing = true
	r.room.Broadcast()
	r.mu.Unlock()
	r.send(text, runs)
	r.mu.Lock()
	r.spare, r.spareRuns = text, runs
	r.writing = false
	r.room.Broadcast()
}

// send writes text, notification by notification. Once a write failed
// (broken) a client that is gone gets nothing more; the turn still runs to
// its end, to be saved. Only the holder of writing calls it.
func (r *relay) send(text []byte, runs []run) {
	start := 0
	for _, k := range runs {
		if notice(k.kind) {
			r.broken = r.broken || r.out.writeFrame(text[start:k.end]) != nil
			start = k.end
			continue
		}
		for rest := text[start:k.end]; len(rest) > 0 && !r.broken; {
			n := cut(rest, maxDeltaText)
			r.broken = r.out.writeFrame(r.encs[k.kind].encode(rest[:n])) != nil
			rest = rest[n:]
		}
		start = k.end
	}
}

// flush writes everything queued and stops the relay. After it returns
// every notification is on the wire, so the response can follow.
func (r *relay) flush() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.signal()
	<-r.done
}

// write is the relay's goroutine.
func (r *relay) write() {
	defer close(r.done)
	for range r.wake {
		r.mu.Lock()
		for r.writing {
			r.room.Wait()
		}
		closed := r.closed
		r.writePending()
		r.mu.Unlock()
		if closed {
			return
		}
	}
}

// sync waits until everything queued so far is on the wire: what the
// client is asked next comes after what it was told.
func (r *relay) sync() {
	r.signal()
	r.mu.Lock()
	defer r.mu.Unlock()
	for (len(r.pending) > 0 || r.writing) && !r.closed {
		r.room.Wait()
	}
}

// cut returns where to end a notification of at most limit bytes of text,
// on a rune boundary.
func cut(text []byte, limit int) int {
	if n := textcut.Len(text, limit); n > 0 || len(text) == 0 {
		return n
	}
	return limit
}
