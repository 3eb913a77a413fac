package providers

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is a fake key, distinctive enough to be searched for in anything
// that must never contain it.
const testKey = "sk-test-SECRET-1234567890"

// reply is one scripted response of a fake provider.
type reply struct {
	status int               // 0 means 200
	header map[string]string // extra response headers
	body   string            // the response body
	// serve, if set, replaces all of the above.
	serve func(w http.ResponseWriter, r *http.Request)
}

// file returns a reply of status 200 that replays testdata/name.
func file(t testing.TB, name string) reply {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return reply{body: string(b)}
}

// recorded is a request a fake provider received.
type recorded struct {
	method, path string // path includes the query, if any
	remote       string // the client's address
	header       http.Header
	body         string
}

// fake is a provider on 127.0.0.1 that answers its nth request with its
// nth reply (the last one once they run out) and records every request.
type fake struct {
	*httptest.Server
	replies []reply

	mu   sync.Mutex
	reqs []recorded
}

func newFake(t testing.TB, replies ...reply) *fake {
	f := &fake{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, recorded{remote: r.RemoteAddr, method: r.Method, path: r.URL.RequestURI(), header: r.Header.Clone(), body: string(body)})
	f.mu.Unlock()

	rep := f.replies[min(n, len(f.replies)-1)]
	if rep.serve != nil {
		rep.serve(w, r)
		return
	}
	status := cmp.Or(rep.status, http.StatusOK)
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, rep.body)
}

// requests returns the requests received so far.
func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// envFor is the environment that points provider at f with testKey.
func envFor(provider string, f *fake) map[string]string {
	switch provider {
	case "openai":
		return map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": f.URL + "/v1"}
	case "mistral":
		return map[string]string{"MISTRAL_API_KEY": testKey, "MISTRAL_BASE_URL": f.URL}
	default:
		return map[string]string{"ANTHROPIC_API_KEY": testKey, "ANTHROPIC_BASE_URL": f.URL}
	}
}

// waits records the waits between retries, which tests skip.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// testRegistry returns a Registry that reads env and, rather than sleep
// between retries, records the waits.
func testRegistry(env map[string]string, opts Options) (*Registry, *waits) {
	opts.Getenv = func(k string) string { return env[k] }
	r := NewRegistry(opts)
	w := &waits{}
	for _, e := range r.entries {
		if p, ok := e.p.(*httpProvider); ok {
			// All the providers share one client.
			p.c.retry.sleep = func(ctx context.Context, d time.Duration) error {
				w.mu.Lock()
				defer w.mu.Unlock()
				w.d = append(w.d, d)
				return ctx.Err()
			}
			break
		}
	}
	return r, w
}

// provider returns the named provider of r, failing the test if it has
// none.
func provider(t testing.TB, r *Registry, name string) Provider {
	t.Helper()
	p, err := r.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collect streams req from p and returns the reply text (joined deltas
// of answer text), how many deltas there were, the result and the error.
func collect(ctx context.Context, p Provider, req *Request) (text string, deltas int, res *Result, err error) {
	var b strings.Builder
	res, err = p.Stream(ctx, req, func(e Event) {
		if e.Kind == EventText {
			b.WriteString(e.Text)
			deltas++
		}
	})
	return b.String(), deltas, res, err
}

// hello is a simple request.
var hello = &Request{Messages: []Message{{Role: RoleUser, Content: "Hello"}}}

// sameJSON fails the test unless the JSON documents got and want are equal,
// whatever their spacing and key order.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s\nwant %s", got, want)
	}
}
