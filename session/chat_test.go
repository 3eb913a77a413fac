package session

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/providers/providertest"
)

func TestPickModel(t *testing.T) {
	used := []Message{
		{Role: "user", Content: "q"},
		{Role: "assistant", Provider: "openai", Model: "gpt-a"},
		{Role: "user", Content: "q2"},
		{Role: "assistant", Provider: "anthropic", Model: "claude-b"},
	}
	for _, tc := range []struct {
		name            string
		p               SendParams
		history         []Message
		provider, model string
	}{
		{"fresh session: registry default", SendParams{}, nil, "echo", ""},
		{"fresh session: defaults", SendParams{Defaults: Defaults{Provider: "mistral", Model: "m-large"}}, nil, "mistral", "m-large"},
		{"resumed session keeps its last provider and model over defaults", SendParams{Defaults: Defaults{Provider: "mistral", Model: "m-large"}}, used, "anthropic", "claude-b"},
		{"request names a provider: its default model", SendParams{Provider: "openai"}, used, "openai", ""},
		{"request names the session's provider: its model stays", SendParams{Provider: "anthropic"}, used, "anthropic", "claude-b"},
		{"request names a model only", SendParams{Model: "claude-c"}, used, "anthropic", "claude-c"},
		{"request names the defaults' provider", SendParams{Provider: "mistral", Defaults: Defaults{Provider: "mistral", Model: "m-small"}}, used, "mistral", "m-small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			provider, model := pickModel(tc.p, tc.history, "echo")
			if provider != tc.provider || model != tc.model {
				t.Errorf("got %s/%s, want %s/%s", provider, model, tc.provider, tc.model)
			}
		})
	}
}

func TestPrompt(t *testing.T) {
	m := Message{Content: "why?", Context: []ContextItem{
		{URI: "file:///w/a.go", LanguageID: "go", Text: "x := \"```\"\n", Range: &Range{Start: Position{Line: 1}, End: Position{Line: 3}}},
		{URI: "file:///w/b.txt", Text: "no newline"},
	}}
	want := "File: file:///w/a.go (lines 2-3)\n````go\nx := \"```\"\n````\n\n" +
		"File: file:///w/b.txt\n```\nno newline\n```\n\n" +
		"why?"
	if got := Prompt(m); got != want {
		t.Errorf("Prompt =\n%s\nwant\n%s", got, want)
	}
	if got := Prompt(Message{Content: "plain"}); got != "plain" {
		t.Errorf("Prompt without context = %q", got)
	}
}

// TestCheckpointsNeverOutliveTheLastSave runs turns while the checkpointer
// saves every millisecond, so that one is often being written as a turn
// ends: what is stored at the end is the whole reply, not interrupted, and
// never a checkpoint that landed after it.
func TestCheckpointsNeverOutliveTheLastSave(t *testing.T) {
	srv := providertest.NewServer()
	t.Cleanup(srv.Close)
	srv.Pace = time.Millisecond
	env := map[string]string{"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": srv.BaseURL()}
	c := &Chat{
		Store:      newStore(t),
		Providers:  providers.NewRegistry(providers.Options{Getenv: func(k string) string { return env[k] }}),
		Checkpoint: time.Millisecond,
		// A checkpoint copied just before a turn ends is written well
		// after it, unless the turn waits for it.
		beforeCheckpoint: func() { time.Sleep(5 * time.Millisecond) },
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 5 {
				turn, err := c.Begin(ctx, SendParams{Workspace: fmt.Sprintf("/w/%d", i), Message: "slow 20", Provider: "openai"})
				if err != nil {
					t.Error(err)
					return
				}
				var streamed strings.Builder
				if _, _, err := turn.Run(ctx, func(s string) { streamed.WriteString(s) }); err != nil {
					t.Error(err)
					return
				}
				msgs, err := c.Store.Messages(ctx, turn.SessionID)
				if err != nil {
					t.Error(err)
					return
				}
				last := msgs[len(msgs)-1]
				if last.ID != turn.MessageID || last.Interrupted || last.Content != streamed.String() {
					t.Errorf("stored %q (interrupted %v), want %q whole", last.Content, last.Interrupted, streamed.String())
				}
			}
		})
	}
	wg.Wait()
}
