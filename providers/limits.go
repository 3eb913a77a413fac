package providers

import (
	"cmp"
	"context"
	"time"
)

// Limits override a Registry's retries and timeouts for the requests made
// with a context that carries them (see WithLimits): one editor's
// initializationOptions apply to its own requests only.
type Limits struct {
	// MaxRetries is how many times a failed request may be retried. 0 means
	// the Registry's; a negative value means none.
	MaxRetries int
	// FirstByteTimeout and IdleTimeout are as in Options; 0 means the
	// Registry's.
	FirstByteTimeout time.Duration
	IdleTimeout      time.Duration
}

type limitsKey struct{}

// WithLimits returns a context whose requests obey l.
func WithLimits(ctx context.Context, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, l)
}

// timeouts returns the first-byte and idle timeouts for a request made
// with ctx.
func (c *client) timeouts(ctx context.Context) (firstByte, idle time.Duration) {
	l, _ := ctx.Value(limitsKey{}).(Limits)
	return cmp.Or(l.FirstByteTimeout, c.firstByte), cmp.Or(l.IdleTimeout, c.idle)
}

// retries returns how many retries a request made with ctx may have.
func (rp *retryPolicy) retries(ctx context.Context) int {
	if l, _ := ctx.Value(limitsKey{}).(Limits); l.MaxRetries != 0 {
		return max(l.MaxRetries, 0)
	}
	return rp.max
}
