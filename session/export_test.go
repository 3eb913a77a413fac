package session

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
			ID: "m1", Role: RoleUser, CreatedAt: at(0),
			Content: "How do I read a file line by line?\nThis is what I have:",
			Context: []ContextItem{{
				URI: "file:///home/ana/src/tinychat/main.go", LanguageID: "go",
				Text:  "// Usage: ```tinychat ask```\nfunc main() {\n\tdata, _ := os.ReadFile(\"notes.txt\")\n}\n",
				Range: &Range{Start: Position{Line: 9}, End: Position{Line: 13}},
			}},
		},
		{
			ID: "m2", Role: RoleAssistant, CreatedAt: at(1), Provider: "openai", Model: "gpt-4.1-mini",
			Usage:      &Usage{InputTokens: 52, OutputTokens: 31},
			StopReason: "end", Reasoning: "The user wants lines, not the whole file.\nA bufio.Scanner does that.\n",
			ReasoningData: `[{"type":"thinking","thinking":"…","signature":"c2ln"}]`,
			Content:       "Use a `bufio.Scanner`:\n\n```go\nsc := bufio.NewScanner(f)\nfor sc.Scan() {\n\tfmt.Println(sc.Text())\n}\n```\n",
		},
		{ID: "m3", Role: RoleUser, CreatedAt: at(2), Content: "And for lines longer than 64 KiB?"},
		{
			ID: "m4", Role: RoleAssistant, CreatedAt: at(3), Provider: "anthropic", Model: "claude-sonnet-4-5",
			Interrupted: true, StopReason: "cancelled", Content: "Let me check the file. Give the scanner a bigger buffer with `sc.Buffer(make([]byte, 1<<20), 1<<20)` and",
			ToolCalls: []ToolCall{
				{ID: "toolu_1", Name: "read_file", Arguments: `{"path":"main.go"}`, Status: "completed", Output: "package main\n\nfunc main() {}\n", TextOffset: 22},
				{ID: "toolu_2", Name: "fs__write", Server: "fs", Arguments: `{}`, Status: "rejected", Output: "The user declined this call.", TextOffset: 22},
			},
		},
	}
	return sess, msgs
}

func TestExportGolden(t *testing.T) {
	sess, msgs := fixture()
	for format, file := range map[string]string{"text": "export.txt", "markdown": "export.md", "json": "export.json"} {
		t.Run(format, func(t *testing.T) {
			got, err := render(format, sess, msgs)
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
			got, err := render(tt.format, sess, msgs)
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

// render is what Export writes for sess and msgs in format.
func render(format string, sess *Session, msgs []Message) (string, error) {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	e := formats[format].new(w, sess)
	for i := range msgs {
		e.message(&msgs[i])
	}
	if err := e.end(); err != nil {
		return "", err
	}
	err := w.Flush()
	return b.String(), err
}

// exportString is Export into a string.
func exportString(ctx context.Context, s *Store, id, format string) (string, error) {
	var b strings.Builder
	err := s.Export(ctx, &b, id, format)
	return b.String(), err
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sess := putFixture(t, s, "/w")
	_, msgs := fixture()
	for format := range formats {
		got, err := exportString(ctx, s, sess.ID, format)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := render(format, sess, msgs)
		if got != want {
			t.Errorf("Export %s of the stored fixture:\n%s\nwant\n%s", format, got, want)
		}
	}
	if _, err := exportString(ctx, s, sess.ID, "pdf"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"pdf"`) {
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
	content, err := exportString(ctx, s, orig.ID, "json")
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
		again, err := exportString(ctx, s, sess.ID, "json")
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
			msgs[i].Usage = &Usage{InputTokens: i, OutputTokens: 100}
		}
	}
	mustPut(b, s, sess.ID, msgs...)
	// read is the part every format shares: reading the messages.
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Messages(ctx, sess.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, format := range []string{"text", "markdown", "json"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// Discarded: the daemon and the command line write an
				// export out as it comes.
				if err := s.Export(ctx, io.Discard, sess.ID, format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// encodingJSON is the json format as encoding/json writes it, which
// the json exporter must match byte for byte.
func encodingJSON(sess *Session, msgs []Message) (string, error) {
	var compact, out bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(exportFile{Version: exportVersion, Session: *sess, Messages: msgs}); err != nil {
		return "", err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return "", err
	}
	return out.String(), nil
}

// sameAsEncodingJSON checks the json exporter against encodingJSON: the same
// bytes, or an error from both.
func sameAsEncodingJSON(t *testing.T, sess *Session, msgs []Message) {
	t.Helper()
	if msgs == nil {
		msgs = []Message{} // a session's messages, however few, are a list
	}
	want, werr := encodingJSON(sess, msgs)
	got, err := render("json", sess, msgs)
	switch {
	case (err != nil) != (werr != nil):
		t.Fatalf("json exporter: error %v; encoding/json: error %v", err, werr)
	case got != want:
		t.Fatalf("json exporter differs from encoding/json:\n got %q\nwant %q", got, want)
	}
}

// randomString draws from what JSON quoting treats differently: quotes,
// backslashes, control characters, HTML's <>&, multi-byte and invalid
// UTF-8, U+2028 and U+2029.
func randomString(rng *rand.Rand) string {
	pieces := []string{"a", "Z", " ", "word ", "\"", "\\", "/", "<", ">", "&", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
		"é", "日本", "🙂", "\u2028", "\u2029", "\ufffd", "\xff", "\xe2\x80", "\xc3", "\xed\xa0\x80", "```go\n", "\\u0041"}
	var b strings.Builder
	for range rng.IntN(12) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

func randomTime(rng *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("X", -8*3600), time.Local}
	var t time.Time
	switch rng.IntN(4) {
	case 0:
		t = time.UnixMilli(rng.Int64N(4e12)).UTC() // as the store keeps them
	case 1:
		t = time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9)) // years out of range too
	case 2:
		t = time.Time{}
	default:
		t = time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
	}
	return t.In(zones[rng.IntN(len(zones))])
}

func randomMessages(rng *rand.Rand) []Message {
	if rng.IntN(20) == 0 {
		return nil
	}
	msgs := make([]Message, rng.IntN(4))
	for i := range msgs {
		m := &msgs[i]
		m.ID, m.Role, m.Content = randomString(rng), []string{"user", "assistant", randomString(rng)}[rng.IntN(3)], randomString(rng)
		m.CreatedAt = randomTime(rng)
		if rng.IntN(2) == 0 {
			m.Provider, m.Model = randomString(rng), randomString(rng)
		}
		if rng.IntN(2) == 0 {
			m.Usage = &Usage{InputTokens: rng.IntN(1 << 20), OutputTokens: rng.IntN(1<<20) - 1<<19}
		}
		m.Interrupted = rng.IntN(3) == 0
		switch rng.IntN(3) {
		case 0:
			m.Context = []ContextItem{}
		case 1:
			for range 1 + rng.IntN(2) {
				c := ContextItem{URI: randomString(rng), Text: randomString(rng)}
				if rng.IntN(2) == 0 {
					c.LanguageID = randomString(rng)
				}
				if rng.IntN(2) == 0 {
					c.Range = &Range{Start: Position{Line: rng.IntN(100), Character: rng.IntN(3) - 1}, End: Position{Line: rng.IntN(1 << 30)}}
				}
				m.Context = append(m.Context, c)
			}
		}
		if rng.IntN(2) == 0 {
			m.StopReason, m.Reasoning, m.ReasoningData = randomString(rng), randomString(rng), randomString(rng)
		}
		switch rng.IntN(3) {
		case 0:
			m.ToolCalls = []ToolCall{}
		case 1:
			for range 1 + rng.IntN(2) {
				c := ToolCall{ID: randomString(rng), Name: randomString(rng), Arguments: randomString(rng), Status: randomString(rng), TextOffset: rng.IntN(1<<20) - 5}
				if rng.IntN(2) == 0 {
					c.Server, c.Output = randomString(rng), randomString(rng)
				}
				m.ToolCalls = append(m.ToolCalls, c)
			}
		}
	}
	return msgs
}

// TestExportJSONMatchesEncodingJSON compares the json exporter with encoding/json
// on random sessions.
func TestExportJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 5000 {
		sess := &Session{ID: randomString(rng), Workspace: randomString(rng), Title: randomString(rng),
			CreatedAt: randomTime(rng), UpdatedAt: randomTime(rng), MessageCount: rng.IntN(1<<31) - 1<<30, Current: rng.IntN(2) == 0}
		sameAsEncodingJSON(t, sess, randomMessages(rng))
	}
	sess, msgs := fixture()
	sameAsEncodingJSON(t, sess, msgs)
	sameAsEncodingJSON(t, sess, []Message{})
}

// TestExportJSONFields fails when a type the json format holds gains,
// loses or renames a field: the json exporter writes each field by hand and
// must then be told.
func TestExportJSONFields(t *testing.T) {
	for typ, want := range map[reflect.Type]string{
		reflect.TypeFor[exportFile]():  "version session messages",
		reflect.TypeFor[Session]():     "id workspace title createdAt updatedAt messageCount current",
		reflect.TypeFor[Message]():     "id role content createdAt provider,omitempty model,omitempty usage,omitempty interrupted,omitempty context,omitempty stopReason,omitempty reasoning,omitempty reasoningData,omitempty toolCalls,omitempty",
		reflect.TypeFor[ToolCall]():    "id name server,omitempty arguments status output,omitempty textOffset",
		reflect.TypeFor[Usage]():       "inputTokens outputTokens",
		reflect.TypeFor[ContextItem](): "uri text languageId,omitempty range,omitempty",
		reflect.TypeFor[Range]():       "start end",
		reflect.TypeFor[Position]():    "line character",
	} {
		var tags []string
		for f := range typ.Fields() {
			tags = append(tags, f.Tag.Get("json"))
		}
		if got := strings.Join(tags, " "); got != want {
			t.Errorf("%v has the json fields %q; the json exporter writes %q: teach it the change", typ, got, want)
		}
	}
}

func FuzzExportJSON(f *testing.F) {
	f.Add("m1", "How do I read a file?\n```go\nx := \"<a>\"\n```", "openai", "// \u2028 \xff", int64(1741944360000), 52, uint8(0xff))
	f.Add("", "", "", "", int64(-62135596800001), -1, uint8(0))
	f.Fuzz(func(t *testing.T, id, content, provider, text string, at int64, tokens int, flags uint8) {
		created := time.UnixMilli(at).UTC()
		if flags&1 != 0 {
			created = time.Unix(at, int64(tokens)).In(time.FixedZone("", tokens%(24*3600)))
		}
		m := Message{ID: id, Role: provider, Content: content, CreatedAt: created, Provider: provider, Model: text, Interrupted: flags&2 != 0}
		if flags&4 != 0 {
			m.Usage = &Usage{InputTokens: tokens, OutputTokens: int(at)}
		}
		if flags&8 != 0 {
			m.Context = []ContextItem{{URI: id, Text: text, LanguageID: content}}
		}
		if flags&16 != 0 {
			m.Context = append(m.Context, ContextItem{Text: content, Range: &Range{End: Position{Line: tokens, Character: int(flags)}}})
		}
		if flags&64 != 0 {
			m.StopReason, m.Reasoning, m.ReasoningData = provider, text, content
		}
		sess := &Session{ID: id, Workspace: text, Title: content, CreatedAt: created, UpdatedAt: time.UnixMilli(at), MessageCount: tokens, Current: flags&32 != 0}
		sameAsEncodingJSON(t, sess, []Message{m, {Content: text}})
	})
}
