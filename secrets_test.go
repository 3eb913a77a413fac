package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tinychat/tinychat/providers/providertest"
)

// TestKeysNeverShown runs whole sessions with every provider, provider
// errors that quote the key back, and debug logging, then looks for each
// key, and any 8-character piece of one, in everything tinychat printed.
func TestKeysNeverShown(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	keys := map[string]string{
		"openai":    "sk-proj-Qz8vXw3RkT5mNp2LsY7cJd4F",
		"anthropic": "sk-ant-api03-Hj4KqW9eRt6Yu1IoPz5XcVb",
		"mistral":   "Mst7Lk2Jh9Gf4Ds1Aq8Zx3CvBn6M",
	}
	env := map[string]string{
		"OPENAI_API_KEY": keys["openai"], "OPENAI_BASE_URL": srv.BaseURL(),
		"ANTHROPIC_API_KEY": keys["anthropic"], "ANTHROPIC_BASE_URL": srv.AnthropicBaseURL(),
		"MISTRAL_API_KEY": keys["mistral"], "MISTRAL_BASE_URL": srv.MistralBaseURL(),
		"TINYCHAT_LOG_LEVEL": "debug",
	}

	var out strings.Builder
	p := startProc(t, env)
	p.call("initialize", map[string]any{"rootUri": "file:///ws", "capabilities": map[string]any{}}, nil)
	p.call("providers/list", map[string]any{}, nil)
	var sessionIDs []string
	for provider := range keys {
		var res struct{ SessionID string }
		p.call("session/new", map[string]any{}, nil)
		p.call("chat/send", map[string]any{"message": "a normal turn", "provider": provider}, &res)
		sessionIDs = append(sessionIDs, res.SessionID)
		p.call("models/list", map[string]any{"provider": provider}, nil)
		_, ch := p.send("chat/send", map[string]any{"message": "error 401 Incorrect API key provided: $KEY", "provider": provider})
		select {
		case raw := <-ch:
			if !strings.Contains(string(raw), "Incorrect API key provided") {
				t.Errorf("%s: the provider's error did not come through: %s", provider, raw)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no answer to the failing turn")
		}
	}
	for _, id := range sessionIDs {
		for _, format := range []string{"text", "markdown", "json"} {
			var exp struct{ Content string }
			p.call("session/export", map[string]any{"sessionId": id, "format": format}, &exp)
			out.WriteString(exp.Content)
		}
	}
	p.call("shutdown", nil, nil)
	out.WriteString(p.output())

	for provider := range keys {
		for _, args := range [][]string{
			{"ask", "--provider", provider, "error 401 bad key $KEY"},
			{"ask", "--provider", provider, "--log-level", "debug", "hello"},
			{"config"},
		} {
			stdout, stderr, _ := runCmd(command(t, env, args...), "")
			out.WriteString(stdout + stderr)
		}
	}

	all := out.String()
	if !strings.Contains(all, "level=DEBUG") {
		t.Fatal("debug logging did not run")
	}
	for provider, key := range keys {
		for i := 0; i+8 <= len(key); i++ {
			if piece := key[i : i+8]; strings.Contains(all, piece) {
				at := strings.Index(all, piece)
				t.Errorf("%s key piece %q shown: …%s…", provider, piece, all[max(0, at-60):min(len(all), at+60)])
				break
			}
		}
	}
	// The provider really was given the key, and quoted it back.
	for _, r := range srv.Requests() {
		if r.Auth == "" {
			t.Error("a request without a key")
		}
	}
}
