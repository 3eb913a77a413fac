package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is a conversation with every feature the formats show: context
// with backticks in it, two providers, usage, an interrupted reply.
func fixture() (*Session, []Message) {
	at := func(min int) time.Time {
		return time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)
	}
	sess := &Session{
		ID: "5f3a9c1e2b7d4a60", Workspace: "/home/ana/src/tinychat", Title: "How do I read a file line by line?",
		CreatedAt: at(0), UpdatedAt: at(3), MessageCount: 4, Current: true,
	}
	msgs := []Message{
		{
			ID: "m1", Role: providers.RoleUser, CreatedAt: at(0),
			Content: "How do I read a file line by line?\nThis is what I have:",
			Context: []ContextItem{{
				URI: "file:///home/ana/src/tinychat/main.go", LanguageID: "go",
				Text:  "// Usage: ```tinychat ask```\nfunc main() {\n\tdata, _ := os.ReadFile(\"notes.txt\")\n}\n",
				Range: &Range{Start: Position{Line: 9}, End: Position{Line: 13}},
			}},
		},
		{
			ID: "m2", Role: providers.RoleAssistant, CreatedAt: at(1), Provider: "openai", Model: "gpt-4.1-mini",
			Usage:   &providers.Usage{InputTokens: 52, OutputTokens: 31},
			Content: "Use a `bufio.Scanner`:\n\n```go\nsc := bufio.NewScanner(f)\nfor sc.Scan() {\n\tfmt.Println(sc.Text())\n}\n```\n",
		},
		{ID: "m3", Role: providers.RoleUser, CreatedAt: at(2), Content: "And for lines longer than 64 KiB?"},
		{
			ID: "m4", Role: providers.RoleAssistant, CreatedAt: at(3), Provider: "anthropic", Model: "claude-sonnet-4-5",
			Interrupted: true, Content: "Give the scanner a bigger buffer with `sc.Buffer(make([]byte, 1<<20), 1<<20)` and",
		},
	}
	return sess, msgs
}

func TestExportGolden(t *testing.T) {
	sess, msgs := fixture()
	for format, file := range map[string]string{"text": "export.txt", "markdown": "export.md", "json": "export.json"} {
		t.Run(format, func(t *testing.T) {
			got, err := formats[format](sess, msgs)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", file)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s export differs from %s (go test -update rewrites it):\n%s", format, golden, got)
			}
			if !strings.HasSuffix(got, "\n") || strings.HasSuffix(got, "\n\n") {
				t.Errorf("%s export does not end in exactly one newline", format)
			}
		})
	}
}

func TestExportEdges(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	sess := &Session{ID: "s", Workspace: "/w", CreatedAt: at, UpdatedAt: at}
	tests := []struct {
		name   string
		format string
		msgs   []Message
		want   string
	}{
		{"text trailing newlines", "text", []Message{{Role: "user", Content: "a\n\n"}, {Role: "assistant", Content: "b\r\n"}}, "You: a\n\nLLM: b\n"},
		{"text empty", "text", nil, ""},
		{"markdown untitled, no model", "markdown", []Message{{Role: "user", Content: "hi"}}, "# Untitled session\n\n## You\n\nhi\n"},
		{"markdown empty interrupted reply", "markdown", []Message{{Role: "assistant", Model: "m", Interrupted: true}}, "# Untitled session\n\n*m*\n\n## Assistant\n\n*(interrupted)*\n"},
		{
			"markdown models in order of first use", "markdown",
			[]Message{{Role: "assistant", Provider: "b", Model: "2", Content: "x"}, {Role: "assistant", Provider: "a", Model: "1", Content: "y"}, {Role: "assistant", Provider: "b", Model: "2", Content: "z"}},
			"# Untitled session\n\n*b · 2, a · 1*\n\n## Assistant\n\nx\n\n## Assistant\n\ny\n\n## Assistant\n\nz\n",
		},
		{"json empty", "json", nil, `{
  "version": 1,
  "session": {
    "id": "s",
    "workspace": "/w",
    "title": "",
    "createdAt": "2025-01-02T03:04:05Z",
    "updatedAt": "2025-01-02T03:04:05Z",
    "messageCount": 0,
    "current": false
  },
  "messages": []
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := tt.msgs
			if msgs == nil {
				msgs = []Message{}
			}
			got, err := formats[tt.format](sess, msgs)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestContextName(t *testing.T) {
	rng := func(l1, c1, l2, c2 int) *Range {
		return &Range{Start: Position{Line: l1, Character: c1}, End: Position{Line: l2, Character: c2}}
	}
	tests := []struct {
		item ContextItem
		want string
	}{
		{ContextItem{URI: "file:///src/main.go"}, "main.go"},
		{ContextItem{URI: "file:///src/my%20file.go"}, "my file.go"},
		{ContextItem{URI: "/src/main.go", Range: rng(0, 0, 0, 5)}, "main.go (line 1)"},
		{ContextItem{URI: "/src/main.go", Range: rng(2, 0, 4, 3)}, "main.go (lines 3-5)"},
		{ContextItem{URI: "/src/main.go", Range: rng(2, 0, 4, 0)}, "main.go (lines 3-4)"},
		{ContextItem{URI: "untitled:Untitled-1", Range: rng(2, 4, 3, 0)}, "untitled:Untitled-1 (line 3)"},
	}
	for _, tt := range tests {
		if got := contextName(tt.item); got != tt.want {
			t.Errorf("contextName(%+v) = %q, want %q", tt.item, got, tt.want)
		}
	}
}

// putFixture stores the fixture's messages in a new session of workspace.
func putFixture(t testing.TB, s *Store, workspace string) *Session {
	t.Helper()
	_, msgs := fixture()
	sess := mustNew(t, s, workspace, "")
	for i := range msgs {
		mustPut(t, s, sess.ID, &msgs[i])
	}
	got, err := s.Session(context.Background(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sess := putFixture(t, s, "/w")
	_, msgs := fixture()
	for format := range formats {
		got, err := s.Export(ctx, sess.ID, format)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := formats[format](sess, msgs)
		if got != want {
			t.Errorf("Export %s of the stored fixture:\n%s\nwant\n%s", format, got, want)
		}
	}
	if _, err := s.Export(ctx, sess.ID, "pdf"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"pdf"`) {
		t.Errorf("Export pdf: %v, want ErrFormat naming it", err)
	}
}

// sameMessages compares every field of two message lists but the ids.
func sameMessages(t *testing.T, got, want []Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		for _, f := range []struct {
			name string
			ok   bool
		}{
			{"role", g.Role == w.Role},
			{"content", g.Content == w.Content},
			{"createdAt", g.CreatedAt.Equal(w.CreatedAt)},
			{"provider", g.Provider == w.Provider},
			{"model", g.Model == w.Model},
			{"usage", reflect.DeepEqual(g.Usage, w.Usage)},
			{"interrupted", g.Interrupted == w.Interrupted},
			{"context", reflect.DeepEqual(g.Context, w.Context)},
		} {
			if !f.ok {
				t.Errorf("message %d: %s differs:\n got %+v\nwant %+v", i, f.name, g, w)
			}
		}
	}
}

func TestImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	orig := putFixture(t, s, "/w/from")
	content, err := s.Export(ctx, orig.ID, "json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Messages(ctx, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range want {
		seen[m.ID] = true
	}
	// Twice, to show that the second import does not collide with the first.
	for range 2 {
		sess, err := s.Import(ctx, "file:///w/to/", content)
		if err != nil {
			t.Fatal(err)
		}
		if seen[sess.ID] || sess.Workspace != "/w/to" || !sess.Current || sess.Title != orig.Title ||
			sess.MessageCount != len(want) || !sess.CreatedAt.Equal(orig.CreatedAt) {
			t.Errorf("imported session = %+v, from %+v", sess, orig)
		}
		seen[sess.ID] = true
		got, err := s.Messages(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameMessages(t, got, want)
		for _, m := range got {
			if seen[m.ID] {
				t.Errorf("imported message kept id %s", m.ID)
			}
			seen[m.ID] = true
		}
	}

	// The golden file imports too, into the workspace it names.
	golden, err := os.ReadFile(filepath.Join("testdata", "export.json"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Import(ctx, "", string(golden))
	if err != nil {
		t.Fatal(err)
	}
	if sess.Workspace != "/home/ana/src/tinychat" {
		t.Errorf("imported into %q", sess.Workspace)
	}
	got, err := s.Messages(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, msgs := fixture()
	sameMessages(t, got, msgs)
}

func TestImportBad(t *testing.T) {
	msg := func(fields string) string {
		return `{"version": 1, "session": {"workspace": "/w"}, "messages": [{"role": "user", "content": "x"}, {` + fields + `}]}`
	}
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", "EOF"},
		{"not json", "You: hello", "invalid character"},
		{"array", "[]", "cannot unmarshal array"},
		{"no version", `{"messages": []}`, "no version"},
		{"newer version", `{"version": 2, "messages": []}`, "version 2 is not supported"},
		{"no messages", `{"version": 1}`, "no messages"},
		{"messages not a list", `{"version": 1, "messages": {}}`, "cannot unmarshal object"},
		{"bad role", msg(`"role": "system", "content": "x"`), `messages[1]: role "system"`},
		{"bad time", msg(`"role": "user", "createdAt": "yesterday"`), "yesterday"},
		{"time out of range", msg(`"role": "user", "createdAt": "0000-01-01T00:00:00+01:00"`), "messages[1]: createdAt"},
		{"usage not an object", msg(`"role": "user", "usage": 3`), "usage"},
		{"trailing data", `{"version": 1, "session": {"workspace": "/w"}, "messages": []} {}`, "more data"},
		{"no workspace", `{"version": 1, "messages": []}`, "session.workspace"},
		{"relative workspace", `{"version": 1, "session": {"workspace": "w"}, "messages": []}`, "session.workspace"},
	}
	s := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Import(context.Background(), "", tt.content)
			if !errors.Is(err, ErrImport) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import: %v, want ErrImport saying %q", err, tt.want)
			}
		})
	}
	if list, _ := s.List(context.Background(), ""); len(list) != 0 {
		t.Errorf("failed imports left %d sessions", len(list))
	}
}

func FuzzImport(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "export.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(golden),
		"",
		"{}",
		`{"version": 1, "session": {"workspace": "/w"}, "messages": []}`,
		`{"version": 1, "session": {"workspace": "file:///w%20x"}, "messages": [{"role": "assistant", "usage": {"inputTokens": -1}, "context": [{"range": {}}]}]}`,
		`{"version": 1, "messages": [{"role": "user", "createdAt": "9999-12-31T23:59:59-01:00"}]}`,
		"\x00\xff",
	} {
		f.Add(seed)
	}
	s, err := Open(Memory)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, content string) {
		sess, err := s.Import(ctx, "", content)
		if err != nil {
			if !errors.Is(err, ErrImport) {
				t.Fatalf("Import: %v, not an ErrImport", err)
			}
			return
		}
		// What was imported exports and imports again, unchanged.
		again, err := s.Export(ctx, sess.ID, "json")
		if err != nil {
			t.Fatal(err)
		}
		dup, err := s.Import(ctx, "", again)
		if err != nil {
			t.Fatalf("re-import: %v", err)
		}
		want, _ := s.Messages(ctx, sess.ID)
		got, _ := s.Messages(ctx, dup.ID)
		sameMessages(t, got, want)
	})
}

func BenchmarkExport10k(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	sess := mustNew(b, s, "/w", "")
	msgs := make([]*Message, 10000)
	for i := range msgs {
		if i%2 == 0 {
			msgs[i] = user("", fmt.Sprintf("Question %d: how does this part of the program work, and why?", i))
		} else {
			msgs[i] = reply("", strings.Repeat(fmt.Sprintf("Answer %d explains it in a few sentences. ", i), 8))
			msgs[i].Usage = &providers.Usage{InputTokens: i, OutputTokens: 100}
		}
	}
	mustPut(b, s, sess.ID, msgs...)
	for _, format := range []string{"text", "markdown", "json"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Export(ctx, sess.ID, format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzIndent(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "export.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(golden), `{}`, `[]`, `[{}, [], ""]`, `{"a": [1, {"b": null}], "c": "x\"y\\"}`,
		`"\\\\\""`, `{"k\"": "v\\", "e": {}}`, `[true, false, -1.5e3]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var compact bytes.Buffer
		if json.Compact(&compact, []byte(in)) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indent(nil, compact.Bytes()); string(got) != want.String() {
			t.Errorf("indent(%s) =\n%s\nwant\n%s", compact.Bytes(), got, want.Bytes())
		}
	})
}
