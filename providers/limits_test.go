package providers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
)

func TestWithLimits(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	r := NewRegistry(Options{
		Getenv: func(k string) string {
			return map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}[k]
		},
		RetryBase: time.Millisecond,
	})
	p, err := r.Get("openai")
	if err != nil {
		t.Fatal(err)
	}
	ask := func(ctx context.Context, msg string) (string, error) {
		var text string
		_, err := p.Stream(ctx, &Request{Messages: []Message{{Role: RoleUser, Content: msg}}}, func(e Event) { text += e.Text })
		return text, err
	}

	for _, tc := range []struct {
		limits   Limits
		requests int
	}{
		{Limits{}, 4},               // the registry's 3 retries
		{Limits{MaxRetries: -1}, 1}, // none
		{Limits{MaxRetries: 1}, 2},
	} {
		before := len(srv.Requests())
		if _, err := ask(WithLimits(context.Background(), tc.limits), "error 503 busy"); err == nil {
			t.Fatal("a 503 succeeded")
		}
		if got := len(srv.Requests()) - before; got != tc.requests {
			t.Errorf("%+v: %d requests, want %d", tc.limits, got, tc.requests)
		}
	}

	start := time.Now()
	text, err := ask(WithLimits(context.Background(), Limits{IdleTimeout: 100 * time.Millisecond}), "stall")
	var e *Error
	if !errors.As(err, &e) || e.Type != "timeout" || text != "stalling " {
		t.Fatalf("stalled stream: text %q, err %v", text, err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the idle limit of the context was not used")
	}
}
