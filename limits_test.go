package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tinychat/tinychat/providers/providertest"
	"github.com/tinychat/tinychat/session"
)

// TestTitleAndWorkspaceLimits sends the daemon titles and workspaces it
// must not keep as they are: a title of 2 MB, which every session/list
// would carry, is cut to 1,024 characters; a NUL or a line break in one
// becomes a space; a workspace with either, or longer than 4,096 bytes, is
// refused naming the field.
func TestTitleAndWorkspaceLimits(t *testing.T) {
	p := startProc(t, nil)
	var s session.Session
	p.call("session/new", map[string]any{"workspace": "/titles", "title": strings.Repeat("é", 2<<20)}, &s)
	if n := utf8.RuneCountInString(s.Title); n != 1024 || strings.Trim(s.Title, "é") != "" {
		t.Errorf("a title of 2M characters came back with %d", n)
	}
	p.call("session/rename", map[string]any{"sessionId": s.ID, "title": "line one\nline two\x00\ttabbed\r\n"}, &s)
	if s.Title != "line one line two  tabbed" {
		t.Errorf("renamed to %q", s.Title)
	}
	var list struct{ Sessions []session.Session }
	p.call("session/list", map[string]any{"workspace": "/titles"}, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].Title != s.Title {
		t.Errorf("session/list: %+v", list.Sessions)
	}

	for _, ws := range []string{"/a\x00b", "/a\nb", "file:///a%0Ab", "file:///a%00b", "/" + strings.Repeat("w", 4096)} {
		_, ch := p.send("session/new", map[string]any{"workspace": ws})
		code, data := answer(t, ch)
		if code != -32602 || data["field"] != "workspace" {
			t.Errorf("workspace %q: error %d %v, want -32602 naming workspace", ws[:min(len(ws), 20)], code, data)
		}
	}
	// The longest workspace that fits is taken.
	p.call("session/new", map[string]any{"workspace": "/" + strings.Repeat("w", 4095)}, &s)
	if len(s.Workspace) != 4096 {
		t.Errorf("a workspace of 4,096 bytes became %d", len(s.Workspace))
	}
	raw, _ := json.Marshal(s)
	if len(raw) > 5000 {
		t.Errorf("session object of %d bytes", len(raw))
	}
}

// TestParamsBeforeLookups sends requests that are wrong in a param and
// also name what the store does not have: the answer is the param's
// -32602, found before any lookup, not the lookup's -32004.
func TestParamsBeforeLookups(t *testing.T) {
	p := startProc(t, nil)
	for _, tc := range []struct {
		method string
		params map[string]any
		field  string
	}{
		{"session/export", map[string]any{"workspace": "/no/sessions", "format": "docx"}, "format"},
		{"session/export", map[string]any{"sessionId": "missing", "format": "docx"}, "format"},
		{"chat/send", map[string]any{"message": "hi", "sessionId": "missing", "provider": "nope"}, "provider"},
		{"chat/send", map[string]any{"message": "hi", "sessionId": "missing", "maxTokens": -1}, "maxTokens"},
		{"chat/send", map[string]any{"message": "hi", "sessionId": "missing", "temperature": -0.5}, "temperature"},
		{"chat/send", map[string]any{"message": "hi", "sessionId": "missing", "context": []any{map[string]any{"text": "x"}}}, "context"},
		{"chat/send", map[string]any{"message": "", "sessionId": "missing"}, "message"},
		{"session/rename", map[string]any{"sessionId": "missing", "title": ""}, "title"},
		{"session/import", map[string]any{"workspace": "/no/sessions", "content": "{not json"}, "content"},
		{"session/search", map[string]any{"query": " ", "workspace": "/no/sessions"}, "query"},
		{"initialize", map[string]any{"initializationOptions": map[string]any{"maxTokens": -1}}, "initializationOptions"},
	} {
		_, ch := p.send(tc.method, tc.params)
		if code, data := answer(t, ch); code != -32602 || data["field"] != tc.field {
			t.Errorf("%s %v: error %d %v, want -32602 naming %s", tc.method, tc.params, code, data, tc.field)
		}
	}
}

// TestEndlessReply streams a reply that never ends: it stops at
// max_reply_bytes from the configuration file with stopReason
// "max_size", is stored so, and no answer is larger than the message
// size limit, not even a cancel's.
func TestEndlessReply(t *testing.T) {
	srv := providertest.NewServer()
	defer srv.Close()
	const maxReply = 256 << 10
	cfg := writeFile(t, "config.toml", fmt.Sprintf("max_reply_bytes = %d\n", maxReply))
	env := map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.BaseURL(), "TINYCHAT_CONFIG": cfg}

	out, _, code := runCmd(command(t, env, "config"), "")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("max reply: %d bytes", maxReply)) {
		t.Errorf("config does not show max_reply_bytes:\n%s", out)
	}

	p := startProc(t, env)
	var res struct {
		SessionID, Text, StopReason string
		Truncated                   bool
	}
	p.call("chat/send", map[string]any{"message": "endless", "provider": "openai", "workspace": "/endless"}, &res)
	if res.StopReason != "max_size" || len(res.Text) > maxReply || len(res.Text) < maxReply-len(providertest.EndlessDelta) || res.Truncated {
		t.Errorf("result: stopReason %q, %d bytes of text (truncated %v); want max_size at %d bytes", res.StopReason, len(res.Text), res.Truncated, maxReply)
	}
	var got struct{ Messages []session.Message }
	p.call("session/get", map[string]any{"sessionId": res.SessionID}, &got)
	if n := len(got.Messages); n != 2 || got.Messages[1].StopReason != "max_size" || got.Messages[1].Content != res.Text || got.Messages[1].Interrupted {
		t.Errorf("stored: %d messages, the reply %q, interrupted %v, %d bytes", n, got.Messages[n-1].StopReason, got.Messages[n-1].Interrupted, len(got.Messages[n-1].Content))
	}

	// With a message size limit below the reply's, the answers are cut to
	// fit it, and say so.
	const limit = 64 << 10
	q := startProc(t, env, "--max-message-size", fmt.Sprint(limit))
	q.call("chat/send", map[string]any{"message": "endless", "provider": "openai", "workspace": "/small"}, &res)
	if res.StopReason != "max_size" || !res.Truncated || len(res.Text) > limit || !strings.HasPrefix(strings.Repeat(providertest.EndlessDelta, limit/len(providertest.EndlessDelta)+1), res.Text) {
		t.Errorf("result under a %d-byte limit: stopReason %q, truncated %v, %d bytes", limit, res.StopReason, res.Truncated, len(res.Text))
	}
	id, ch := q.send("chat/send", map[string]any{"message": "endless", "provider": "openai", "workspace": "/cancelled"})
	for len(q.streamed(id)) < 2*limit {
		time.Sleep(time.Millisecond)
	}
	q.stdin.Write([]byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":%d}}`+"\n", id)))
	select {
	case raw := <-ch:
		var resp struct {
			Error struct {
				Code int
				Data struct {
					Text      string
					Truncated bool
				}
			}
		}
		json.Unmarshal(raw, &resp)
		if len(raw) > limit || resp.Error.Code != -32800 || !resp.Error.Data.Truncated || resp.Error.Data.Text == "" {
			t.Errorf("cancel answer of %d bytes: code %d, truncated %v, %d bytes of text", len(raw), resp.Error.Code, resp.Error.Data.Truncated, len(resp.Error.Data.Text))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer to the cancelled chat/send")
	}
}
