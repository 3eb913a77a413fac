package chat

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

func TestPick(t *testing.T) {
	used := []session.Message{
		{Role: "user", Content: "q"},
		{Role: "assistant", Provider: "openai", Model: "gpt-a"},
		{Role: "user", Content: "q2"},
		{Role: "assistant", Provider: "anthropic", Model: "claude-b"},
	}
	for _, tc := range []struct {
		name            string
		r               Request
		history         []session.Message
		provider, model string
	}{
		{"fresh session: registry default", Request{}, nil, "echo", ""},
		{"fresh session: defaults", Request{Settings: Settings{Provider: "mistral", Model: "m-large"}}, nil, "mistral", "m-large"},
		{"resumed session keeps its last provider and model over defaults", Request{Settings: Settings{Provider: "mistral", Model: "m-large"}}, used, "anthropic", "claude-b"},
		{"request names a provider: its default model", Request{Provider: "openai"}, used, "openai", ""},
		{"request names the session's provider: its model stays", Request{Provider: "anthropic"}, used, "anthropic", "claude-b"},
		{"request names a model only", Request{Model: "claude-c"}, used, "anthropic", "claude-c"},
		{"request names the defaults' provider", Request{Provider: "mistral", Settings: Settings{Provider: "mistral", Model: "m-small"}}, used, "mistral", "m-small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			provider, model := pick(tc.r, tc.history, "echo")
			if provider != tc.provider || model != tc.model {
				t.Errorf("got %s/%s, want %s/%s", provider, model, tc.provider, tc.model)
			}
		})
	}
}

func TestSameModel(t *testing.T) {
	for _, tc := range []struct {
		stored, asked string
		same          bool
	}{
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", true},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5", true},
		{"gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", true},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4", false},
		{"gpt-4.1-mini-2025-04-14", "gpt-4.1", false},
		{"gemini-2.5-flash", "gemini-2.5", false},
		{"qwen3-8b", "qwen3", false},
		{"model-v2", "model", false},
		{"m", "", false},
	} {
		if got := sameModel(tc.stored, tc.asked); got != tc.same {
			t.Errorf("sameModel(%q, %q) = %v, want %v", tc.stored, tc.asked, got, tc.same)
		}
	}
}

// TestCheckpointsNeverOutliveTheLastSave runs turns while the checkpointer
// saves every millisecond, so that one is often being written as a turn
// ends: what is stored at the end is the whole reply, not interrupted, and
// never a checkpoint that landed after it.
func TestCheckpointsNeverOutliveTheLastSave(t *testing.T) {
	srv := providertest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetPace(time.Millisecond)
	env := map[string]string{"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": srv.BaseURL()}
	c := &Engine{
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
				turn, err := c.Begin(ctx, Request{Workspace: fmt.Sprintf("/w/%d", i), Message: "slow 20", Provider: "openai"})
				if err != nil {
					t.Error(err)
					return
				}
				var streamed strings.Builder
				if _, err := turn.Run(ctx, func(e Event) { streamed.WriteString(e.Text) }); err != nil {
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

// newStore opens a store in a temporary file, closed when the test ends.
func newStore(t testing.TB) *session.Store {
	t.Helper()
	s, err := session.Open(filepath.Join(t.TempDir(), "tinychat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestHistoryOfToolCalls turns a stored reply that called tools in two
// rounds into the messages of its steps: text, calls, results, in the
// order it made them, and the text after.
func TestHistoryOfToolCalls(t *testing.T) {
	m := session.Message{Role: session.RoleAssistant, Provider: "anthropic", Model: "claude-x", Content: "Let me look. Now b. Both say hi.",
		ReasoningData: `[{"type":"thinking"}]`,
		ToolCalls: []session.ToolCall{
			{ID: "1", Name: "read_file", Arguments: `{"path":"a"}`, Status: "completed", Output: "hi", TextOffset: 12},
			{ID: "2", Name: "grep", Arguments: `{}`, Status: "rejected", Output: declined, TextOffset: 12},
			{ID: "3", Name: "read_file", Arguments: `{"path":"b"}`, Status: "running", TextOffset: 19},
		}}
	turn := &Turn{Provider: "anthropic", Model: "claude-x"}
	got := turn.history(m)
	type step struct {
		role, content string
		calls         []string
		results       []string
		opaque        string
	}
	var steps []step
	for _, pm := range got {
		s := step{role: pm.Role, content: pm.Content, opaque: string(pm.Opaque)}
		for _, c := range pm.ToolCalls {
			s.calls = append(s.calls, c.ID+" "+c.Name)
		}
		for _, r := range pm.Results {
			s.results = append(s.results, fmt.Sprintf("%s %s %v", r.CallID, r.Content, r.IsError))
		}
		steps = append(steps, s)
	}
	want := []step{
		{role: "assistant", content: "Let me look.", calls: []string{"1 read_file", "2 grep"}},
		{role: "tool", results: []string{"1 hi false", "2 " + declined + " true"}},
		{role: "assistant", content: " Now b.", calls: []string{"3 read_file"}},
		{role: "tool", results: []string{"3 " + notRun + " true"}},
		{role: "assistant", content: " Both say hi.", opaque: `[{"type":"thinking"}]`},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("history =\n%+v\nwant\n%+v", steps, want)
	}
}

// TestNewSession checks Request.New: the turn starts a session of its own
// beside the workspace's current one, which it keeps only if the turn
// leaves a message in it.
func TestNewSession(t *testing.T) {
	srv := providertest.NewServer()
	t.Cleanup(srv.Close)
	env := map[string]string{"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": srv.BaseURL()}
	c := &Engine{Store: newStore(t), Providers: providers.NewRegistry(providers.Options{Getenv: func(k string) string { return env[k] }})}
	ctx := context.Background()
	send := func(r Request) (*Result, error) {
		t.Helper()
		r.Workspace, r.Provider = "/w", "openai"
		turn, err := c.Begin(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return turn.Run(ctx, func(Event) {})
	}
	first, err := send(Request{Message: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(Request{Message: "error 401 bad key", New: true}); err == nil {
		t.Fatal("the failing turn succeeded")
	}
	if list, _ := c.Store.List(ctx, "/w"); len(list) != 1 || list[0].ID != first.SessionID {
		t.Fatalf("after a failed turn in a new session: %+v; want the first session alone", list)
	}
	second, err := send(Request{Message: "second", New: true})
	if err != nil || second.SessionID == first.SessionID {
		t.Fatalf("new session: %+v, %v", second, err)
	}
	if cur, err := c.Store.Current(ctx, "/w"); err != nil || cur.ID != second.SessionID || cur.MessageCount != 2 {
		t.Errorf("current = %+v, %v; want the new session, with its turn", cur, err)
	}
}

// TestCheckpointsAddOnlyNewText reads the store while a reply streams with
// a checkpoint every millisecond: what it holds is always a prefix of what
// has streamed, so each checkpoint added its new text once, and never
// again what an earlier one saved.
func TestCheckpointsAddOnlyNewText(t *testing.T) {
	srv := providertest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetPace(2 * time.Millisecond)
	env := map[string]string{"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": srv.BaseURL()}
	c := &Engine{
		Store:      newStore(t),
		Providers:  providers.NewRegistry(providers.Options{Getenv: func(k string) string { return env[k] }}),
		Checkpoint: time.Millisecond,
	}
	ctx := context.Background()
	turn, err := c.Begin(ctx, Request{Workspace: "/w", Message: "slow 40", Provider: "openai"})
	if err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	seen := map[int]bool{}
	if _, err := turn.Run(ctx, func(e Event) {
		streamed.WriteString(e.Text)
		msgs, err := c.Store.Messages(ctx, turn.SessionID)
		if err != nil {
			t.Error(err)
			return
		}
		if last := msgs[len(msgs)-1]; last.ID == turn.MessageID {
			if !strings.HasPrefix(streamed.String(), last.Content) {
				t.Errorf("stored %q while %q had streamed", last.Content, streamed.String())
			}
			seen[len(last.Content)] = true
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) < 3 {
		t.Errorf("the reply was seen stored at %d lengths, want checkpoints at 3 or more", len(seen))
	}
}
