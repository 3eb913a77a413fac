package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tinychat/tinychat/tools"
)

// A turn offers the model the tools that the policy does not deny, asks
// the user about those it says to ask about, and calls them.
func ExampleManager() {
	ws, err := os.MkdirTemp("", "workspace")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(ws)
	if err := os.WriteFile(filepath.Join(ws, "hello.txt"), []byte("hello\nworld\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	// A config.toml with MCP servers would start them on first use.
	servers, policy, err := tools.ParseConfig("config.toml", []byte(`
[tools]
policy = "ask"
read_file = "allow"
grep = "deny"
`))
	if err != nil {
		log.Fatal(err)
	}
	m := tools.NewManager(servers, nil)
	defer m.Close()

	ctx := context.Background()
	offered, problems := m.Tools(ctx, ws)
	for _, t := range offered {
		if d := policy.Decide(t.Name); d != tools.Deny {
			fmt.Printf("offered: %s (%s)\n", t.Name, d)
		}
	}
	for _, p := range problems {
		fmt.Println("not offered:", p)
	}

	for _, args := range []string{`{"path":"hello.txt","startLine":2}`, `{"path":"../secrets.txt"}`} {
		r, err := m.Call(ctx, ws, "read_file", json.RawMessage(args))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("read_file %s: %q (IsError %v)\n", args, r.Content, r.IsError)
	}
	// Output:
	// offered: read_file (allow)
	// offered: list_files (ask)
	// read_file {"path":"hello.txt","startLine":2}: "world\n[lines 2-2 of 2]" (IsError false)
	// read_file {"path":"../secrets.txt"}: "refused: ../secrets.txt leads outside the workspace (paths are relative to the workspace folder, and .. may not leave it)" (IsError true)
}
