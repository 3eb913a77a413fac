package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// newStore opens a store in a fresh file that is closed when the test ends.
func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "tinychat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustNew(t testing.TB, s *Store, workspace, title string) *Session {
	t.Helper()
	sess, err := s.New(context.Background(), workspace, title)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func mustPut(t testing.TB, s *Store, id string, msgs ...*Message) {
	t.Helper()
	if err := s.Put(context.Background(), id, msgs...); err != nil {
		t.Fatal(err)
	}
}

func user(id, content string) *Message {
	return &Message{ID: id, Role: RoleUser, Content: content}
}

func reply(id, content string) *Message {
	return &Message{ID: id, Role: RoleAssistant, Content: content, Provider: "echo", Model: "echo"}
}

func sessionIDs(list []Session) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func messageIDs(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"override", map[string]string{"TINYCHAT_DB": "/tmp/x.db", "XDG_DATA_HOME": "/xdg", "HOME": "/home/ana"}, "/tmp/x.db"},
		{"xdg", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/ana"}, "/xdg/tinychat/tinychat.db"},
		{"relative xdg is ignored", map[string]string{"XDG_DATA_HOME": "xdg", "HOME": "/home/ana"}, "/home/ana/.local/share/tinychat/tinychat.db"},
		{"home", map[string]string{"HOME": "/home/ana"}, "/home/ana/.local/share/tinychat/tinychat.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultPath(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("DefaultPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
			t.Fatalf("NewID() = %q, want 16 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "tinychat")
	path := filepath.Join(dir, "tinychat.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	mustPut(t, s, mustNew(t, s, "/w", "").ID, user("", "hello"))
	checkMode(t, dir, 0o700|os.ModeDir)
	checkMode(t, path, 0o600)
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			checkMode(t, p, 0o600)
		}
	}
}

// TestPageCacheBounded checks that every connection of the pool, not just
// the first, has the bounded page cache: it is a per-connection setting.
func TestPageCacheBounded(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var conns []*sql.Conn
	for range maxConns {
		c, err := s.db.Conn(ctx) // held, so that each is a different one
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var size int
		if err := c.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&size); err != nil {
			t.Fatal(err)
		}
		if size != -pageCacheKiB {
			t.Errorf("connection %d: cache_size = %d, want %d (KiB)", i, size, -pageCacheKiB)
		}
	}
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tinychat.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkMode(t, path, 0o600)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != Memory {
		t.Errorf("Path() = %q", s.Path())
	}
	sess := mustNew(t, s, "/w", "")
	// Many goroutines share the one connection without losing the schema.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := s.Put(ctx, sess.ID, user("", fmt.Sprint("message ", i))); err != nil {
				t.Error(err)
			}
			if _, err := s.List(ctx, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	msgs, err := s.Messages(ctx, sess.ID)
	if err != nil || len(msgs) != 10 {
		t.Fatalf("Messages = %d messages, %v; want 10", len(msgs), err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := "/w/a", "/w/b"

	if _, err := s.Current(ctx, a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current of an empty workspace: %v, want ErrNotFound", err)
	}
	one := mustNew(t, s, "file:///w/a/", "one")
	two := mustNew(t, s, "/w/./a", "two")
	three := mustNew(t, s, b, "three")
	if one.Workspace != a || !one.Current || one.Title != "one" || one.MessageCount != 0 || one.CreatedAt.IsZero() || one.CreatedAt.Location() != time.UTC {
		t.Errorf("New = %+v", one)
	}

	list := func(ws string, want ...string) []Session {
		t.Helper()
		got, err := s.List(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(sessionIDs(got), " ") != strings.Join(want, " ") {
			t.Errorf("List(%q) = %v, want %v", ws, sessionIDs(got), want)
		}
		return got
	}
	current := func(ws, want string) {
		t.Helper()
		got, err := s.Current(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want || !got.Current {
			t.Errorf("Current(%q) = %s (current %v), want %s", ws, got.ID, got.Current, want)
		}
	}

	got := list(a, two.ID, one.ID)
	if !got[0].Current || got[1].Current {
		t.Errorf("List: current = %v, %v; want the newest only", got[0].Current, got[1].Current)
	}
	got = list("", three.ID, two.ID, one.ID)
	if !got[0].Current || !got[1].Current || got[2].Current {
		t.Errorf("List all: current = %v %v %v; want each workspace's own", got[0].Current, got[1].Current, got[2].Current)
	}
	current(a, two.ID)

	if err := s.SetCurrent(ctx, one.ID); err != nil {
		t.Fatal(err)
	}
	current(a, one.ID)
	current(b, three.ID)
	// A message makes a session the newest, not the current one.
	mustPut(t, s, two.ID, user("", "hi"))
	list(a, two.ID, one.ID)
	current(a, one.ID)

	renamed, err := s.Rename(ctx, two.ID, "renamed")
	if err != nil {
		t.Fatal(err)
	}
	if renamed.Title != "renamed" || renamed.MessageCount != 1 || renamed.Current || renamed.Workspace != a {
		t.Errorf("Rename = %+v", renamed)
	}
	if renamed, err = s.Rename(ctx, two.ID, ""); err != nil || renamed.Title != "hi" {
		t.Errorf("Rename to \"\" = %+v, %v; want the title of the first user message", renamed, err)
	}

	// Deleting the current session falls back to the newest.
	if err := s.Delete(ctx, one.ID); err != nil {
		t.Fatal(err)
	}
	current(a, two.ID)
	if err := s.Delete(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Current(ctx, a); !errors.Is(err, ErrNotFound) {
		t.Errorf("Current after deleting all: %v, want ErrNotFound", err)
	}
	list(a)
	list("", three.ID)
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const id = "0000000000000000"
	calls := map[string]func() error{
		"Session":    func() error { _, err := s.Session(ctx, id); return err },
		"Messages":   func() error { _, err := s.Messages(ctx, id); return err },
		"SetCurrent": func() error { return s.SetCurrent(ctx, id) },
		"Delete":     func() error { return s.Delete(ctx, id) },
		"Rename":     func() error { _, err := s.Rename(ctx, id, "x"); return err },
		"Put":        func() error { return s.Put(ctx, id, user("", "x")) },
		"Export":     func() error { return s.Export(ctx, io.Discard, id, "text") },
	}
	for name, call := range calls {
		var nf *NotFoundError
		if err := call(); !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) || nf.ID != id {
			t.Errorf("%s: %v, want a NotFoundError for %s", name, err, id)
		}
	}
}

func TestBadWorkspace(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.New(ctx, "relative/dir", ""); err == nil {
		t.Error("New with a relative workspace succeeded")
	}
	if _, err := s.List(ctx, "https://example.com/"); err == nil {
		t.Error("List of an https workspace succeeded")
	}
}

func TestPut(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sess := mustNew(t, s, "/w", "")
	other := mustNew(t, s, "/w", "")

	u1, a1 := user("u1", "question"), reply("a1", "partial")
	a1.Interrupted = true
	mustPut(t, s, sess.ID, u1, a1)
	created := a1.CreatedAt
	if created.IsZero() || created.Location() != time.UTC {
		t.Errorf("Put left CreatedAt %v", created)
	}

	// The reply grows while a new turn is appended: it keeps its place.
	a1 = &Message{ID: "a1", Role: RoleAssistant, Content: "partial and whole", Provider: "openai", Model: "gpt-4.1-mini",
		Usage: &Usage{InputTokens: 3, OutputTokens: 4}}
	mustPut(t, s, sess.ID, a1, user("u2", "again"))
	mustPut(t, s, sess.ID, &Message{Role: RoleAssistant, Content: "no id"})

	msgs, err := s.Messages(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 || strings.Join(messageIDs(msgs[:3]), " ") != "u1 a1 u2" || len(msgs[3].ID) != 16 {
		t.Fatalf("Messages = %v, want u1 a1 u2 and a new id", messageIDs(msgs))
	}
	got := msgs[1]
	if got.Content != "partial and whole" || got.Interrupted || got.Provider != "openai" || got.Model != "gpt-4.1-mini" ||
		*got.Usage != (Usage{InputTokens: 3, OutputTokens: 4}) || !got.CreatedAt.Equal(created) {
		t.Errorf("updated reply = %+v", got)
	}
	if msgs[0].Usage != nil {
		t.Errorf("user message has usage %+v", msgs[0].Usage)
	}
	if checkSeq(t, s, sess.ID) != 4 {
		t.Error("positions are not contiguous")
	}

	after, err := s.Session(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.MessageCount != 4 || after.Title != "question" || after.UpdatedAt.Before(sess.UpdatedAt) {
		t.Errorf("session after Put = %+v", after)
	}

	for name, m := range map[string]*Message{
		"another session's message": user("u1", "stolen"),
		"system role":               {Role: "system", Content: "x"},
		"nil":                       nil,
	} {
		if err := s.Put(ctx, other.ID, m); err == nil {
			t.Errorf("Put of %s succeeded", name)
		}
	}
	if msgs, _ := s.Messages(ctx, sess.ID); msgs[0].Content != "question" {
		t.Errorf("a failed Put changed u1: %q", msgs[0].Content)
	}
}

// TestSaveAll stores the saves of several sessions in one transaction; one
// that fails (a session deleted meanwhile, a bad message) is undone alone.
func TestSaveAll(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := mustNew(t, s, "/w/a", "")
	gone := mustNew(t, s, "/w/a", "")
	b := mustNew(t, s, "/w/b", "")
	mustNew(t, s, "/w/b", "") // current in /w/b until b is saved
	if err := s.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	partial := reply("a1", "partial")
	saves := []Save{
		{SessionID: a.ID, Messages: []*Message{user("u1", "one"), partial}},
		{SessionID: gone.ID, Messages: []*Message{user("", "lost"), reply("", "lost")}},
		{SessionID: b.ID, Messages: []*Message{user("", "two"), nil}},
		{SessionID: b.ID, Messages: []*Message{user("u2", "two"), reply("", "answer")}},
	}
	if err := s.SaveAll(ctx, saves); err != nil {
		t.Fatal(err)
	}
	if saves[0].Err != nil || saves[3].Err != nil || !errors.Is(saves[1].Err, ErrNotFound) || saves[2].Err == nil {
		t.Fatalf("errors %v, %v, %v, %v; want nil, not found, a nil message, nil", saves[0].Err, saves[1].Err, saves[2].Err, saves[3].Err)
	}
	// A checkpoint saved again rewrites the reply; it adds nothing.
	partial.Content = "partial and more"
	if err := s.SaveAll(ctx, saves[:1]); err != nil || saves[0].Err != nil {
		t.Fatal(err, saves[0].Err)
	}
	for _, c := range []struct {
		sess *Session
		want string
	}{{a, "one|partial and more"}, {b, "two|answer"}} {
		msgs, err := s.Messages(ctx, c.sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, m.Content)
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("session %s holds %q, want %q", c.sess.ID, got, c.want)
		}
		checkSeq(t, s, c.sess.ID)
		cur, err := s.Current(ctx, c.sess.Workspace)
		if err != nil || cur.ID != c.sess.ID || cur.MessageCount != 2 {
			t.Errorf("current of %s = %+v, %v; want %s with 2 messages", c.sess.Workspace, cur, err, c.sess.ID)
		}
	}
}

// TestSaveAllAtOnce has many goroutines save at once, as the turns of a
// busy daemon do, so that saves gather into shared transactions: each gets
// its own outcome, and every message is stored once.
func TestSaveAllAtOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustNew(t, s, fmt.Sprintf("/w/%d", i%4), "").ID
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			id := ids[i]
			if i%10 == 9 {
				id = "no-such-session"
			}
			for j := range 5 {
				saves := []Save{{SessionID: id, Messages: []*Message{user("", fmt.Sprint("q", j)), reply("", fmt.Sprint("a", j))}}}
				if err := s.SaveAll(ctx, saves); err != nil {
					t.Error(err)
				}
				if errs[i] == nil {
					errs[i] = saves[0].Err
				}
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		want := 10
		if i%10 == 9 {
			want = 0
			if !errors.Is(errs[i], ErrNotFound) {
				t.Errorf("save to a missing session: %v, want not found", errs[i])
			}
		} else if errs[i] != nil {
			t.Errorf("session %d: %v", i, errs[i])
		}
		if got := checkSeq(t, s, id); got != want {
			t.Errorf("session %d has %d messages, want %d", i, got, want)
		}
	}
}

// checkSeq returns how many messages session id has, failing the test unless
// their positions are 0, 1, 2 and so on.
func checkSeq(t testing.TB, s *Store, id string) int {
	t.Helper()
	var n, distinct, lo, hi int
	err := s.db.QueryRow(`SELECT count(*), count(DISTINCT seq), coalesce(min(seq), 0), coalesce(max(seq), -1) FROM messages WHERE session_id = ?`, id).
		Scan(&n, &distinct, &lo, &hi)
	if err != nil {
		t.Fatal(err)
	}
	if n != distinct || lo != 0 || hi != n-1 {
		t.Errorf("session %s: %d messages at %d distinct positions %d..%d", id, n, distinct, lo, hi)
	}
	return n
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("é", 59) + "xyz"
	tests := []struct {
		name  string
		title string // given to New
		msgs  []*Message
		want  string
	}{
		{"first user message", "", []*Message{user("", "How do I read a file?"), user("", "second")}, "How do I read a file?"},
		{"on one line", "", []*Message{user("", "  first line\n\tsecond   line\n")}, "first line second line"},
		{"60 runes", "", []*Message{user("", long)}, strings.Repeat("é", 59) + "x"},
		{"skips replies", "", []*Message{reply("", "hello"), user("", "mine")}, "mine"},
		{"no user message", "", []*Message{reply("", "hello")}, ""},
		{"given title stays", "Mine", []*Message{user("", "hello")}, "Mine"},
	}
	s := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := mustNew(t, s, "/w", tt.title)
			mustPut(t, s, sess.ID, tt.msgs...)
			got, err := s.Session(context.Background(), sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Title != tt.want {
				t.Errorf("title = %q, want %q", got.Title, tt.want)
			}
		})
	}
}

// TestConcurrentStores has two daemons' stores write to one file from many
// goroutines at once: every message must land exactly once, in contiguous
// positions, and no write may fail for a locked database.
func TestConcurrentStores(t *testing.T) {
	const goroutines, puts = 30, 5
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinychat.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	shared := mustNew(t, stores[0], "/w", "shared")

	var wg sync.WaitGroup
	own := make([]string, len(stores)*goroutines)
	for si, s := range stores {
		for g := range goroutines {
			wg.Go(func() {
				sess, err := s.New(ctx, fmt.Sprintf("/w/%d", g), "")
				if err != nil {
					t.Error(err)
					return
				}
				own[si*goroutines+g] = sess.ID
				for p := range puts {
					id := fmt.Sprintf("s%d-g%d-p%d", si, g, p)
					m := user(id, "draft")
					if err := s.Put(ctx, shared.ID, m); err != nil {
						t.Error(err)
					}
					// Rewrite it, as a streaming reply is rewritten.
					m.Content = "final " + id
					if err := s.Put(ctx, shared.ID, m); err != nil {
						t.Error(err)
					}
					if err := s.Put(ctx, sess.ID, user("", "own"), reply("", "reply")); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()

	msgs, err := stores[1].Messages(ctx, shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.ID]++
		if m.Content != "final "+m.ID {
			t.Errorf("message %s: content %q", m.ID, m.Content)
		}
	}
	if len(msgs) != len(stores)*goroutines*puts || len(seen) != len(msgs) {
		t.Errorf("shared session: %d messages, %d distinct, want %d", len(msgs), len(seen), len(stores)*goroutines*puts)
	}
	checkSeq(t, stores[0], shared.ID)
	for _, id := range own {
		if id == "" {
			continue // New failed, and said so
		}
		if n := checkSeq(t, stores[0], id); n != 2*puts {
			t.Errorf("session %s: %d messages, want %d", id, n, 2*puts)
		}
	}
}

func BenchmarkList1000(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	for i := range 1000 {
		sess := mustNew(b, s, "/w/bench", "")
		mustPut(b, s, sess.ID, user("", fmt.Sprint("question ", i)), reply("", "answer"), user("", "more"), reply("", "done"))
	}
	for range 200 {
		mustNew(b, s, "/w/other", "")
	}
	b.ReportAllocs()
	for b.Loop() {
		list, err := s.List(ctx, "/w/bench")
		if err != nil || len(list) != 1000 {
			b.Fatal(len(list), err)
		}
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var ids []string
	for _, ws := range []string{"/w/a", "/w/b", "/w/b"} {
		ids = append(ids, mustNew(t, s, ws, "").ID)
	}
	if _, err := s.db.Exec(`UPDATE sessions SET id = 'ab' || substr(id, 3) WHERE id IN (?, ?)`, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	// The third is random: it must not start with "ab" too (1 in 256).
	if _, err := s.db.Exec(`UPDATE sessions SET id = 'cd' || substr(id, 3) WHERE id = ?`, ids[2]); err != nil {
		t.Fatal(err)
	}
	ids[0], ids[1], ids[2] = "ab"+ids[0][2:], "ab"+ids[1][2:], "cd"+ids[2][2:]
	for _, tt := range []struct {
		id, want string
		err      error
	}{
		{ids[2], ids[2], nil},
		{ids[2][:4], ids[2], nil},
		{ids[0], ids[0], nil},
		{ids[0][:6], ids[0], nil},
		{"ab", "", &AmbiguousError{}},
		{"", "", ErrNotFound},
		{"zz", "", ErrNotFound},
		{"%", "", ErrNotFound},
	} {
		got, err := s.Resolve(ctx, tt.id)
		var amb *AmbiguousError
		switch {
		case tt.err == nil && (err != nil || got.ID != tt.want):
			t.Errorf("Resolve(%q) = %+v, %v; want %s", tt.id, got, err, tt.want)
		case errors.Is(tt.err, ErrNotFound) && !errors.Is(err, ErrNotFound):
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", tt.id, err)
		case tt.err != nil && !errors.Is(tt.err, ErrNotFound) && (!errors.As(err, &amb) || len(amb.IDs) != 2 || !strings.Contains(err.Error(), ids[1])):
			t.Errorf("Resolve(%q) = %v, want an ambiguity naming both", tt.id, err)
		}
	}
}

// TestSaveAllOnAFullDisk fills a store to its size limit (SQLite's
// max_page_count, which fails writes with SQLITE_FULL as a full disk
// does) and saves a reply that does not fit: the error is a *WriteError
// that names the full store, never the failed undo of its savepoint, and
// nothing of the save is stored. Once there is room again it is saved.
func TestSaveAllOnAFullDisk(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	sess := mustNew(t, s, "/full", "")
	mustPut(t, s, sess.ID, &Message{Role: RoleUser, Content: "hello"})
	// Every use of the store goes through one connection, whose size
	// limit is its pages so far and a few more.
	s.db.SetMaxOpenConns(1)
	var pages int
	if err := s.db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+4)); err != nil {
		t.Fatal(err)
	}

	user := &Message{Role: RoleUser, Content: "tell me everything"}
	reply := &Message{Role: RoleAssistant, Content: strings.Repeat("everything ", 10000)}
	saves := []Save{{SessionID: sess.ID, Messages: []*Message{user, reply}}}
	err := s.SaveAll(ctx, saves)
	if err == nil {
		err = saves[0].Err
	}
	var we *WriteError
	if !errors.As(err, &we) || !we.Full || strings.Contains(err.Error(), "savepoint") || !strings.Contains(err.Error(), "the store is full") {
		t.Fatalf("SaveAll on a full store: %v; want a *WriteError naming the full store", err)
	}
	if msgs, _ := s.Messages(ctx, sess.ID); len(msgs) != 1 {
		t.Errorf("after the failed save: %d messages, want the 1 before it", len(msgs))
	}

	if _, err := s.db.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	saves[0].Err = nil
	if err := s.SaveAll(ctx, saves); err != nil || saves[0].Err != nil {
		t.Fatalf("SaveAll with room again: %v, %v", err, saves[0].Err)
	}
	if msgs, _ := s.Messages(ctx, sess.ID); len(msgs) != 3 || msgs[2].Content != reply.Content {
		t.Errorf("after the save: %d messages", len(msgs))
	}
}

// BenchmarkSaveAll saves the replies of 256 turns, each in its own
// workspace and session, in one batch, as a checkpoint of many streams
// does; then again with more text, as the next one does, and as their
// last saves do.
func BenchmarkSaveAll(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	const turns = 256
	saves := make([]Save, turns)
	for i := range saves {
		sess := mustNew(b, s, fmt.Sprintf("/w/%d", i), "")
		mustPut(b, s, sess.ID, user(fmt.Sprintf("u%d", i), "Tell me about goroutines and channels"))
		saves[i] = Save{SessionID: sess.ID, Messages: []*Message{reply(fmt.Sprintf("r%d", i), "")}}
	}
	words := strings.Fields("a goroutine is a function running concurrently with other goroutines in the same address space")
	b.ResetTimer()
	for n := range b.N {
		for i := range saves {
			saves[i].Messages[0].Content += words[n%len(words)] + " "
		}
		if err := s.SaveAll(ctx, saves); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*turns), "µs/save")
}
