package acp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	acp "github.com/coder/acp-go-sdk"

	"github.com/tinychat/tinychat/chat"
)

func TestStopReason(t *testing.T) {
	for in, want := range map[string]acp.StopReason{
		chat.StopEnd:           acp.StopReasonEndTurn,
		chat.StopMaxTokens:     acp.StopReasonMaxTokens,
		chat.StopMaxSize:       acp.StopReasonMaxTokens,
		chat.StopRefusal:       acp.StopReasonRefusal,
		chat.StopContentFilter: acp.StopReasonRefusal,
		chat.StopMaxToolSteps:  acp.StopReasonMaxTurnRequests,
		chat.StopCancelled:     acp.StopReasonCancelled,
	} {
		if got := stopReason(in); got != want {
			t.Errorf("stopReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadLink reads linked files of the workspace only, text only, and
// cuts a long one between characters, saying so.
func TestReadLink(t *testing.T) {
	ws := t.TempDir()
	outside := t.TempDir()
	write := func(dir, name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	long := "a" + strings.Repeat("é", maxLinkBytes) // 2 bytes each: the cut falls inside one
	if err := os.Symlink(filepath.Join(outside, "s.txt"), filepath.Join(ws, "link.txt")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, uri string
		ok        bool
	}{
		{"text", write(ws, "a.txt", "hello"), true},
		{"binary", write(ws, "b.bin", "a\x00b"), false},
		{"outside", write(outside, "s.txt", "secret"), false},
		{"symlink out", "file://" + filepath.Join(ws, "link.txt"), false},
		{"dot dot", "file://" + ws + "/../" + filepath.Base(outside) + "/s.txt", false},
		{"http", "https://example.com/a.txt", false},
		{"long", write(ws, "long.txt", long), true},
	}
	for _, c := range cases {
		text, ok := readLink(ws, c.uri)
		if ok != c.ok {
			t.Errorf("%s: readLink gave ok %v, want %v (%.40q)", c.name, ok, c.ok, text)
		}
		if c.name == "long" {
			body, note, found := strings.Cut(text, "\n[cut: ")
			if !found || len(body) > maxLinkBytes || !strings.HasPrefix(long, body) || !strings.Contains(note, "first") {
				t.Errorf("a long file gave %d bytes, note %q; want at most %d, cut between characters, with a note", len(body), note, maxLinkBytes)
			}
		}
	}
}
