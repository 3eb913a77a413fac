package rpc

import (
	"sync"
	"unicode/utf8"
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

// relay carries the text of one chat/send to the client with adaptive
// coalescing: its own goroutine writes one notification per wake-up, and
// text that arrives while a write is in flight goes out together in the
// next one. At a provider's usual pace every delta is its own
// notification, with no added wait; when the client reads slower than the
// provider writes, notifications get fewer and larger instead of queueing.
// Text is never merged across requests: each chat/send has its own relay.
type relay struct {
	out *stream
	enc *deltaEncoder

	mu      sync.Mutex
	room    sync.Cond // signalled when pending is taken
	pending []byte
	closed  bool

	wake chan struct{} // capacity 1: "pending has text"
	done chan struct{} // closed when the writer has flushed everything
}

func newRelay(out *stream, enc *deltaEncoder) *relay {
	r := &relay{out: out, enc: enc, wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.room.L = &r.mu
	go r.write()
	return r
}

// add queues text for the client. It is called from the provider's stream,
// one delta at a time.
func (r *relay) add(text string) {
	r.mu.Lock()
	for len(r.pending) >= maxPending && !r.closed {
		r.room.Wait()
	}
	r.pending = append(r.pending, text...)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// flush writes everything queued and stops the relay. After it returns
// every delta is on the wire, so the response can follow.
func (r *relay) flush() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	<-r.done
}

// write is the relay's goroutine. It swaps the pending buffer for the one
// it wrote last time, so that in a steady stream nothing is allocated.
func (r *relay) write() {
	defer close(r.done)
	var spare []byte
	broken := false
	for range r.wake {
		r.mu.Lock()
		text := r.pending
		r.pending = spare[:0]
		closed := r.closed
		r.room.Broadcast()
		r.mu.Unlock()

		for rest := text; len(rest) > 0 && !broken; {
			n := cut(rest, maxDeltaText)
			// A client that is gone gets nothing more; the turn still runs
			// to its end, to be saved.
			broken = r.out.writeFrame(r.enc.encode(rest[:n])) != nil
			rest = rest[n:]
		}
		spare = text
		if closed {
			return
		}
	}
}

// cut returns where to end a notification of at most limit bytes of text,
// on a rune boundary.
func cut(text []byte, limit int) int {
	if len(text) <= limit {
		return len(text)
	}
	n := limit
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	if n == 0 {
		return limit
	}
	return n
}
