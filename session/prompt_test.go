package session

import "testing"

func TestPrompt(t *testing.T) {
	m := Message{Content: "why?", Context: []ContextItem{
		{URI: "file:///w/a.go", LanguageID: "go", Text: "x := \"```\"\n", Range: &Range{Start: Position{Line: 1}, End: Position{Line: 3}}},
		{URI: "file:///w/b.txt", Text: "no newline"},
	}}
	want := "File: file:///w/a.go (lines 2-3)\n````go\nx := \"```\"\n````\n\n" +
		"File: file:///w/b.txt\n```\nno newline\n```\n\n" +
		"why?"
	if got := Prompt(m); got != want {
		t.Errorf("Prompt =\n%s\nwant\n%s", got, want)
	}
	if got := Prompt(Message{Content: "plain"}); got != "plain" {
		t.Errorf("Prompt without context = %q", got)
	}
}
