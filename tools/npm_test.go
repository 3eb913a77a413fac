package tools

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// nodeModules returns the node_modules folder that holds the MCP reference
// servers from npm: $TINYCHAT_MCP_NODE_MODULES, which .ci/test sets from
// testdata/install-mcp-servers.sh, or else, but on CI, where that script
// installs them, run now.
var nodeModules = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("TINYCHAT_MCP_NODE_MODULES"); dir != "" {
		return dir, nil
	}
	if os.Getenv("CI") == "true" {
		return "", errors.New("TINYCHAT_MCP_NODE_MODULES is not set: .ci/test sets it to what tools/testdata/install-mcp-servers.sh prints")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", errors.New("the tests of the MCP reference servers need npm to install them, or TINYCHAT_MCP_NODE_MODULES set to a node_modules folder holding them (see testdata/install-mcp-servers.sh)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", "testdata/install-mcp-servers.sh")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("testdata/install-mcp-servers.sh: %v\n%s", err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
})

// npmServer returns the ServerConfig of the reference server pkg, run by
// node with args.
func npmServer(t *testing.T, pkg string, args ...string) ServerConfig {
	t.Helper()
	dir, err := nodeModules()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "@modelcontextprotocol", pkg, "dist", "index.js")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("%s is not installed in %s: %v", pkg, dir, err)
	}
	return ServerConfig{Command: "node", Args: append([]string{script}, args...)}
}

func TestEverythingServer(t *testing.T) {
	m, _ := newManager(t, map[string]ServerConfig{"everything": npmServer(t, "server-everything", "stdio")})
	tools, problems := m.Tools(t.Context(), "")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	names := map[string]bool{}
	for _, tool := range tools {
		if !validName.MatchString(tool.Name) {
			t.Errorf("tool name %q is not valid for a model", tool.Name)
		}
		names[tool.Name] = true
	}
	for _, want := range []string{"everything__echo", "everything__get-sum", "everything__get-tiny-image"} {
		if !names[want] {
			t.Errorf("Tools gave no %s", want)
		}
	}
	for _, tt := range []struct {
		name, args string
		want       string // a part of the result
		isError    bool
	}{
		{"everything__echo", `{"message":"hello"}`, "Echo: hello", false},
		{"everything__get-sum", `{"a":2,"b":3}`, "5", false},
		{"everything__get-tiny-image", `{}`, "\n[image/png, ", false},
		{"everything__echo", `{}`, "message", true},
	} {
		r := call(t, m, tt.name, tt.args)
		if !strings.Contains(r.Content, tt.want) || r.IsError != tt.isError {
			t.Errorf("Call(%s, %s) = %+v, want IsError %v and %q in Content", tt.name, tt.args, r, tt.isError, tt.want)
		}
	}
}

func TestFilesystemServer(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := newManager(t, map[string]ServerConfig{"fs": npmServer(t, "server-filesystem", dir)})
	if _, problems := m.Tools(t.Context(), ""); len(problems) > 0 {
		t.Fatal(problems)
	}
	args := func(path string) string { return fmt.Sprintf(`{"path":%q}`, path) }
	for _, tt := range []struct {
		name, args string
		want       string // a part of the result
		isError    bool
	}{
		{"fs__list_directory", args(dir), "[FILE] a.txt", false},
		{"fs__read_text_file", args(filepath.Join(dir, "a.txt")), "hello from a file", false},
		{"fs__read_text_file", args("/etc/passwd"), "outside allowed directories", true},
	} {
		r := call(t, m, tt.name, tt.args)
		if !strings.Contains(r.Content, tt.want) || r.IsError != tt.isError {
			t.Errorf("Call(%s, %s) = %+v, want IsError %v and %q in Content", tt.name, tt.args, r, tt.isError, tt.want)
		}
	}
}
