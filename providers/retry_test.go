package providers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRetry scripts failures before (and once after) a reply started, and
// checks what is retried, how often, and after which wait.
func TestRetry(t *testing.T) {
	inTenSeconds := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	abort := reply{serve: func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }}
	tests := []struct {
		name      string
		provider  string
		replies   func(t *testing.T) []reply
		wantText  string
		wantErr   *Error           // nil for success; compared on Status and Type
		wantReqs  int              // requests the provider received
		wantWaits int              // retries
		wantWait  [2]time.Duration // bounds of the first wait, when set
	}{
		{
			name: "429 with Retry-After in seconds", provider: "openai",
			replies: func(t *testing.T) []reply {
				return []reply{{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`}, file(t, "openai_stream.sse")}
			},
			wantText: "Hello! How can I help you today?", wantReqs: 2, wantWaits: 1, wantWait: [2]time.Duration{7 * time.Second, 7 * time.Second},
		},
		{
			name: "429 with Retry-After as a date", provider: "anthropic",
			replies: func(t *testing.T) []reply {
				return []reply{{status: 429, header: map[string]string{"Retry-After": inTenSeconds}, body: `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`}, file(t, "anthropic_stream.sse")}
			},
			wantText: "Hello! How can I help?", wantReqs: 2, wantWaits: 1, wantWait: [2]time.Duration{8 * time.Second, 10 * time.Second},
		},
		{
			name: "503 twice", provider: "mistral",
			replies: func(t *testing.T) []reply {
				return []reply{{status: 503, body: "upstream connect error"}, {status: 503}, file(t, "mistral_stream.sse")}
			},
			wantText: "Bonjour !", wantReqs: 3, wantWaits: 2,
		},
		{
			name: "529 until retries run out", provider: "anthropic",
			replies: func(*testing.T) []reply {
				return []reply{{status: 529, body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`}}
			},
			wantErr: &Error{Status: 529, Type: "overloaded_error"}, wantReqs: 4, wantWaits: 3,
		},
		{
			name: "Retry-After longer than the longest wait", provider: "openai",
			replies: func(*testing.T) []reply {
				return []reply{{status: 429, header: map[string]string{"Retry-After": "120"}, body: `{"error":{"message":"slow down","type":"requests"}}`}}
			},
			wantErr: &Error{Status: 429, Type: "requests", RetryAfter: 120 * time.Second}, wantReqs: 1,
		},
		{
			name: "400", provider: "openai",
			replies: func(*testing.T) []reply {
				return []reply{{status: 400, body: `{"error":{"message":"bad","type":"invalid_request_error"}}`}}
			},
			wantErr: &Error{Status: 400, Type: "invalid_request_error"}, wantReqs: 1,
		},
		{
			name: "401", provider: "anthropic",
			replies: func(t *testing.T) []reply {
				r := file(t, "anthropic_401.json")
				r.status = 401
				return []reply{r}
			},
			wantErr: &Error{Status: 401, Type: "authentication_error"}, wantReqs: 1,
		},
		{
			name: "403", provider: "openai",
			replies: func(*testing.T) []reply {
				return []reply{{status: 403, body: `{"error":{"message":"Project does not have access to model","type":"invalid_request_error","code":"model_not_found"}}`}}
			},
			wantErr: &Error{Status: 403, Type: "invalid_request_error"}, wantReqs: 1,
		},
		{
			name: "500 then success", provider: "openai",
			replies: func(t *testing.T) []reply {
				return []reply{{status: 500, body: `{"error":{"message":"The server had an error","type":"server_error"}}`}, file(t, "openai_stream.sse")}
			},
			wantText: "Hello! How can I help you today?", wantReqs: 2, wantWaits: 1,
		},
		{
			name: "404", provider: "mistral",
			replies: func(*testing.T) []reply { return []reply{{status: 404, body: `{"detail":"Not Found"}`}} },
			wantErr: &Error{Status: 404}, wantReqs: 1,
		},
		{
			name: "Anthropic overloaded before any text", provider: "anthropic",
			replies: func(t *testing.T) []reply {
				return []reply{file(t, "anthropic_overloaded.sse"), file(t, "anthropic_stream.sse")}
			},
			wantText: "Hello! How can I help?", wantReqs: 2, wantWaits: 1,
		},
		{
			name: "Anthropic overloaded after text", provider: "anthropic",
			replies: func(t *testing.T) []reply {
				return []reply{file(t, "anthropic_overloaded_mid.sse"), file(t, "anthropic_stream.sse")}
			},
			wantText: "First second", wantErr: &Error{Type: "overloaded_error"}, wantReqs: 1,
		},
		{
			name: "connection closed before the response", provider: "openai",
			replies:  func(t *testing.T) []reply { return []reply{abort, file(t, "openai_stream.sse")} },
			wantText: "Hello! How can I help you today?", wantReqs: 2, wantWaits: 1,
		},
		{
			name: "connection dropped mid-stream", provider: "openai",
			replies: func(t *testing.T) []reply {
				body := file(t, "openai_stream.sse").body
				bang := strings.Index(body, `"!"`)
				head := body[:bang+strings.Index(body[bang:], "data:")]
				return []reply{{serve: func(w http.ResponseWriter, r *http.Request) {
					_, _ = w.Write([]byte(head))
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler)
				}}, file(t, "openai_stream.sse")}
			},
			wantText: "Hello!", wantErr: &Error{Type: "truncated_stream"}, wantReqs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies(t)...)
			var mu sync.Mutex
			var retries []string
			r, w := testRegistry(envFor(tt.provider, f), Options{OnRetry: func(provider string, attempt int, wait time.Duration, err error) {
				mu.Lock()
				defer mu.Unlock()
				retries = append(retries, provider)
				if attempt != len(retries) {
					t.Errorf("OnRetry attempt %d, want %d", attempt, len(retries))
				}
				var e *Error
				if !errors.As(err, &e) || !e.Retryable {
					t.Errorf("OnRetry err = %v, want a retryable *Error", err)
				}
			}})

			// The request's own OnRetry hears of the same retries, with
			// the waits the policy takes.
			var told []time.Duration
			req := *hello
			req.OnRetry = func(attempt int, wait time.Duration, err error) {
				told = append(told, wait)
				if attempt != len(told) || err == nil {
					t.Errorf("Request.OnRetry(%d, %v, %v), want attempt %d and the error", attempt, wait, err, len(told))
				}
			}
			text, _, _, err := collect(t.Context(), provider(t, r, tt.provider), &req)

			if text != tt.wantText {
				t.Errorf("text = %q, want %q", text, tt.wantText)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("err = %v", err)
			}
			if tt.wantErr != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want an *Error", err)
				}
				if e.Status != tt.wantErr.Status || e.Type != tt.wantErr.Type || e.RetryAfter != tt.wantErr.RetryAfter {
					t.Errorf("err = %+v, want %+v", *e, *tt.wantErr)
				}
			}
			if n := len(f.requests()); n != tt.wantReqs {
				t.Errorf("%d requests, want %d", n, tt.wantReqs)
			}
			waits := w.all()
			if len(waits) != tt.wantWaits || len(retries) != tt.wantWaits {
				t.Fatalf("%d waits and %d OnRetry calls, want %d", len(waits), len(retries), tt.wantWaits)
			}
			if !slices.Equal(told, waits) {
				t.Errorf("Request.OnRetry was told waits %v, the policy took %v", told, waits)
			}
			if tt.wantWait[1] != 0 && (waits[0] < tt.wantWait[0] || waits[0] > tt.wantWait[1]) {
				t.Errorf("wait = %v, want %v to %v", waits[0], tt.wantWait[0], tt.wantWait[1])
			}
			for _, p := range retries {
				if p != tt.provider {
					t.Errorf("OnRetry provider = %q, want %q", p, tt.provider)
				}
			}
		})
	}
}

// TestRetryConnectionRefused retries a provider that does not listen, then
// gives up with a connection error.
func TestRetryConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, w := testRegistry(map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": "http://" + addr + "/v1"}, Options{MaxRetries: 2})
	_, _, _, err = collect(t.Context(), provider(t, r, "openai"), hello)
	var e *Error
	if !errors.As(err, &e) || e.Type != "connection" || !e.Retryable || e.Status != 0 {
		t.Fatalf("err = %v, want a retryable connection error", err)
	}
	if n := len(w.all()); n != 2 {
		t.Errorf("%d retries, want 2", n)
	}
}

// TestRetryCancelledWait cancels the context while waiting to retry.
func TestRetryCancelledWait(t *testing.T) {
	f := newFake(t, reply{status: 503})
	r := NewRegistry(Options{
		Getenv:    func(k string) string { return envFor("openai", f)[k] },
		RetryBase: time.Hour,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := provider(t, r, "openai").Stream(ctx, hello, func(Event) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
}

func TestRetryWait(t *testing.T) {
	rp := retryPolicy{max: 10, base: 100 * time.Millisecond, maxWait: time.Second}
	for attempt, full := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		full *= time.Millisecond
		for range 20 {
			d, ok := rp.wait(attempt+1, &Error{Status: 503, Retryable: true})
			if !ok || d < full/2 || d > full {
				t.Fatalf("attempt %d: wait %v, %v; want between %v and %v", attempt+1, d, ok, full/2, full)
			}
		}
	}
	for _, err := range []error{
		&Error{Status: 400},
		&Error{Type: "timeout", Retryable: true},
		&Error{Status: 429, Retryable: true, RetryAfter: 2 * time.Second},
		context.Canceled,
	} {
		if d, ok := rp.wait(1, err); ok {
			t.Errorf("%v: retried after %v", err, d)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 8, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"99999999999999", 24 * time.Hour},
		{"Thu, 07 Aug 2025 12:00:30 GMT", 30 * time.Second},
		{"Thu, 07 Aug 2025 11:59:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q = %v, want %v", tt.header, got, tt.want)
		}
	}
}
