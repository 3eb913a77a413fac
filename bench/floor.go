package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// floorSource is the startup scenario's floor: a Go program that answers
// JSON-RPC over stdio with LSP framing and does nothing else, so that the
// cost of starting any Go process on this machine (fork, exec, the
// runtime) can be told from tinychat's own.
const floorSource = `package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	r := bufio.NewReader(os.Stdin)
	for {
		n := -1
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSpace(line)
			if line == "" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Content-Length:"); ok {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		var m struct {
			ID     json.RawMessage
			Method string
		}
		json.Unmarshal(body, &m)
		if m.Method == "exit" {
			return
		}
		if m.ID != nil {
			resp := "{\"jsonrpc\":\"2.0\",\"id\":" + string(m.ID) + ",\"result\":{}}"
			fmt.Printf("Content-Length: %d\r\n\r\n%s", len(resp), resp)
		}
	}
}
`

// buildFloor writes floorSource into dir and builds it there.
func buildFloor(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{"main.go": floorSource, "go.mod": "module floor\n\ngo 1.22\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "floor")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the startup floor: %v\n%s", err, out)
	}
	return bin, nil
}
