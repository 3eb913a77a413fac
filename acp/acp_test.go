package acp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	sdk "github.com/coder/acp-go-sdk"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tinychat/tinychat/acp"
	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// client is an ACP client that keeps the updates it gets and allows every
// tool call. The methods it leaves to the embedded interface are never
// called: the agent is told the client has no file system nor terminal.
type client struct {
	sdk.Client

	mu      sync.Mutex
	updates []sdk.SessionUpdate
	asked   []sdk.RequestPermissionRequest
}

func (c *client) SessionUpdate(_ context.Context, n sdk.SessionNotification) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updates = append(c.updates, n.Update)
	return nil
}

func (c *client) RequestPermission(_ context.Context, p sdk.RequestPermissionRequest) (sdk.RequestPermissionResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, p)
	return sdk.RequestPermissionResponse{Outcome: sdk.RequestPermissionOutcome{
		Selected: &sdk.RequestPermissionOutcomeSelected{OptionId: chat.AllowOnce}}}, nil
}

// text joins the texts of the agent_message_chunks so far.
func (c *client) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, u := range c.updates {
		if u.AgentMessageChunk != nil {
			b.WriteString(u.AgentMessageChunk.Content.Text.Text)
		}
	}
	return b.String()
}

// toolModel is an OpenAI-compatible server whose model calls the tool the
// user names, with {"text": "ping"}, then answers "got: " and the result.
// It keeps the names of the tools each request offered.
type toolModel struct {
	*httptest.Server
	mu      sync.Mutex
	offered [][]string
}

func newToolModel(t *testing.T) *toolModel {
	m := &toolModel{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
			Tools []struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var names []string
		for _, tl := range req.Tools {
			names = append(names, tl.Function.Name)
		}
		m.mu.Lock()
		m.offered = append(m.offered, names)
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(delta map[string]any, finish any) {
			b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		last := req.Messages[len(req.Messages)-1]
		if last.Role == "tool" {
			send(map[string]any{"content": "got: " + last.Content}, nil)
			send(map[string]any{}, "stop")
		} else {
			send(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_1", "type": "function",
				"function": map[string]any{"name": last.Content, "arguments": `{"text":"ping"}`}}}}, nil)
			send(map[string]any{}, "tool_calls")
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(m.Close)
	return m
}

// mcpServerBin builds the MCP server of package tools' tests, which runs
// on stdio and has an "echo" tool.
func mcpServerBin(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "mcpserver")
	out, err := exec.Command("go", "build", "-o", bin, "../tools/testdata/mcpserver").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ../tools/testdata/mcpserver: %v\n%s", err, out)
	}
	return bin
}

// shoutServer is an MCP server over streamable HTTP with a "shout" tool.
func shoutServer(t *testing.T) string {
	s := mcp.NewServer(&mcp.Implementation{Name: "shout", Version: "v1"}, nil)
	type args struct {
		Text string `json:"text"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "shout", Description: "Gives back text in capitals."},
		func(_ context.Context, _ *mcp.CallToolRequest, a args) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.ToUpper(a.Text)}}}, nil, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

// connect runs an ACP agent over a store in dir and providers with env,
// and connects c to it. The agent stops when the test ends, as when its
// client closes its stdin.
func connect(t *testing.T, dir string, env map[string]string, c *client) *sdk.ClientSideConnection {
	store, err := session.Open(filepath.Join(dir, "tinychat.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry(providers.Options{Getenv: func(k string) string { return env[k] }})
	box := tools.NewManager(nil, nil)
	toAgent, fromClient := io.Pipe()
	fromAgent, toClient := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- acp.Serve(context.Background(), toAgent, toClient, acp.Options{
			Engine: &chat.Engine{Store: store, Providers: reg, Tools: box}, Tools: box, Version: "test"})
	}()
	conn := sdk.NewClientSideConnection(c, fromClient, fromAgent)
	t.Cleanup(func() {
		fromClient.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		toClient.Close()
		box.Close()
		store.Close()
	})
	if _, err := conn.Initialize(t.Context(), sdk.InitializeRequest{ProtocolVersion: sdk.ProtocolVersionNumber}); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestSessionMCPServers gives a session an MCP server on stdio and one
// over HTTP, as Zed does in session/new: the model is offered their tools
// beside the built-in ones, and calls both; another session is not
// offered them.
func TestSessionMCPServers(t *testing.T) {
	model := newToolModel(t)
	ws := t.TempDir()
	bin, url := mcpServerBin(t), shoutServer(t)
	c := &client{}
	// (Connected last: the agent stops first, then the servers.)
	conn := connect(t, t.TempDir(), map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": model.URL + "/v1"}, c)
	sess, err := conn.NewSession(t.Context(), sdk.NewSessionRequest{Cwd: ws, McpServers: []sdk.McpServer{
		{Stdio: &sdk.McpServerStdio{Name: "local echo", Command: bin, Args: []string{}, Env: []sdk.EnvVariable{}}},
		{Http: &sdk.McpServerHttpInline{Name: "web", Url: url, Headers: []sdk.HttpHeader{}, Type: "http"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tool, want string }{
		{"web__shout", "got: PING"},
		{"local_echo__echo", "got: ping"},
	} {
		c.mu.Lock()
		c.updates = nil
		c.mu.Unlock()
		res, err := conn.Prompt(t.Context(), sdk.PromptRequest{SessionId: sess.SessionId, Prompt: []sdk.ContentBlock{sdk.TextBlock(tc.tool)}})
		if err != nil {
			t.Fatalf("prompt %s: %v", tc.tool, err)
		}
		if res.StopReason != sdk.StopReasonEndTurn || c.text() != tc.want {
			t.Errorf("calling %s answered %q, %q; want end_turn, %q", tc.tool, res.StopReason, c.text(), tc.want)
		}
	}
	model.mu.Lock()
	offered := model.offered[0]
	model.mu.Unlock()
	for _, name := range []string{"read_file", "list_files", "grep", "web__shout", "local_echo__echo"} {
		if !slices.Contains(offered, name) {
			t.Errorf("the model was offered %v, without %s", offered, name)
		}
	}
	c.mu.Lock()
	asked := c.asked
	c.mu.Unlock()
	if len(asked) != 2 || *asked[0].ToolCall.Title != "web__shout (web)" {
		t.Errorf("permission was asked for %d calls (the first %+v), want 2, the first titled with its server", len(asked), asked)
	}

	// Another session of the connection has the configuration's tools only.
	other, err := conn.NewSession(t.Context(), sdk.NewSessionRequest{Cwd: ws, McpServers: []sdk.McpServer{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Prompt(t.Context(), sdk.PromptRequest{SessionId: other.SessionId, Prompt: []sdk.ContentBlock{sdk.TextBlock("read_file")}}); err != nil {
		t.Fatal(err)
	}
	model.mu.Lock()
	offered = model.offered[len(model.offered)-2] // the prompt's first step
	model.mu.Unlock()
	if slices.Contains(offered, "web__shout") || !slices.Contains(offered, "read_file") {
		t.Errorf("a session without MCP servers was offered %v", offered)
	}
}

// TestSessionMCPServerRefused: an SSE server, which tinychat does not
// offer to connect to, and a server without a command are refused by
// session/new, naming the field.
func TestSessionMCPServerRefused(t *testing.T) {
	conn := connect(t, t.TempDir(), nil, &client{})
	for name, srv := range map[string]sdk.McpServer{
		"sse":        {Sse: &sdk.McpServerSseInline{Name: "old", Url: "http://127.0.0.1:1/sse", Headers: []sdk.HttpHeader{}, Type: "sse"}},
		"no command": {Stdio: &sdk.McpServerStdio{Name: "empty", Command: "", Args: []string{}, Env: []sdk.EnvVariable{}}},
	} {
		_, err := conn.NewSession(t.Context(), sdk.NewSessionRequest{Cwd: t.TempDir(), McpServers: []sdk.McpServer{srv}})
		re, ok := err.(*sdk.RequestError)
		if !ok || re.Code != -32602 || !strings.Contains(fmt.Sprint(re.Data), "mcpServers") {
			t.Errorf("%s: session/new answered %v, want -32602 naming mcpServers", name, err)
		}
	}
}
