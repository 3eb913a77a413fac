package main

import (
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text\n", "plain text\n"},
		{"# Title\n", sgrHeading + "# Title" + sgrReset + "\n"},
		{"#hashtag\n", "#hashtag\n"},
		{"some **bold** here\n", "some " + sgrBold + "bold" + sgrBoldOff + " here" + sgrReset + "\n"},
		{"an *aside* here\n", "an " + sgrItalic + "aside" + sgrItalicOff + " here" + sgrReset + "\n"},
		{"2 * 3 * 4\n", "2 * 3 * 4\n"},
		{"use `a*b` now\n", "use " + sgrCode + "a*b" + sgrCodeOff + " now" + sgrReset + "\n"},
		{"snake_case_name\n", "snake_case_name\n"},
		{"- one\n* two\n", "• one\n• two\n"},
		{"  - nested\n", "  • nested\n"},
		{"**bold** start\n", sgrBold + "bold" + sgrBoldOff + " start" + sgrReset + "\n"},
		{"> quoted\n", markdownQuote + "quoted\n"},
		{"---\n", sgrDim + markdownRule + sgrReset + "\n"},
		{"1. first\n", "1. first\n"},
		{"```go\nx := `a` ** 2\n\n```\nafter\n",
			sgrDim + "```go" + sgrReset + "\n" + sgrCode + "x := `a` ** 2" + sgrReset + "\n" + sgrCode + sgrReset + "\n" + sgrDim + "```" + sgrReset + "\nafter\n"},
		{"unclosed **bold", "unclosed " + sgrBold + "bold" + sgrReset},
		{"no newline at the end", "no newline at the end"},
		{"- 東京は **晴れ** 🚀\n", "• 東京は " + sgrBold + "晴れ" + sgrBoldOff + " 🚀" + sgrReset + "\n"},
		{"# Title with **bold**\n", sgrHeading + "# Title with " + sgrBold + "bold" + sgrBoldOff + sgrBold + sgrReset + "\n"},
	} {
		// Whole, and one byte at a time: a reply may be cut anywhere.
		for _, chunk := range []int{len(tt.in), 1} {
			var out strings.Builder
			m := newMarkdown(&out)
			for i := 0; i < len(tt.in); i += chunk {
				m.Write([]byte(tt.in[i:min(i+chunk, len(tt.in))]))
			}
			m.Flush()
			if out.String() != tt.want {
				t.Errorf("render %q in chunks of %d = %q, want %q", tt.in, chunk, out.String(), tt.want)
			}
		}
	}
}

// FuzzMarkdown checks that the renderer takes any reply, cut anywhere,
// and renders it as it would whole.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"# Title\n\nSome **bold** and `code`\n", "```go\nx\n```\n", "- a\n> b\n---\n", "東京 *🚀*", "**\n``\n~~~"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, in string, cut int) {
		render := func(parts ...string) string {
			var out strings.Builder
			m := newMarkdown(&out)
			for _, p := range parts {
				m.Write([]byte(p))
			}
			m.Flush()
			return out.String()
		}
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		if whole, cutOnce := render(in), render(in[:cut], in[cut:]); whole != cutOnce {
			t.Errorf("%q rendered whole = %q, cut at %d = %q", in, whole, cut, cutOnce)
		}
	})
}
