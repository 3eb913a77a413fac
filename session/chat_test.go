package session

import (
	"testing"
)

func TestPickModel(t *testing.T) {
	used := []Message{
		{Role: "user", Content: "q"},
		{Role: "assistant", Provider: "openai", Model: "gpt-a"},
		{Role: "user", Content: "q2"},
		{Role: "assistant", Provider: "anthropic", Model: "claude-b"},
	}
	for _, tc := range []struct {
		name            string
		p               SendParams
		history         []Message
		provider, model string
	}{
		{"fresh session: registry default", SendParams{}, nil, "echo", ""},
		{"fresh session: defaults", SendParams{Defaults: Defaults{Provider: "mistral", Model: "m-large"}}, nil, "mistral", "m-large"},
		{"resumed session keeps its last provider and model over defaults", SendParams{Defaults: Defaults{Provider: "mistral", Model: "m-large"}}, used, "anthropic", "claude-b"},
		{"request names a provider: its default model", SendParams{Provider: "openai"}, used, "openai", ""},
		{"request names the session's provider: its model stays", SendParams{Provider: "anthropic"}, used, "anthropic", "claude-b"},
		{"request names a model only", SendParams{Model: "claude-c"}, used, "anthropic", "claude-c"},
		{"request names the defaults' provider", SendParams{Provider: "mistral", Defaults: Defaults{Provider: "mistral", Model: "m-small"}}, used, "mistral", "m-small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			provider, model := pickModel(tc.p, tc.history, "echo")
			if provider != tc.provider || model != tc.model {
				t.Errorf("got %s/%s, want %s/%s", provider, model, tc.provider, tc.model)
			}
		})
	}
}

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
