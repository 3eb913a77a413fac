package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinychat/tinychat/session"
)

func TestInitialize(t *testing.T) {
	d := startDaemon(t, daemonOpts{})
	var res struct {
		ServerInfo      struct{ Name, Version string } `json:"serverInfo"`
		ProtocolVersion int                            `json:"protocolVersion"`
		Capabilities    struct {
			Chat struct {
				Providers     []string `json:"providers"`
				ExportFormats []string `json:"exportFormats"`
				Cancel        bool     `json:"cancel"`
				Streaming     string   `json:"streaming"`
				Reasoning     bool     `json:"reasoning"`
			} `json:"chat"`
		} `json:"capabilities"`
	}
	// A refused initialize takes nothing: it can be sent again, corrected.
	if code, _, _ := d.callErr("initialize", map[string]any{"rootUri": "file:///tmp/wrong", "initializationOptions": map[string]any{"retries": -1}}); code != -32602 {
		t.Errorf("negative retries: code %d, want -32602", code)
	}
	d.call("initialize", map[string]any{"processId": nil, "rootUri": "file:///tmp/proj/", "capabilities": map[string]any{},
		"initializationOptions": map[string]any{"provider": "echo", "model": "echo"}}, &res)
	if res.ServerInfo.Name != "tinychat" || res.ServerInfo.Version != "test" || res.ProtocolVersion != 1 {
		t.Errorf("serverInfo/protocolVersion = %+v %d", res.ServerInfo, res.ProtocolVersion)
	}
	chat := res.Capabilities.Chat
	if !chat.Cancel || chat.Streaming != "deltas" || !chat.Reasoning || strings.Join(chat.ExportFormats, ",") != "text,markdown,json" || !slices.Contains(chat.Providers, "echo") {
		t.Errorf("capabilities.chat = %+v", chat)
	}
	d.notifyMethod("initialized", map[string]any{})

	// rootUri names the default workspace, in its normalised form.
	var s session.Session
	d.call("session/new", map[string]any{}, &s)
	if s.Workspace != "/tmp/proj" {
		t.Errorf("workspace = %q, want /tmp/proj", s.Workspace)
	}
	if code, _, _ := d.callErr("initialize", map[string]any{}); code != -32600 {
		t.Errorf("second initialize: code %d, want -32600", code)
	}
}

func TestChatSendStreamsDeltas(t *testing.T) {
	for _, jsonl := range []bool{false, true} {
		t.Run(fmt.Sprintf("jsonl=%v", jsonl), func(t *testing.T) {
			d := startDaemon(t, daemonOpts{jsonl: jsonl})
			var res sendResult
			message := "hello there, \"quoted\" <tag> & ünïcode\ttab\nnewline"
			deltas := d.call("chat/send", map[string]any{"message": message}, &res)
			if len(deltas) == 0 {
				t.Fatal("no chat/delta before the response")
			}
			for i, dl := range deltas {
				if dl.Seq != i || dl.SessionID != res.SessionID || dl.MessageID != res.MessageID {
					t.Errorf("delta %d = %+v, want seq %d of %s/%s", i, dl, i, res.SessionID, res.MessageID)
				}
			}
			if got := joined(deltas); got != res.Text || got != message {
				t.Errorf("joined deltas %q, result text %q, want %q", got, res.Text, message)
			}
			if res.Provider != "echo" || res.Model != "echo" || res.StopReason != "end" || res.Usage.OutputTokens == 0 {
				t.Errorf("result = %+v", res)
			}
		})
	}
}

func TestChatSendHistoryAndStorage(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	var first, second sendResult
	d.call("chat/send", map[string]any{"message": "one two", "provider": "openai", "model": "test-model",
		"context": []map[string]any{{"uri": "file:///w/main.go", "languageId": "go", "text": "package main\n",
			"range": map[string]any{"start": map[string]int{"line": 0, "character": 0}, "end": map[string]int{"line": 1, "character": 0}}}}}, &first)
	// The session continues with the provider and model it last used.
	d.call("chat/send", map[string]any{"message": "three", "sessionId": first.SessionID}, &second)
	if second.Provider != "openai" || second.Model != "test-model" {
		t.Errorf("second turn used %s/%s, want openai/test-model", second.Provider, second.Model)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("provider got %d requests, want 2", len(reqs))
	}
	if reqs[1].Auth != "Bearer sk-test-key" {
		t.Errorf("auth header %q", reqs[1].Auth)
	}
	var roles, contents []string
	for _, m := range reqs[1].Messages {
		roles = append(roles, m.Role)
		contents = append(contents, m.Content)
	}
	if strings.Join(roles, ",") != "user,assistant,user" {
		t.Fatalf("second request roles = %v, want the whole history", roles)
	}
	if !strings.Contains(contents[0], "main.go") || !strings.Contains(contents[0], "package main") || !strings.HasSuffix(contents[0], "one two") {
		t.Errorf("context was not given ahead of the message: %q", contents[0])
	}
	if contents[1] != first.Text || contents[2] != "three" {
		t.Errorf("history = %q", contents)
	}
	// The test server reports 10 input tokens per message and one output
	// token per delta, in the usage chunk.
	if first.Usage.InputTokens != 10 || first.Usage.OutputTokens != len(strings.SplitAfter(first.Text, " ")) {
		t.Errorf("usage = %+v for %q", first.Usage, first.Text)
	}

	var got struct {
		Session  session.Session   `json:"session"`
		Messages []session.Message `json:"messages"`
	}
	d.call("session/get", map[string]any{"sessionId": first.SessionID}, &got)
	if len(got.Messages) != 4 || got.Session.MessageCount != 4 || got.Session.Title != "one two" {
		t.Fatalf("session/get = %+v with %d messages", got.Session, len(got.Messages))
	}
	reply := got.Messages[1]
	if reply.ID != first.MessageID || reply.Provider != "openai" || reply.Model != "test-model" || reply.Usage == nil || reply.Interrupted {
		t.Errorf("stored reply = %+v", reply)
	}
	if len(got.Messages[0].Context) != 1 || got.Messages[0].Context[0].Range == nil || got.Messages[0].Content != "one two" {
		t.Errorf("stored user message = %+v", got.Messages[0])
	}
}

func TestCancel(t *testing.T) {
	for _, how := range []string{"$/cancelRequest", "chat/cancel"} {
		t.Run(how, func(t *testing.T) {
			srv := newProvider(t)
			srv.SetPace(20 * time.Millisecond)
			d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
			id := d.send("chat/send", map[string]any{"message": "slow 500", "provider": "openai"})
			first := d.waitFor("a delta", func(m msg) bool { return m.Method == "chat/delta" })
			var dl delta
			json.Unmarshal(first.Params, &dl)
			if how == "chat/cancel" {
				d.notifyMethod("chat/cancel", map[string]any{"sessionId": dl.SessionID})
			} else {
				d.notifyMethod("$/cancelRequest", map[string]any{"id": json.Number(id)})
			}
			resp, deltas := d.wait(id)
			if resp.Error == nil || resp.Error.Code != -32800 {
				t.Fatalf("cancelled chat/send answered %+v, want -32800", resp)
			}
			select {
			case <-srv.Disconnected():
			case <-time.After(2 * time.Second):
				t.Fatal("the upstream request was not closed")
			}
			var data struct{ SessionID, MessageID, Text string }
			json.Unmarshal(resp.Error.Data, &data)
			if data.Text == "" || data.Text != joined(deltas) || data.SessionID != dl.SessionID || data.MessageID != dl.MessageID {
				t.Errorf("cancel data = %+v, deltas joined %q", data, joined(deltas))
			}
			if len(deltas) >= 500 {
				t.Errorf("the stream was not cut: %d deltas", len(deltas))
			}
			msgs, err := d.store.Messages(context.Background(), data.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 2 || msgs[1].Content != data.Text || !msgs[1].Interrupted {
				t.Errorf("stored after cancel: %+v", msgs)
			}
		})
	}
}

func TestOneReplyAtATimePerSession(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	var s session.Session
	d.call("session/new", map[string]any{}, &s)
	slow := d.send("chat/send", map[string]any{"message": "slow 200", "provider": "openai", "sessionId": s.ID})
	d.waitFor("a delta", func(m msg) bool { return m.Method == "chat/delta" })

	code, _, data := d.callErr("chat/send", map[string]any{"message": "again", "sessionId": s.ID})
	if code != -32005 || data["sessionId"] != s.ID {
		t.Errorf("second send to a streaming session: %d %v, want -32005", code, data)
	}
	// Another session streams meanwhile.
	var other sendResult
	d.call("chat/send", map[string]any{"message": "elsewhere", "provider": "echo", "sessionId": newSession(d)}, &other)
	if other.Text != "elsewhere" {
		t.Errorf("other session got %q", other.Text)
	}
	d.notifyMethod("chat/cancel", map[string]any{"sessionId": s.ID})
	if resp, _ := d.wait(slow); resp.Error == nil || resp.Error.Code != -32800 {
		t.Errorf("slow send after cancel: %+v", resp)
	}
}

func newSession(d *daemon) string {
	var s session.Session
	d.call("session/new", map[string]any{"workspace": "/other"}, &s)
	return s.ID
}

func TestErrors(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	for _, tc := range []struct {
		name   string
		method string
		params any
		code   int
		data   map[string]any
		inMsg  string
	}{
		{"unknown method", "chat/nope", map[string]any{}, -32601, nil, "chat/nope"},
		{"missing message", "chat/send", map[string]any{}, -32602, map[string]any{"field": "message"}, "message"},
		{"message of the wrong type", "chat/send", map[string]any{"message": 42}, -32602, map[string]any{"field": "message"}, "message"},
		{"params not an object", "chat/send", []any{"hi"}, -32602, map[string]any{"field": "params"}, "object"},
		{"bad context", "chat/send", map[string]any{"message": "hi", "context": "x"}, -32602, map[string]any{"field": "context"}, "context"},
		{"unknown provider", "chat/send", map[string]any{"message": "hi", "provider": "nope"}, -32602, map[string]any{"field": "provider"}, "nope"},
		{"no such session", "chat/send", map[string]any{"message": "hi", "sessionId": "missing"}, -32004, map[string]any{"sessionId": "missing"}, "missing"},
		{"no such session to get", "session/get", map[string]any{"sessionId": "missing"}, -32004, map[string]any{"sessionId": "missing"}, "missing"},
		{"not configured", "chat/send", map[string]any{"message": "hi", "provider": "anthropic"}, -32002, map[string]any{"provider": "anthropic", "env": "ANTHROPIC_API_KEY"}, "ANTHROPIC_API_KEY"},
		{"provider error", "chat/send", map[string]any{"message": "error 401 Incorrect API key provided", "provider": "openai"}, -32001,
			map[string]any{"provider": "openai", "status": float64(401), "type": "test_error", "message": "Incorrect API key provided", "retryable": false, "userMessage": "error 401 Incorrect API key provided"},
			"openai: 401 test_error: Incorrect API key provided"},
		{"bad export format", "session/export", map[string]any{"format": "pdf", "sessionId": "x"}, -32602, map[string]any{"field": "format"}, "pdf"},
		{"missing export format", "session/export", map[string]any{}, -32602, map[string]any{"field": "format"}, "format"},
		{"bad import", "session/import", map[string]any{"content": "{not json"}, -32602, map[string]any{"field": "content"}, ""},
		{"models of an unknown provider", "models/list", map[string]any{"provider": "nope"}, -32602, map[string]any{"field": "provider"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, message, data := d.callErr(tc.method, tc.params)
			if code != tc.code {
				t.Errorf("code %d (%s), want %d", code, message, tc.code)
			}
			if !strings.Contains(message, tc.inMsg) {
				t.Errorf("message %q does not name %q", message, tc.inMsg)
			}
			for k, v := range tc.data {
				if data[k] != v {
					t.Errorf("data[%s] = %v, want %v (data %v)", k, data[k], v, data)
				}
			}
		})
	}
	// A turn that failed before any text left no trace.
	var list struct{ Sessions []session.Session }
	d.call("session/list", map[string]any{}, &list)
	if len(list.Sessions) != 0 {
		t.Errorf("failed turns left sessions: %+v", list.Sessions)
	}
	// And the daemon still serves.
	var res sendResult
	d.call("chat/send", map[string]any{"message": "still here", "provider": "echo"}, &res)
	if res.Text != "still here" {
		t.Errorf("after errors: %q", res.Text)
	}
}

func TestSessionMethods(t *testing.T) {
	d := startDaemon(t, daemonOpts{})
	var a, b sendResult
	d.call("chat/send", map[string]any{"message": "first question about goroutines"}, &a)
	var s2 session.Session
	d.call("session/new", map[string]any{"title": "second"}, &s2)
	d.call("chat/send", map[string]any{"message": "about channels"}, &b)
	if b.SessionID != s2.ID {
		t.Errorf("send went to %s, want the new current session %s", b.SessionID, s2.ID)
	}

	var list struct{ Sessions []session.Session }
	d.call("session/list", map[string]any{"workspace": "file:///work/space/"}, &list)
	if len(list.Sessions) != 2 || list.Sessions[0].ID != s2.ID || !list.Sessions[0].Current || list.Sessions[1].Current {
		t.Fatalf("session/list = %+v", list.Sessions)
	}
	if list.Sessions[1].Title != "first question about goroutines" || list.Sessions[1].MessageCount != 2 {
		t.Errorf("first session = %+v", list.Sessions[1])
	}

	var renamed session.Session
	d.call("session/rename", map[string]any{"sessionId": a.SessionID, "title": "Goroutines"}, &renamed)
	if renamed.Title != "Goroutines" || renamed.ID != a.SessionID {
		t.Errorf("renamed = %+v", renamed)
	}

	var text, js struct{ Format, Content string }
	d.call("session/export", map[string]any{"sessionId": a.SessionID, "format": "text"}, &text)
	want := "You: first question about goroutines\n\nLLM: first question about goroutines\n"
	if text.Content != want || text.Format != "text" {
		t.Errorf("text export = %q, want %q", text.Content, want)
	}
	var md struct{ Content string }
	d.call("session/export", map[string]any{"format": "markdown"}, &md)
	if !strings.Contains(md.Content, "## You\n\nabout channels") || !strings.Contains(md.Content, "## Assistant") {
		t.Errorf("markdown export of the current session = %q", md.Content)
	}
	d.call("session/export", map[string]any{"sessionId": a.SessionID, "format": "json"}, &js)
	var imported session.Session
	d.call("session/import", map[string]any{"content": js.Content, "workspace": "/elsewhere"}, &imported)
	if imported.MessageCount != 2 || imported.Workspace != "/elsewhere" || imported.ID == a.SessionID {
		t.Errorf("imported = %+v", imported)
	}
	var again struct{ Content string }
	d.call("session/export", map[string]any{"sessionId": imported.ID, "format": "text"}, &again)
	if again.Content != text.Content {
		t.Errorf("export after import = %q, want %q", again.Content, text.Content)
	}

	var found struct{ Hits []session.Hit }
	d.call("session/search", map[string]any{"query": "channels"}, &found)
	if len(found.Hits) != 2 || found.Hits[0].SessionID != s2.ID || !strings.Contains(found.Hits[0].Snippet, "channels") {
		t.Errorf("search = %+v", found.Hits)
	}

	var del struct{ Deleted bool }
	d.call("session/delete", map[string]any{"sessionId": a.SessionID}, &del)
	if !del.Deleted {
		t.Error("deleted = false")
	}
	if code, _, _ := d.callErr("session/get", map[string]any{"sessionId": a.SessionID}); code != -32004 {
		t.Errorf("get after delete: %d", code)
	}

	var provs struct {
		Providers []struct {
			Name       string
			Configured bool
		}
	}
	d.call("providers/list", nil, &provs)
	if len(provs.Providers) < 4 {
		t.Errorf("providers/list = %+v", provs)
	}
	var models struct{ Models []string }
	d.call("models/list", map[string]any{"provider": "echo"}, &models)
	if len(models.Models) == 0 {
		t.Error("models/list echo is empty")
	}
}

func TestModelsFromProvider(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	var models struct{ Models []string }
	d.call("models/list", map[string]any{"provider": "openai"}, &models)
	if strings.Join(models.Models, ",") != "test-model,test-model-large" {
		t.Errorf("models = %v", models.Models)
	}
}

func TestMalformedInputKeepsServing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		jsonl bool
		raw   string
		code  int
	}{
		{"body not JSON", false, lsp("{not json"), -32700},
		{"not a JSON-RPC object", false, lsp(`{"a":1}`), -32600},
		{"wrong jsonrpc version", false, lsp(`{"jsonrpc":"1.0","id":5,"method":"session/list"}`), -32600},
		{"method not a string", false, lsp(`{"jsonrpc":"2.0","id":5,"method":7}`), -32600},
		{"batch", false, lsp(`[]`), -32600},
		{"body without a newline, then a message", false, "Content-Type: x\r\n\r\n{}" + lsp(`{"jsonrpc":"2.0","id":"s","method":"nope"}`), -32700},
		{"header without Content-Length", false, "Content-Type: x\r\n\r\n", -32700},
		{"bad Content-Length", false, "Content-Length: lots\r\n\r\n", -32700},
		{"too large", false, "Content-Length: 2000\r\n\r\n" + strings.Repeat(" ", 2000), -32600},
		{"jsonl line not JSON", true, "hello\n", -32700},
		{"jsonl too large", true, "\"" + strings.Repeat("x", 70000) + "\"\n", -32600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDaemon(t, daemonOpts{jsonl: tc.jsonl, limit: 1024})
			d.write(tc.raw)
			m := d.waitFor("an error", func(m msg) bool { return m.Error != nil })
			if m.Error.Code != tc.code {
				t.Errorf("code %d (%s), want %d", m.Error.Code, m.Error.Message, tc.code)
			}
			var res sendResult
			d.call("chat/send", map[string]any{"message": "next one works"}, &res)
			if res.Text != "next one works" {
				t.Errorf("after %s: %q", tc.name, res.Text)
			}
		})
	}
}

// TestBadHeaderQuotedWhole checks that a bad header line quoted in the
// error is cut between characters: %q shows a split one as \x bytes.
func TestBadHeaderQuotedWhole(t *testing.T) {
	d := startDaemon(t, daemonOpts{})
	d.write("x" + strings.Repeat("é", 40) + "\r\n\r\n")
	m := d.waitFor("an error", func(m msg) bool { return m.Error != nil })
	if want := `bad header line "x` + strings.Repeat("é", 19) + `…"`; !strings.Contains(m.Error.Message, want) {
		t.Errorf("error %q, want it to quote %s", m.Error.Message, want)
	}
}

func TestShutdownAndExit(t *testing.T) {
	d := startDaemon(t, daemonOpts{})
	d.call("shutdown", nil, nil)
	if code, _, _ := d.callErr("session/list", map[string]any{}); code != -32600 {
		t.Errorf("request after shutdown: %d", code)
	}
	d.notifyMethod("exit", nil)
	if code := <-d.code; code != 0 {
		t.Errorf("exit after shutdown: %d, want 0", code)
	}
	d.code <- 0

	d = startDaemon(t, daemonOpts{})
	d.notifyMethod("exit", nil)
	if code := <-d.code; code != 1 {
		t.Errorf("exit without shutdown: %d, want 1", code)
	}
	d.code <- 1
}

func TestEndOfInputSavesReplyInProgress(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	d.send("chat/send", map[string]any{"message": "slow 500", "provider": "openai"})
	first := d.waitFor("a delta", func(m msg) bool { return m.Method == "chat/delta" })
	var dl delta
	json.Unmarshal(first.Params, &dl)
	d.in.Close()
	if code := <-d.code; code != 0 {
		t.Errorf("end of input: exit %d, want 0", code)
	}
	d.code <- 0
	msgs, err := d.store.Messages(context.Background(), dl.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !msgs[1].Interrupted || !strings.HasPrefix(msgs[1].Content, "w0 ") {
		t.Errorf("after end of input: %+v", msgs)
	}
}

// lsp frames body with a correct Content-Length.
func lsp(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// TestCancelBeforeAnyText sends the cancel right behind the request: the
// answer still carries the turn's ids, and the history keeps nothing.
func TestCancelBeforeAnyText(t *testing.T) {
	srv := newProvider(t)
	d := startDaemon(t, daemonOpts{env: openaiEnv(srv)})
	send, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 99, "method": "chat/send", "params": map[string]any{"message": "slow 5", "provider": "openai"}})
	d.write(lsp(string(send)) + lsp(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":99}}`))
	resp, deltas := d.wait("99")
	if resp.Error == nil || resp.Error.Code != -32800 || resp.Error.Message != "request cancelled" {
		t.Fatalf("answer %+v", resp)
	}
	var data struct{ SessionID, MessageID, Text, UserMessage string }
	json.Unmarshal(resp.Error.Data, &data)
	if data.SessionID == "" || data.MessageID == "" || data.Text != joined(deltas) || data.UserMessage != "slow 5" && data.Text == "" {
		t.Errorf("data %+v", data)
	}
	var list struct{ Sessions []session.Session }
	d.call("session/list", map[string]any{}, &list)
	if data.Text == "" && len(list.Sessions) != 0 {
		t.Errorf("a turn cancelled before any text left %+v", list.Sessions)
	}
}

// TestSessionSearch checks what a hit holds, and that whatever query is
// typed gets hits or -32602 naming the query, never an internal error.
func TestSessionSearch(t *testing.T) {
	d := startDaemon(t, daemonOpts{})
	var sent sendResult
	d.call("chat/send", map[string]any{"message": "東京の goroutine 🚀", "workspace": "/w/a"}, &sent)
	var found struct{ Hits []session.Hit }
	d.call("session/search", map[string]any{"query": "東京"}, &found)
	if len(found.Hits) != 2 {
		t.Fatalf("hits = %+v, want the question and its echo", found.Hits)
	}
	h := found.Hits[0]
	if h.SessionID != sent.SessionID || h.Title != "東京の goroutine 🚀" || h.Workspace != "/w/a" || h.CreatedAt.IsZero() ||
		h.Role == "" || !strings.Contains(h.Snippet, "«東京»の") {
		t.Errorf("hit = %+v", h)
	}
	for _, q := range []string{"a\x00b", `"unterminated`, "(((", `'); DROP TABLE messages; --`, "gorout*", `"goroutine 🚀"`} {
		d.call("session/search", map[string]any{"query": q}, &found)
	}
	for _, q := range []string{"", "NOT", "a OR", strings.Repeat("word ", 16000)} {
		code, _, data := d.callErr("session/search", map[string]any{"query": q})
		if code != -32602 || data["field"] != "query" {
			t.Errorf("search %.20q: code %d, data %v; want -32602 naming query", q, code, data)
		}
	}
}

// TestSlowMethodsAreAsync checks that the methods whose time depends on a
// provider or on the size of the store run off the reading goroutine, so
// that they never hold up the requests behind them.
func TestSlowMethodsAreAsync(t *testing.T) {
	methods := (&Server{}).methodTable()
	for _, name := range []string{"chat/send", "models/list", "session/search"} {
		if !methods[name].async {
			t.Errorf("%s runs on the reading goroutine", name)
		}
	}
}
