package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newWorkspace makes a workspace folder of files for the built-in tools,
// and beside it a folder outside that its symbolic links lead to.
func newWorkspace(t *testing.T) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "ws")
	outside := filepath.Join(filepath.Dir(ws), "outside")
	var huge strings.Builder
	for i := 1; i <= 100000; i++ {
		fmt.Fprintf(&huge, "line %d\n", i)
	}
	files := map[string]string{
		"a.txt":             "one\ntwo\nthree\n",
		"crlf.txt":          "x\r\ny\r\n",
		"empty.txt":         "",
		"long-line.txt":     strings.Repeat("é", 50000) + "\nsecond\n",
		"huge.txt":          huge.String(),
		"bin.dat":           "\x89PNG\r\n\x1a\n\x00\x00binary",
		".gitignore":        "*.log\nbuild/\n!keep.log\nbig.bin\n",
		"app.log":           "ignored-content\n",
		"keep.log":          "kept\n",
		"build/out.txt":     "ignored-content\n",
		"sub/.gitignore":    "secret.txt\n",
		"sub/secret.txt":    "ignored-content\n",
		"sub/b.go":          "package b\n\n// TODO: something\n",
		"secret.txt":        "not ignored here\n",
		".git/config":       "ignored-content\n",
		".git/info/exclude": "excluded.txt\n",
		"excluded.txt":      "ignored-content\n",
		"wide.txt":          "match " + strings.Repeat("w", 1000) + "\n",
	}
	for name, content := range files {
		write(t, filepath.Join(ws, name), content)
	}
	write(t, filepath.Join(outside, "outside.txt"), "outside-content\n")
	// A file over maxFileSize, sparse: it takes no room.
	f, err := os.Create(filepath.Join(ws, "big.bin"))
	if err == nil {
		err = errors.Join(f.Truncate(maxFileSize+1), f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"link-in":  "a.txt",
		"link-out": filepath.Join(outside, "outside.txt"),
		"dir-out":  outside,
		"up":       "../outside",
	} {
		if err := os.Symlink(target, filepath.Join(ws, link)); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// builtinCase is a call of a built-in tool and what its result must be:
// want exactly, or, with prefix or suffix set, starting or ending so.
type builtinCase struct {
	args           string
	want           string
	prefix, suffix bool
	isError        bool
}

func runBuiltin(t *testing.T, tool string, cases []builtinCase) {
	t.Helper()
	ws := newWorkspace(t)
	m := NewManager(nil, nil)
	for _, tt := range cases {
		args := strings.ReplaceAll(tt.args, "$WS", ws)
		r, err := m.Call(t.Context(), ws, tool, json.RawMessage(args))
		if err != nil {
			t.Errorf("%s %s: %v", tool, args, err)
			continue
		}
		want := strings.ReplaceAll(tt.want, "$WS", ws)
		ok := r.Content == want
		switch {
		case tt.prefix:
			ok = strings.HasPrefix(r.Content, want)
		case tt.suffix:
			ok = strings.HasSuffix(r.Content, want)
		}
		if !ok || r.IsError != tt.isError || len(r.Content) > MaxOutput {
			shown := r.Content
			if len(shown) > 300 {
				shown = shown[:150] + " ... " + shown[len(shown)-150:]
			}
			t.Errorf("%s %s gave IsError %v, %d bytes:\n%s\nwant IsError %v and (prefix %v, suffix %v):\n%s", tool, args, r.IsError, len(r.Content), shown, tt.isError, tt.prefix, tt.suffix, want)
		}
	}
}

func TestReadFile(t *testing.T) {
	runBuiltin(t, "read_file", []builtinCase{
		{args: `{"path":"a.txt"}`, want: "one\ntwo\nthree\n"},
		{args: `{"path":"a.txt","startLine":2}`, want: "two\nthree\n[lines 2-3 of 3]"},
		{args: `{"path":"a.txt","startLine":2,"endLine":2}`, want: "two\n[lines 2-2 of 3]"},
		{args: `{"path":"a.txt","endLine":20}`, want: "one\ntwo\nthree\n"},
		{args: `{"path":"a.txt","startLine":4}`, want: "a.txt has 3 lines: startLine 4 is past its end", isError: true},
		{args: `{"path":"a.txt","startLine":3,"endLine":2}`, want: "endLine 2 is before startLine 3", isError: true},
		{args: `{"path":"a.txt","startLine":0}`, want: "startLine: want a line number, from 1, not 0", isError: true},
		{args: `{"path":"a.txt","startLine":"2"}`, want: "the arguments do not fit the tool's schema: startLine: want an integer, not string", isError: true},
		{args: `{"path":"a.txt","start_line":2}`, want: `the arguments do not fit the tool's schema: unknown field "start_line"`, isError: true},
		{args: `{}`, want: "path is required: the file to read, relative to the workspace folder", isError: true},
		{args: `{"path":"crlf.txt"}`, want: "x\ny\n"},
		{args: `{"path":"empty.txt"}`, want: "[empty.txt is empty]"},
		{args: `{"path":"./sub/../a.txt"}`, want: "one\ntwo\nthree\n"},
		{args: `{"path":"$WS/a.txt"}`, want: "one\ntwo\nthree\n"},
		{args: `{"path":"link-in"}`, want: "one\ntwo\nthree\n"},

		// Outside the workspace.
		{args: `{"path":"../outside/outside.txt"}`, want: "refused: ../outside/outside.txt leads outside the workspace (paths are relative to the workspace folder, and .. may not leave it)", isError: true},
		{args: `{"path":"sub/../../outside/outside.txt"}`, want: "refused: sub/../../outside/outside.txt leads outside the workspace", prefix: true, isError: true},
		{args: `{"path":"/etc/passwd"}`, want: "refused: /etc/passwd is outside the workspace $WS", isError: true},
		{args: `{"path":"$WS/../outside/outside.txt"}`, want: "refused: $WS/../outside/outside.txt is outside the workspace $WS", isError: true},
		{args: `{"path":"link-out"}`, want: "refused: link-out leads outside the workspace through a symbolic link", isError: true},
		{args: `{"path":"dir-out/outside.txt"}`, want: "refused: dir-out/outside.txt leads outside the workspace through a symbolic link", isError: true},
		{args: `{"path":"up/outside.txt"}`, want: "refused: up/outside.txt leads outside the workspace through a symbolic link", isError: true},

		// Not text files, or no files.
		{args: `{"path":"missing.txt"}`, want: "missing.txt: no such file or folder in the workspace", isError: true},
		{args: `{"path":"a.txt/x"}`, want: "a.txt/x: not a directory", isError: true},
		{args: `{"path":"sub"}`, want: "sub is a folder: list_files lists it", isError: true},
		{args: `{"path":"bin.dat"}`, want: "bin.dat is a binary file of 16 bytes (image/png): only text files are read", isError: true},
		{args: `{"path":"big.bin"}`, want: fmt.Sprintf("big.bin is too large to read: %d bytes, more than %d", maxFileSize+1, maxFileSize), isError: true},

		// Long files are cut, saying where, and can be read on.
		{args: `{"path":"huge.txt"}`, want: "line 1\nline 2\n", prefix: true},
		{args: `{"path":"huge.txt"}`, want: "\nline 6644\n[lines 1-6644 of 100000]", suffix: true},
		{args: `{"path":"huge.txt","startLine":99999}`, want: "line 99999\nline 100000\n[lines 99999-100000 of 100000]"},
		{args: `{"path":"long-line.txt"}`, want: "éé\n[line 1 is longer than 65336 bytes and was cut; the file has 2 lines]", suffix: true},
		{args: `{"path":"long-line.txt","startLine":2}`, want: "second\n[lines 2-2 of 2]"},
	})
}

func TestListFiles(t *testing.T) {
	all := strings.Join([]string{
		".gitignore", "a.txt", "bin.dat", "crlf.txt", "dir-out", "empty.txt", "huge.txt",
		"keep.log", "link-in", "link-out", "long-line.txt", "secret.txt", "sub/.gitignore", "sub/b.go", "up", "wide.txt",
	}, "\n") + "\n"
	runBuiltin(t, "list_files", []builtinCase{
		// Not app.log, big.bin, build/, sub/secret.txt (ignored by sub/.gitignore)
		// nor .git/.
		{args: `{}`, want: all},
		{args: ``, want: all},
		{args: `{"path":"."}`, want: all},
		{args: `{"path":"$WS"}`, want: all},
		{args: `{"path":"sub"}`, want: "sub/.gitignore\nsub/b.go\n"},
		{args: `{"path":"sub/b.go"}`, want: "sub/b.go\n"},
		// Asked for by name, an ignored folder is listed.
		{args: `{"path":"build"}`, want: "build/out.txt\n"},
		{args: `{"path":"empty-dir"}`, want: "empty-dir: no such file or folder in the workspace", isError: true},
		{args: `{"path":".."}`, want: "refused: .. leads outside the workspace", prefix: true, isError: true},
		{args: `{"path":"dir-out"}`, want: "refused: dir-out leads outside the workspace through a symbolic link", isError: true},
		{args: `{"path":3}`, want: "the arguments do not fit the tool's schema: path: want a string, not number", isError: true},
	})
}

func TestGrep(t *testing.T) {
	runBuiltin(t, "grep", []builtinCase{
		{args: `{"pattern":"TODO"}`, want: "sub/b.go:3: // TODO: something\n"},
		{args: `{"pattern":"^t","path":"a.txt"}`, want: "a.txt:2: two\na.txt:3: three\n"},
		{args: `{"pattern":"(?i)^LINE 9999\\d$","path":"huge.txt"}`, want: "huge.txt:99990: line 99990\n", prefix: true},
		// Symbolic links are not searched twice, nor followed out.
		{args: `{"pattern":"three"}`, want: "a.txt:3: three\n"},
		{args: `{"pattern":"outside-content"}`, want: "[no matches]"},
		// Ignored (by .gitignore files and .git/info/exclude), .git and
		// binary files are not searched, unless asked for.
		{args: `{"pattern":"ignored-content|binary"}`, want: "[no matches]"},
		{args: `{"pattern":"ignored-content","path":"build"}`, want: "build/out.txt:1: ignored-content\n"},
		{args: `{"pattern":"kept|not ignored"}`, want: "keep.log:1: kept\nsecret.txt:1: not ignored here\n"},
		{args: `{"pattern":"match"}`, want: "wide.txt:1: match " + strings.Repeat("w", maxMatchLine-len("match ")) + " [cut]\n"},
		{args: `{"pattern":"x","path":"big.bin"}`, want: fmt.Sprintf("[1 files larger than %d bytes were not searched]\n", maxFileSize)},
		// At most maxMatches.
		{args: `{"pattern":"line","path":"huge.txt"}`, want: "huge.txt:200: line 200\n[stopped at 200 matches: narrow the pattern or the path]\n", suffix: true},
		{args: `{"pattern":"("}`, want: "pattern: not a regular expression of Go's RE2 syntax: missing closing ): `(`", isError: true},
		{args: `{"path":"a.txt"}`, want: "pattern is required: a regular expression", isError: true},
		{args: `{"pattern":"x","path":"/"}`, want: "refused: / is outside the workspace $WS", isError: true},
	})
}

func TestListFilesBound(t *testing.T) {
	ws := t.TempDir()
	for i := range maxList + 10 {
		write(t, filepath.Join(ws, "many", fmt.Sprintf("f%04d", i)), "")
	}
	r, err := NewManager(nil, nil).Call(t.Context(), ws, "list_files", nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(r.Content, "\n"), "\n")
	if len(lines) != maxList+1 || lines[maxList] != "[stopped at 1000 files: give a folder as path to list what is in it]" {
		t.Errorf("list_files of %d files gave %d lines ending %q, want %d files and a note", maxList+10, len(lines), lines[len(lines)-1], maxList)
	}
}

func TestBuiltinWorkspace(t *testing.T) {
	m := NewManager(nil, nil)
	if tools, _ := m.Tools(t.Context(), ""); len(tools) != 0 {
		t.Errorf("Tools without a workspace gave %d tools, want none", len(tools))
	}
	tools, problems := m.Tools(t.Context(), t.TempDir())
	if len(tools) != 3 || len(problems) != 0 {
		t.Errorf("Tools gave %v, %v; want the 3 built-ins", tools, problems)
	}
	for _, ws := range []string{"relative", filepath.Join(t.TempDir(), "missing")} {
		if _, err := m.Call(t.Context(), ws, "read_file", json.RawMessage(`{"path":"a"}`)); err == nil {
			t.Errorf("Call in workspace %s gave no error", ws)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Call(ctx, t.TempDir(), "list_files", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Call with a cancelled context gave %v, want context.Canceled", err)
	}
}
