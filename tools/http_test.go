package tools

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPHTTP runs an MCP server of the SDK over streamable HTTP on
// loopback, reached with a URL and headers that hold a token.
func TestMCPHTTP(t *testing.T) {
	const secret = "s3cret-token"
	s := mcp.NewServer(&mcp.Implementation{Name: "httpserver", Version: "v1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "authorization", Description: "Gives the Authorization header of the request."},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: req.Extra.Header.Get("Authorization")}}}, nil, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	defer srv.Close()

	m, _ := newManager(t, map[string]ServerConfig{
		"web": {URL: srv.URL + "/mcp?key=" + secret, Headers: map[string]string{"Authorization": "Bearer " + secret}},
	})
	tools, problems := m.Tools(t.Context(), "")
	if len(problems) > 0 || len(tools) != 1 || tools[0].Name != "web__authorization" || tools[0].Server != "web" {
		t.Fatalf("Tools gave %+v, %v; want web__authorization", tools, problems)
	}
	if r := call(t, m, "web__authorization", `{}`); r.Content != "Bearer "+secret {
		t.Errorf("the server got Authorization %q, want the configured header", r.Content)
	}

	// A server that cannot be reached is reported without its URL's key.
	// (Closing the Manager first ends the stream it keeps open, which
	// srv.Close would wait for.)
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	srv.Close()
	down, _ := newManager(t, map[string]ServerConfig{"down": {URL: srv.URL + "/mcp?key=" + secret}})
	_, problems = down.Tools(t.Context(), "")
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "mcp server down") || strings.Contains(problems[0].Error(), secret) {
		t.Errorf("Tools of a server that is down gave problems %v, want one naming the server and not its key", problems)
	}
}
