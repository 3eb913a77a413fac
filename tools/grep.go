package tools

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/tinychat/tinychat/internal/textcut"
)

// Bounds of grep's output.
const (
	maxMatches   = 200
	maxMatchLine = 500 // bytes of a matching line shown
)

type grepArgs struct {
	Pattern string `json:"pattern"`
	Path    string `json:"path"`
}

// grep is the grep tool: the lines of the workspace's text files that
// match a regular expression, as path:line: text.
func grep(ctx context.Context, w *workspace, a grepArgs) (Result, error) {
	if a.Pattern == "" {
		return failure("pattern is required: a regular expression"), nil
	}
	re, err := regexp.Compile(a.Pattern)
	if err != nil {
		return failure("pattern: not a regular expression of Go's RE2 syntax: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: ")), nil
	}
	name, err := w.resolve(a.Path)
	if err != nil {
		return failure("%v", err), nil
	}
	var b strings.Builder
	matches, skipped := 0, 0
	more := false // a match past maxMatches was found
	var readErr error
	err = w.walk(ctx, name, func(p string, d fs.DirEntry) bool {
		// A symbolic link's target, if in the workspace, is searched
		// where it is, and its path would be a second one for its lines.
		if !d.Type().IsRegular() {
			return true
		}
		if fi, err := d.Info(); err == nil && fi.Size() > maxFileSize {
			skipped++
			return true
		}
		f, _, err := w.openText(p)
		if err != nil {
			readErr = explain(p, err)
		}
		if f == nil {
			return true // binary, or unreadable
		}
		defer f.Close()
		_, err = f.lines(func(n int, line []byte) bool {
			if !re.Match(line) {
				return true
			}
			if matches == maxMatches {
				more = true
				return false
			}
			matches++
			text := string(line[:textcut.Len(line, maxMatchLine)])
			if len(text) < len(line) {
				text += " [cut]"
			}
			fmt.Fprintf(&b, "%s:%d: %s\n", p, n, text)
			return true
		})
		if err != nil {
			readErr = explain(p, err)
		}
		return !more
	})
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if err != nil {
		return failure("%v", explain(a.Path, err)), nil
	}
	if more {
		fmt.Fprintf(&b, "[stopped at %d matches: narrow the pattern or the path]\n", maxMatches)
	}
	if skipped > 0 {
		fmt.Fprintf(&b, "[%d files larger than %d bytes were not searched]\n", skipped, maxFileSize)
	}
	if readErr != nil {
		fmt.Fprintf(&b, "[not all files could be read: %v]\n", readErr)
	}
	if b.Len() == 0 {
		return Result{Content: "[no matches]"}, nil
	}
	return Result{Content: b.String()}, nil
}
