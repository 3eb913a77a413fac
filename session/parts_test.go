package session

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// partRows returns the text of each part stored for message id, in order.
func partRows(t *testing.T, path, id string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT p.content || '|' || p.reasoning FROM message_parts p JOIN messages m ON m.pk = p.message_pk WHERE m.id = ? ORDER BY p.pk`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return parts
}

// appendReply saves, as a checkpoint does, what came of reply id since its
// last save.
func appendReply(t *testing.T, s *Store, sessionID, id, text, reasoning string, interrupted bool) {
	t.Helper()
	m := &Message{ID: id, Role: RoleAssistant, Content: text, Reasoning: reasoning, Provider: "echo", Model: "echo", Interrupted: interrupted}
	saves := []Save{{SessionID: sessionID, Messages: []*Message{m}, Appended: true}}
	if err := s.SaveAll(context.Background(), saves); err != nil || saves[0].Err != nil {
		t.Fatal(err, saves[0].Err)
	}
}

// storedReply returns the last message of session id as the store reads
// it, and whether searching for word finds it.
func storedReply(t *testing.T, s *Store, id, word string) (Message, bool) {
	t.Helper()
	msgs, err := s.Messages(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := s.Search(context.Background(), word, "")
	if err != nil {
		t.Fatal(err)
	}
	return msgs[len(msgs)-1], len(hits) > 0
}

// TestAppendedSaves saves a reply as checkpoints do: each save stores only
// its new text, as a part of its own, and every reader sees the parts
// joined; the reply's last save makes the whole text the message's own,
// and searchable.
func TestAppendedSaves(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinychat.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sess := mustNew(t, s, "/w", "")
	mustPut(t, s, sess.ID, user("u1", "question"))

	appendReply(t, s, sess.ID, "r1", "Hel", "think", true)
	appendReply(t, s, sess.ID, "r1", "lo wor", "", true)
	appendReply(t, s, sess.ID, "r1", "", "ing", true) // reasoning only
	appendReply(t, s, sess.ID, "r1", "", "", true)    // tool calls only: no part
	appendReply(t, s, sess.ID, "r1", "ld ünïcode", "", true)
	if got, want := strings.Join(partRows(t, path, "r1"), ","), "Hel|think,lo wor|,|ing,ld ünïcode|"; got != want {
		t.Errorf("parts %q, want %q: each save stores only what it adds", got, want)
	}
	m, found := storedReply(t, s, sess.ID, "world")
	if m.ID != "r1" || m.Content != "Hello world ünïcode" || m.Reasoning != "thinking" || !m.Interrupted {
		t.Errorf("read %q / %q (interrupted %v), want the parts joined, interrupted", m.Content, m.Reasoning, m.Interrupted)
	}
	if found {
		t.Error("search found a reply in progress: its parts are not indexed")
	}
	var out bytes.Buffer
	if err := s.Export(ctx, &out, sess.ID, "text"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Hello world ünïcode") {
		t.Errorf("text export lacks the joined reply:\n%s", out.String())
	}

	final := &Message{ID: "r1", Role: RoleAssistant, Content: "Hello world ünïcode!", Reasoning: "thinking", Provider: "echo", Model: "echo"}
	saves := []Save{{SessionID: sess.ID, Messages: []*Message{final}}}
	if err := s.SaveAll(ctx, saves); err != nil || saves[0].Err != nil {
		t.Fatal(err, saves[0].Err)
	}
	if parts := partRows(t, path, "r1"); len(parts) != 0 {
		t.Errorf("parts left after the last save: %q", parts)
	}
	m, found = storedReply(t, s, sess.ID, "world")
	if m.Content != final.Content || m.Reasoning != "thinking" || m.Interrupted || !found {
		t.Errorf("read %q / %q (interrupted %v, found %v), want the last save's text, searchable", m.Content, m.Reasoning, m.Interrupted, found)
	}
	if ok, err := s.IntegrityCheck(ctx); !ok || err != nil {
		t.Errorf("integrity check: %v, %v", ok, err)
	}

	// Deleting the session deletes the parts of its replies too.
	appendReply(t, s, sess.ID, "r2", "more", "", true)
	if err := s.Delete(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	if err := db.QueryRow(`SELECT count(*) FROM message_parts`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d parts left in the store (%v), want none", left, err)
	}
}

// TestAppendedSavesKeepCurrent checks that a reply in progress does not make
// its session current again: the user made another meanwhile.
func TestAppendedSavesKeepCurrent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	streaming := mustNew(t, s, "/w", "")
	mustPut(t, s, streaming.ID, user("u1", "question"))
	appendReply(t, s, streaming.ID, "r1", "first", "", true)
	made := mustNew(t, s, "/w", "") // session/new while the reply streams
	appendReply(t, s, streaming.ID, "r1", " second", "", true)
	if cur, err := s.Current(ctx, "/w"); err != nil || cur.ID != made.ID {
		t.Fatalf("current is %v (%v) after a checkpoint, want the session made meanwhile, %s", cur, err, made.ID)
	}
	saves := []Save{{SessionID: streaming.ID, Messages: []*Message{reply("r1", "first second")}}}
	if err := s.SaveAll(ctx, saves); err != nil || saves[0].Err != nil {
		t.Fatal(err, saves[0].Err)
	}
	if cur, err := s.Current(ctx, "/w"); err != nil || cur.ID != streaming.ID {
		t.Errorf("current is %v (%v) after the reply's last save, want its session, %s", cur, err, streaming.ID)
	}
}

// TestOpenFoldsParts leaves a reply in parts, as a daemon killed before
// the reply's last save does: the next open makes them the message's own
// text, indexed, and another reply's parts saved after that still add to it.
func TestOpenFoldsParts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinychat.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sess := mustNew(t, s, "/w", "")
	mustPut(t, s, sess.ID, user("u1", "question"))
	appendReply(t, s, sess.ID, "r1", "killed mid", "why", true)
	appendReply(t, s, sess.ID, "r1", "stream", "", true)
	s.Close()

	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if parts := partRows(t, path, "r1"); len(parts) != 0 {
		t.Errorf("parts left after open: %q", parts)
	}
	m, found := storedReply(t, s, sess.ID, "midstream")
	if m.Content != "killed midstream" || m.Reasoning != "why" || !m.Interrupted || !found {
		t.Errorf("read %q / %q (interrupted %v, found %v), want the folded reply, interrupted and searchable", m.Content, m.Reasoning, m.Interrupted, found)
	}
	appendReply(t, s, sess.ID, "r1", " and on", "", true)
	if m, _ := storedReply(t, s, sess.ID, "on"); m.Content != "killed midstream and on" {
		t.Errorf("read %q after a part added to a folded reply", m.Content)
	}
	if ok, err := s.IntegrityCheck(ctx); !ok || err != nil {
		t.Errorf("integrity check: %v, %v", ok, err)
	}
}

// BenchmarkCheckpoint saves a reply in progress once more, as a checkpoint
// does, after 4 KiB more of it came: appended, as the checkpoints save it,
// against the whole reply written again. An appended save costs the same
// whatever the reply's length; a whole one grows with it.
func BenchmarkCheckpoint(b *testing.B) {
	const more = 4 << 10
	chunk := strings.Repeat("lorem ipsum dolor sit amet ", more/27+1)[:more]
	for _, size := range []int{64 << 10, 1 << 20, 4 << 20} {
		for _, appended := range []bool{true, false} {
			name := fmt.Sprintf("appended/reply=%dKiB", size>>10)
			if !appended {
				name = fmt.Sprintf("whole/reply=%dKiB", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				s := newStore(b)
				sess := mustNew(b, s, "/w", "")
				mustPut(b, s, sess.ID, user("u1", "question"))
				text := strings.Repeat(chunk, size/more)
				m := &Message{ID: "r1", Role: RoleAssistant, Content: text, Interrupted: true}
				if err := s.SaveAll(ctx, []Save{{SessionID: sess.ID, Messages: []*Message{m}, Appended: appended}}); err != nil {
					b.Fatal(err)
				}
				// The whole reply is written again with its last 4 KiB
				// changed, so that its length stays the same.
				other := strings.ToUpper(chunk)
				for i := 0; b.Loop(); i++ {
					switch {
					case appended:
						m.Content = chunk
					case i%2 == 0:
						m.Content = text[:len(text)-more] + other
					default:
						m.Content = text
					}
					saves := []Save{{SessionID: sess.ID, Messages: []*Message{m}, Appended: appended}}
					if err := s.SaveAll(ctx, saves); err != nil || saves[0].Err != nil {
						b.Fatal(err, saves[0].Err)
					}
				}
			})
		}
	}
}
