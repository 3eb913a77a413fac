package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

// limitFileSize sets the daemon's limit on the size of the files it
// writes (RLIMIT_FSIZE), as prlimit(1) does: past it a write fails as on
// a full disk. 0 lifts the limit.
func limitFileSize(t *testing.T, pid int, bytes uint64) {
	t.Helper()
	lim := syscall.Rlimit{Cur: bytes, Max: ^uint64(0)}
	if bytes == 0 {
		lim.Cur = ^uint64(0)
	}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Fatalf("prlimit: %v", errno)
	}
}

// TestFullDisk fills the disk under a streaming reply: the client gets the
// whole reply in -32006's data, with a warning as soon as a checkpoint
// fails; the next turn is refused with -32006 and its message in data;
// once there is room the kept reply is saved whole, before any later turn,
// and the store is intact.
func TestFullDisk(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	srv.SetPace(time.Millisecond)
	db := filepath.Join(t.TempDir(), "tinychat.db")
	env := map[string]string{"TINYCHAT_DB": db, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL()}
	p := startProc(t, env)
	var first struct{ SessionID string }
	p.call("chat/send", map[string]any{"message": "hello", "provider": "openai", "workspace": "/full"}, &first)

	// Once the turn has started (its message saved), the files may grow by
	// a few pages more: less than a checkpoint of the reply takes after a
	// second of it, so the disk fills while it streams.
	id, ch := p.send("chat/send", map[string]any{"message": "slow 3000", "provider": "openai", "sessionId": first.SessionID})
	for p.streamed(id) == "" {
		time.Sleep(time.Millisecond)
	}
	largest := int64(0)
	for _, f := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	limitFileSize(t, p.cmd.Process.Pid, uint64(largest)+8<<10)
	var full struct {
		Error struct {
			Code    int
			Message string
			Data    struct {
				SessionID, Text, StopReason, UserMessage string
			}
		}
	}
	select {
	case raw := <-ch:
		json.Unmarshal(raw, &full)
	case <-time.After(2 * time.Minute):
		t.Fatal("no answer to the reply that filled the disk")
	}
	streamed := p.streamed(id)
	if e := full.Error; e.Code != -32006 || !strings.Contains(e.Message, "the store") || e.Data.Text != streamed || e.Data.StopReason != "end" || !strings.HasSuffix(streamed, "w2999 ") {
		t.Fatalf("answer %d %q, data text of %d bytes (stop %q); want -32006 with the %d bytes streamed", e.Code, e.Message, len(e.Data.Text), e.Data.StopReason, len(streamed))
	}
	if out := p.output(); !strings.Contains(out, "could not save the replies in progress") || !strings.Contains(out, `"method":"window/logMessage"`) {
		t.Errorf("no warning of the failed checkpoint:\n%s", out[max(0, len(out)-2000):])
	}

	_, ch = p.send("chat/send", map[string]any{"message": "while full", "provider": "openai", "sessionId": first.SessionID})
	if code, data := answer(t, ch); code != -32006 || data["userMessage"] != "while full" {
		t.Errorf("a turn while the store is full: %d %v; want -32006 with the message", code, data)
	}

	limitFileSize(t, p.cmd.Process.Pid, 0)
	var got struct{ Messages []session.Message }
	for deadline := time.Now().Add(time.Minute); ; {
		p.call("session/get", map[string]any{"sessionId": first.SessionID}, &got)
		if len(got.Messages) == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var last struct{ Text string }
	p.call("chat/send", map[string]any{"message": "after", "provider": "openai", "sessionId": first.SessionID}, &last)
	p.call("session/get", map[string]any{"sessionId": first.SessionID}, &got)
	var roles []string
	for _, m := range got.Messages {
		roles = append(roles, m.Role+":"+m.Content[:min(len(m.Content), 10)])
	}
	if len(got.Messages) != 6 || got.Messages[2].Content != "slow 3000" || got.Messages[3].Content != streamed || got.Messages[3].Interrupted ||
		got.Messages[3].StopReason != "end" || got.Messages[4].Content != "after" {
		t.Errorf("stored %q; want hello, its reply, the kept turn whole, after and its reply", roles)
	}
	p.call("shutdown", nil, nil)

	store, err := session.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if ok, err := store.IntegrityCheck(context.Background()); err != nil || !ok {
		t.Errorf("integrity check: %v %v", ok, err)
	}
}
