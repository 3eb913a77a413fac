package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawExec runs statements on the SQLite file at path, bypassing Store.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinychat.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sess := mustNew(t, s, "/w", "kept")
	mustPut(t, s, sess.ID, user("", "hello"))
	s.Close()

	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msgs, err := s.Messages(ctx, sess.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Content != "hello" {
		t.Fatalf("after reopening: %v, %v", msgs, err)
	}
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	if _, err := Start("").List(context.Background(), ""); err == nil {
		t.Error("a store with no path opened")
	}

	random := make([]byte, 4096)
	rand.Read(random)
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{
			name: "newer schema",
			prepare: func(t *testing.T, path string) {
				s, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				rawExec(t, path, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
			},
			want: fmt.Sprintf("schema version %d is newer than this tinychat supports (%d); upgrade tinychat", len(migrations)+1, len(migrations)),
		},
		{
			name: "random bytes",
			prepare: func(t *testing.T, path string) {
				if err := os.WriteFile(path, random, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a tinychat database (not an SQLite file)",
		},
		{
			name: "another program's database",
			prepare: func(t *testing.T, path string) {
				rawExec(t, path, "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('mine')")
			},
			want: "not a tinychat database (it has tables but no tinychat schema version)",
		},
		{
			name: "another program's versioned database",
			prepare: func(t *testing.T, path string) {
				rawExec(t, path, "CREATE TABLE notes (body TEXT)", "PRAGMA user_version = 1")
			},
			want: "not a tinychat database",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tinychat.db")
			tt.prepare(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v\nwant %q naming %s", err, tt.want, path)
			}
			// Started instead, the store says the same from every method.
			started := Start(path)
			if _, serr := started.New(context.Background(), "/w", ""); serr == nil || serr.Error() != err.Error() {
				t.Errorf("New on the started store = %v, want %v", serr, err)
			}
			if _, serr := started.Search(context.Background(), "x", ""); serr == nil || serr.Error() != err.Error() {
				t.Errorf("Search on the started store = %v, want %v", serr, err)
			}
			if cerr := started.Close(); cerr != nil {
				t.Errorf("Close = %v", cerr)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("Open changed the file it refused")
			}
		})
	}
}

func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if s, err := Open(dir); err == nil {
		s.Close()
		t.Fatal("Open of a directory succeeded")
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("Open: %v, want it to name %s", err, dir)
	}
}

func TestIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sess := putFixture(t, s, "/w")
	if ok, err := s.IntegrityCheck(ctx); !ok || err != nil {
		t.Fatalf("IntegrityCheck of a sound store = %v, %v", ok, err)
	}
	// Deleting behind the index's back leaves it out of step.
	if _, err := s.db.Exec(`DROP TRIGGER messages_search_delete; DELETE FROM messages WHERE session_id = ?`, sess.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.IntegrityCheck(ctx); ok || err != nil {
		t.Errorf("IntegrityCheck of a stale index = %v, %v; want false", ok, err)
	}
}

// TestConcurrentOpen has daemons start at once on a file that does not
// exist yet: one creates the schema, the others wait and use it.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tinychat.db")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			if _, err := s.New(context.Background(), "/w", ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if list, err := s.List(context.Background(), "/w"); err != nil || len(list) != 8 {
		t.Errorf("List = %d sessions, %v; want 8", len(list), err)
	}
}

// holdWriteLock takes the write lock of the SQLite file at path, as
// another daemon writing would, until release is called or the test ends.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { writer.Close() })
	if _, err := writer.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := writer.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// An up-to-date store opens while another daemon holds the write lock:
// only a migration needs it.
func TestOpenBesideAWriter(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sess := mustNew(t, s, "/w", "kept")
	path := s.Path()
	s.Close()

	holdWriteLock(t, path)

	var err error
	if s, err = Open(path); err != nil {
		t.Fatalf("Open beside a writer: %v", err)
	}
	defer s.Close()
	if got, err := s.Session(ctx, sess.ID); err != nil || got.Title != "kept" {
		t.Errorf("Session = %+v, %v; want the session titled kept", got, err)
	}
}

// TestStartWaits starts a store whose migration cannot finish while another
// connection holds the write lock: a method called meanwhile waits for the
// open instead of meeting a database without its tables, and works once the
// lock is let go.
func TestStartWaits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	release := holdWriteLock(t, path)

	s := Start(path)
	defer s.Close()
	early, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.List(early, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("List while the store opens = %v, want it to wait (until its context ends)", err)
	}
	release()
	if list, err := s.List(ctx, ""); err != nil || len(list) != 0 {
		t.Fatalf("List once the lock is free = %v, %v; want no sessions", list, err)
	}
}

// v1Fixture is a store written by schema version 1, before messages had a
// full-text index. go test ./session -run TestMigrateFromV1 -update
// writes it again.
const v1Fixture = "testdata/store-v1.db"

func writeV1Fixture(t *testing.T) {
	os.Remove(v1Fixture)
	db, err := sql.Open("sqlite", v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		migrations[0],
		`INSERT INTO sessions VALUES ('s1', '/home/me/proj', 'Old chat', 1700000000000, 1700000060000)`,
		`INSERT INTO workspaces VALUES ('/home/me/proj', 's1')`,
		`INSERT INTO messages (id, session_id, seq, role, content, created_at, provider, model, input_tokens, output_tokens, interrupted, context)
		 VALUES ('m1', 's1', 1, 'user', 'How do goroutines leak?', 1700000000000, '', '', NULL, NULL, 0, NULL),
		        ('m2', 's1', 2, 'assistant', 'A goroutine leaks when it blocks forever on a channel.', 1700000060000, 'openai', 'gpt-4.1-mini', 12, 11, 0, NULL)`,
		fmt.Sprintf("PRAGMA application_id = %d", applicationID),
		"PRAGMA user_version = 1",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateFromV1(t *testing.T) {
	if *update {
		writeV1Fixture(t)
	}
	src, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tinychat.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
	msgs, err := s.Messages(ctx, "s1")
	if err != nil || len(msgs) != 2 || msgs[1].Model != "gpt-4.1-mini" || msgs[1].Usage == nil || msgs[1].Usage.OutputTokens != 11 {
		t.Fatalf("messages after migration: %+v, %v", msgs, err)
	}
	// Version 4 added how a reply ended and its reasoning: old replies
	// have neither, and new ones keep both.
	if msgs[1].StopReason != "" || msgs[1].Reasoning != "" || msgs[1].ReasoningData != "" {
		t.Errorf("an old reply gained a stop reason or reasoning: %+v", msgs[1])
	}
	reply := &Message{Role: RoleAssistant, Content: "Stop it first.", StopReason: "refusal", Reasoning: "Think first.", ReasoningData: `{"thoughtSignature":"c2ln"}`}
	if err := s.Put(ctx, "s1", &Message{Role: RoleUser, Content: "And then?"}, reply); err != nil {
		t.Fatal(err)
	}
	msgs, err = s.Messages(ctx, "s1")
	if got := msgs[len(msgs)-1]; err != nil || got.StopReason != "refusal" || got.Reasoning != "Think first." || got.ReasoningData != reply.ReasoningData {
		t.Errorf("a new reply after migration reads back as %+v, %v", got, err)
	}
	// Version 2 indexed the messages that were already there.
	hits, err := s.Search(ctx, "channel", "")
	if err != nil || len(hits) != 1 || hits[0].MessageID != "m2" {
		t.Errorf("search after migration: %+v, %v", hits, err)
	}
	cur, err := s.Current(ctx, "/home/me/proj")
	if err != nil || cur.ID != "s1" || cur.Title != "Old chat" || cur.MessageCount != 4 {
		t.Errorf("current after migration: %+v, %v", cur, err)
	}
	if ok, err := s.IntegrityCheck(ctx); !ok || err != nil {
		t.Errorf("integrity: %v %v", ok, err)
	}
}
