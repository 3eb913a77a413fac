// Command mcpserver is an MCP server on stdio for the tests of package
// tools: its tools echo, fail, hang until cancelled, crash the process and
// add tools to its list, and its list comes in pages.
//
// Usage:
//
//	mcpserver [-page-size N] [-exit-at-start]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// LongName is longer than the 64 bytes a model's tool name may have once
// the server's name is put before it; two tools start with it.
const LongName = "a_tool_whose_name_is_much_too_long_to_fit_in_sixty_four_bytes_"

func main() {
	pageSize := flag.Int("page-size", 0, "`tools` per page of tools/list (0: the SDK's default)")
	exitAtStart := flag.Bool("exit-at-start", false, "write to stderr and exit before serving")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("mcpserver: ")
	if *exitAtStart {
		log.Print("starting")
		log.Fatal("cannot start: exiting as asked")
	}

	s := mcp.NewServer(&mcp.Implementation{Name: "mcpserver", Version: "v1"}, &mcp.ServerOptions{PageSize: *pageSize})
	addTools(s)
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

type textArgs struct {
	Text string `json:"text"`
}

func addTools(s *mcp.Server) {
	echo := func(_ context.Context, _ *mcp.CallToolRequest, a textArgs) (*mcp.CallToolResult, any, error) {
		return text(a.Text), nil, nil
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Gives back text."}, echo)
	mcp.AddTool(s, &mcp.Tool{Name: "dotted.echo", Description: "Gives back text; its name has a dot, which models do not accept."}, echo)
	mcp.AddTool(s, &mcp.Tool{Name: LongName + "one", Description: "Gives back text."}, echo)
	mcp.AddTool(s, &mcp.Tool{Name: LongName + "two", Description: "Gives back text."}, echo)

	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Fails, as a tool does."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			r := text("it failed, as asked")
			r.IsError = true
			return r, nil, nil
		})

	type hangArgs struct {
		Socket string `json:"socket" jsonschema:"a Unix socket to tell when the call started and when it was cancelled"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "hang", Description: "Runs until cancelled."},
		func(ctx context.Context, _ *mcp.CallToolRequest, a hangArgs) (*mcp.CallToolResult, any, error) {
			conn, err := net.Dial("unix", a.Socket)
			if err != nil {
				return nil, nil, err
			}
			defer conn.Close()
			fmt.Fprintln(conn, "started")
			<-ctx.Done()
			fmt.Fprintln(conn, "cancelled")
			return nil, nil, ctx.Err()
		})

	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "Ends the server's process."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			log.Print("crashing as asked")
			os.Exit(3)
			return nil, nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "Gives the server's process id."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return text(fmt.Sprint(os.Getpid())), nil, nil
		})

	type nameArgs struct {
		Name string `json:"name"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "add_tool", Description: "Adds an echo tool of that name, and says the list changed."},
		func(_ context.Context, _ *mcp.CallToolRequest, a nameArgs) (*mcp.CallToolResult, any, error) {
			mcp.AddTool(s, &mcp.Tool{Name: a.Name, Description: "Gives back text."}, echo)
			return text("added " + a.Name), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "env", Description: "Gives the value of an environment variable, and whether it is set."},
		func(_ context.Context, _ *mcp.CallToolRequest, a nameArgs) (*mcp.CallToolResult, any, error) {
			v, ok := os.LookupEnv(a.Name)
			return text(fmt.Sprintf("%q %v", v, ok)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "image", Description: "Gives a caption and a PNG image."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{
				&mcp.TextContent{Text: "a picture:"},
				&mcp.ImageContent{MIMEType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n0123456789")},
			}}, nil, nil
		})

	type sizeArgs struct {
		Size int `json:"size"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "big", Description: "Gives size bytes of text."},
		func(_ context.Context, _ *mcp.CallToolRequest, a sizeArgs) (*mcp.CallToolResult, any, error) {
			return text(strings.Repeat("é", a.Size/2)), nil, nil
		})
}
