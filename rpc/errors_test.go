package rpc

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFitTexts cuts texts whose escaping multiplies their size, and checks
// that what is kept, escaped, fits the room and is a start of the text.
func TestFitTexts(t *testing.T) {
	for _, tc := range []struct {
		name            string
		text, reasoning string
		room            int
		cut             bool
	}{
		{"fits", "hello", "thinking", 100, false},
		{"fits exactly", `a"b`, "", 4, false},
		{"control characters, six bytes each", strings.Repeat("\x01", 100), "", 300, true},
		{"html escaped", strings.Repeat("<&>", 100), "", 600, true},
		{"multibyte text", strings.Repeat("日本語", 100), "", 200, true},
		{"invalid UTF-8", strings.Repeat("\xff", 100), "", 90, true},
		{"reasoning gets half when the text needs the rest", strings.Repeat("a", 1000), strings.Repeat("b", 1000), 1000, true},
		{"reasoning gets what the text leaves", "short", strings.Repeat("b", 1000), 500, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, reasoning, cut := fitTexts(tc.text, tc.reasoning, tc.room)
			if cut != tc.cut || !strings.HasPrefix(tc.text, text) || !strings.HasPrefix(tc.reasoning, reasoning) {
				t.Fatalf("cut %v, text %q, reasoning %q", cut, text, reasoning)
			}
			tb, _ := json.Marshal(text)
			rb, _ := json.Marshal(reasoning)
			if used := len(tb) - 2 + len(rb) - 2; used > tc.room || cut && used < tc.room-len(`,"truncated":true`)-12 {
				t.Errorf("the texts take %d bytes escaped, room %d", used, tc.room)
			}
		})
	}
}
