package providers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// transientTypes are the error types, reported inside a stream, that say
// the provider is busy or hiccuped rather than that the request is wrong.
var transientTypes = map[string]bool{
	"overloaded_error": true, // Anthropic; 529 outside a stream
	"api_error":        true, // Anthropic; 500 outside a stream
	"rate_limit_error": true, // Anthropic; 429 outside a stream
	"server_error":     true, // OpenAI
	// Gemini's statuses for 503, 500 and 429 outside a stream.
	"UNAVAILABLE":        true,
	"INTERNAL":           true,
	"RESOURCE_EXHAUSTED": true,
}

// retryableStatus reports whether an HTTP status says "try again later".
// 529 is Anthropic's "overloaded".
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, 529:
		return true
	}
	return false
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date,
// as a wait from now. It is 0 when the header is absent, bad or past.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		// Bounded before the multiplication so that no value overflows.
		return time.Duration(min(max(s, 0), 24*60*60)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// retryPolicy decides whether a failed attempt is sent again, and when.
type retryPolicy struct {
	max     int           // retries after the first attempt
	base    time.Duration // the first backoff; each later one doubles
	maxWait time.Duration // the longest single wait
	onRetry func(provider string, attempt int, wait time.Duration, err error)
	sleep   func(ctx context.Context, d time.Duration) error // replaced by tests
}

// run calls try until it succeeds or fails for good. try reports whether
// reply text already reached the caller: from then on a retry would repeat
// that text, so the failure is final whatever it is. Before each retry
// the policy's onRetry and the request's, if not nil, are told.
func (rp *retryPolicy) run(ctx context.Context, provider string, onRetry func(int, time.Duration, error), try func() (started bool, err error)) error {
	retries := rp.retries(ctx)
	for attempt := 1; ; attempt++ {
		started, err := try()
		if err == nil || started || attempt > retries {
			return err
		}
		wait, ok := rp.wait(attempt, err)
		if !ok {
			return err
		}
		if rp.onRetry != nil {
			rp.onRetry(provider, attempt, wait, err)
		}
		if onRetry != nil {
			onRetry(attempt, wait, err)
		}
		if err := rp.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", provider, err)
		}
	}
}

// wait returns how long to wait before retry number attempt after err, or
// false if err is not worth a retry: it is not transient, it is a timeout
// (the user already waited its whole length once), or the provider asks
// for a longer wait than maxWait.
func (rp *retryPolicy) wait(attempt int, err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || !e.Retryable || e.Type == "timeout" {
		return 0, false
	}
	if e.RetryAfter > 0 {
		return e.RetryAfter, e.RetryAfter <= rp.maxWait
	}
	// Equal jitter: the wait still grows, but clients that failed together
	// do not all come back at the same instant.
	d := max(rp.base, 0)
	for i := 1; i < attempt && d < rp.maxWait; i++ {
		d *= 2
	}
	d = min(d, rp.maxWait)
	return d/2 + rand.N(d/2+1), true
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
