package chat

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/tools"
)

// BenchmarkToolStep runs whole turns on loopback against the test
// provider: one that answers at once, and one that first reads a file
// with the built-in read_file (allowed by the policy) and answers at the
// next step. The difference is what a tool step adds: a tool run, a
// second provider request with the history and its result, two more
// checkpoints' worth of state.
func BenchmarkToolStep(b *testing.B) {
	srv := providertest.NewServer()
	b.Cleanup(srv.Close)
	ws := b.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	m := tools.NewManager(nil, nil)
	b.Cleanup(func() { m.Close() })
	env := map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}
	e := &Engine{
		Store:     newStore(b),
		Providers: providers.NewRegistry(providers.Options{Getenv: func(k string) string { return env[k] }}),
		Tools:     m,
		Policy:    tools.Policy{Default: tools.Allow},
	}
	for _, bc := range []struct{ name, message string }{
		{"answer", "Reading. The tool said: hello"},
		{"read_file-then-answer", `tool {"path":"a.txt"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				// A session of its own: the history does not grow.
				sess, err := e.Store.New(ctx, ws, "")
				if err != nil {
					b.Fatal(err)
				}
				turn, err := e.Begin(ctx, Request{SessionID: sess.ID, Message: bc.message, Provider: "openai", Model: "m"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := turn.Run(ctx, func(Event) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
