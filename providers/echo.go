package providers

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// echoProvider is the built-in offline provider: it streams the last user
// message back word by word, so that a fresh machine, and every test of an
// editor, runs end to end with no key and no network.
type echoProvider struct {
	delay time.Duration // before each word, so that a reply can be cancelled mid-stream
}

// Name implements Provider.
func (echoProvider) Name() string { return "echo" }

// DefaultModel implements Provider.
func (echoProvider) DefaultModel() string { return "echo" }

// Stream implements Provider. It counts words as tokens.
func (e echoProvider) Stream(ctx context.Context, req *Request, onEvent func(Event)) (*Result, error) {
	var reply string
	input := 0
	for _, m := range req.Messages {
		input += len(strings.Fields(m.Content))
		if m.Role == RoleUser {
			reply = m.Content
		}
	}
	var tick *time.Timer
	if e.delay > 0 {
		tick = time.NewTimer(e.delay)
		defer tick.Stop()
	}
	for i, w := range words(reply) {
		if tick != nil {
			if i > 0 {
				tick.Reset(e.delay)
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		onEvent(Event{Kind: EventText, Text: w})
	}
	return &Result{
		Model:      "echo",
		StopReason: StopEnd,
		Usage:      Usage{InputTokens: input, OutputTokens: len(strings.Fields(reply))},
	}, nil
}

// Models implements Provider.
func (echoProvider) Models(context.Context) ([]string, error) {
	return []string{"echo"}, nil
}

// words splits s into its words, each with the spaces that follow it (and
// the first with those before it too), so that the words join back to s.
func words(s string) []string {
	var ws []string
	start, inWord, afterWord := 0, false, false
	for i, r := range s {
		switch {
		case unicode.IsSpace(r):
			afterWord, inWord = afterWord || inWord, false
		case afterWord:
			ws = append(ws, s[start:i])
			start, inWord, afterWord = i, true, false
		default:
			inWord = true
		}
	}
	if start < len(s) {
		ws = append(ws, s[start:])
	}
	return ws
}
