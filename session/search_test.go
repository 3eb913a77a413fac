package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

func TestSearch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := mustNew(t, s, "/w/a", "")
	mustPut(t, s, a.ID,
		user("leak", "Why does this goroutine leak? I start it in a loop and the channel is never closed, so it blocks forever on receive."),
		reply("fix", "Close the channel when the producer is done, or pass a context."),
		user("cafe", "The café example is in Straße.go."))
	b := mustNew(t, s, "/w/b", "")
	mustPut(t, s, b.ID, user("other", "A channel in another workspace."))

	search := func(query, ws string) []Hit {
		t.Helper()
		hits, err := s.Search(ctx, query, ws)
		if err != nil {
			t.Fatalf("Search(%q, %q): %v", query, ws, err)
		}
		return hits
	}
	messages := func(hits []Hit) string {
		var out []string
		for _, h := range hits {
			out = append(out, h.MessageID)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}

	tests := []struct {
		query, workspace, want string
	}{
		{"channel", "", "fix leak other"},
		{"channel", "file:///w/a/", "fix leak"},
		{"CHANNEL", "/w/b", "other"},
		{"goroutine channel", "", "leak"},
		{"goroutine workspace", "", ""},
		{"cafe", "", "cafe"},
		{"chan", "", ""},
	}
	for _, tt := range tests {
		if got := messages(search(tt.query, tt.workspace)); got != tt.want {
			t.Errorf("Search(%q, %q) = [%s], want [%s]", tt.query, tt.workspace, got, tt.want)
		}
	}

	hits := search("closed", "/w/a")
	if len(hits) != 1 || hits[0].SessionID != a.ID || hits[0].MessageID != "leak" {
		t.Fatalf("hits = %+v", hits)
	}
	if got, want := search("channel closed", "")[0].Snippet, "the «channel» is never «closed»"; !strings.Contains(got, want) {
		t.Errorf("snippet %q does not contain %q", got, want)
	}
	if n := len(strings.Fields(hits[0].Snippet)); n > 13 {
		t.Errorf("snippet %q has %d words", hits[0].Snippet, n)
	}

	// The best match comes first.
	mustPut(t, s, b.ID, user("many", "channel channel channel: a channel of channels"))
	if hits := search("channel", ""); hits[0].MessageID != "many" {
		t.Errorf("first hit %s, want many", hits[0].MessageID)
	}

	// The index follows updates and deletes.
	mustPut(t, s, a.ID, reply("fix", "Use a WaitGroup."))
	if got := messages(search("waitgroup", "")); got != "fix" {
		t.Errorf("after update: [%s]", got)
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := messages(search("channel", "")); got != "many other" {
		t.Errorf("after delete: [%s]", got)
	}
	if _, err := s.db.Exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("index out of step with messages: %v", err)
	}
}

func TestSearchQuerySyntax(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, mustNew(t, s, "/w", "").ID, user("m", `Call f("x") - then *NOT* (a OR b): col:value NEAR done`))
	for _, q := range []string{
		`"`, `""`, `"unterminated`, `f("x")`, `*`, `a*`, `-then`, `NOT`, `a OR b`, `AND`, `(a`, `b)`,
		`col:value`, `NEAR(a b)`, `^start`, `{a b}`, `+`, `'`, `\`, `%`, `;DROP TABLE messages`,
	} {
		if _, err := s.Search(context.Background(), q, ""); err != nil {
			t.Errorf("Search(%q): %v", q, err)
		}
	}
	hits, err := s.Search(context.Background(), `"col:value"`, "")
	if err != nil || len(hits) != 1 {
		t.Errorf("Search of quoted punctuation: %v, %v", hits, err)
	}
	for _, q := range []string{"", "  \t\n"} {
		if _, err := s.Search(context.Background(), q, ""); err == nil {
			t.Errorf("Search(%q) succeeded", q)
		}
	}
}

// BenchmarkSearch100k searches 100,000 messages of words drawn from a
// Zipf distribution, as words are in text, for a word about as common as a
// technical term is (in about 1% of messages).
func BenchmarkSearch100k(b *testing.B) {
	const sessions, perSession, words = 100, 1000, 30
	ctx := context.Background()
	s := newStore(b)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, 20000)
	for i := range sessions {
		sess := mustNew(b, s, fmt.Sprintf("/w/%d", i%4), "")
		msgs := make([]*Message, perSession)
		for j := range msgs {
			var text strings.Builder
			for range words {
				fmt.Fprintf(&text, "w%d ", zipf.Uint64())
			}
			msgs[j] = user("", text.String())
			if rng.IntN(2) == 0 {
				msgs[j] = reply("", text.String())
			}
		}
		mustPut(b, s, sess.ID, msgs...)
	}
	for _, bm := range []struct{ name, query, workspace string }{
		{"word", "w60", ""},
		{"two words", "w60 w5", ""},
		{"workspace", "w60", "/w/1"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hits, err := s.Search(ctx, bm.query, bm.workspace)
				if err != nil || len(hits) == 0 {
					b.Fatal(len(hits), err)
				}
			}
		})
	}
}
