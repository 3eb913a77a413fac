package session

import "strings"

// Prompt is the text a provider is given for a stored message: the user's
// context items quoted ahead of the message itself.
func Prompt(m Message) string {
	if len(m.Context) == 0 {
		return m.Content
	}
	var b strings.Builder
	for _, c := range m.Context {
		b.WriteString("File: " + c.URI + c.Range.lines() + "\n")
		fence := Fence(c.Text)
		b.WriteString(fence + c.LanguageID + "\n" + c.Text)
		if !strings.HasSuffix(c.Text, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(fence + "\n\n")
	}
	b.WriteString(m.Content)
	return b.String()
}

// Fence returns a Markdown code fence longer than any run of backticks in
// text, so quoted code can never close it early.
func Fence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}
