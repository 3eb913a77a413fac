package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/tinychat/tinychat/internal/textcut"
)

type readFileArgs struct {
	Path      string `json:"path"`
	StartLine *int   `json:"startLine"`
	EndLine   *int   `json:"endLine"`
}

// readFile is the read_file tool: the lines startLine to endLine of a
// text file, as many as fit in MaxOutput, with a note at the end when
// that is not the whole file.
func readFile(_ context.Context, w *workspace, a readFileArgs) (Result, error) {
	if a.Path == "" {
		return failure("path is required: the file to read, relative to the workspace folder"), nil
	}
	start, end := 1, 0 // end 0: to the end of the file
	if a.StartLine != nil {
		if *a.StartLine < 1 {
			return failure("startLine: want a line number, from 1, not %d", *a.StartLine), nil
		}
		start = *a.StartLine
	}
	if a.EndLine != nil {
		if *a.EndLine < start {
			return failure("endLine %d is before startLine %d", *a.EndLine, start), nil
		}
		end = *a.EndLine
	}
	name, err := w.resolve(a.Path)
	if err != nil {
		return failure("%v", err), nil
	}
	f, desc, err := w.openText(name)
	if err != nil {
		return failure("%v", explain(a.Path, err)), nil
	}
	if f == nil {
		return failure("%s", desc), nil
	}
	defer f.Close()

	// The note at the end needs room; 200 bytes are plenty for its numbers.
	const budget = MaxOutput - 200
	var b strings.Builder
	first, last := 0, 0 // the lines shown
	full := false       // no further line fits
	cutLine := false    // the first line shown did not fit whole
	total, err := f.lines(func(n int, line []byte) bool {
		if full || n < start || end > 0 && n > end {
			return true // counting the lines
		}
		if b.Len()+len(line)+1 > budget {
			full = true
			if first != 0 {
				return true
			}
			line, cutLine = line[:textcut.Len(line, budget)], true
		}
		if first == 0 {
			first = n
		}
		last = n
		b.Write(line)
		b.WriteByte('\n')
		return true
	})
	if err != nil {
		return failure("%s: %v", a.Path, err), nil
	}
	switch {
	case total == 0:
		return Result{Content: fmt.Sprintf("[%s is empty]", a.Path)}, nil
	case start > total:
		return failure("%s has %s: startLine %d is past its end", a.Path, lineCount(total), start), nil
	case cutLine:
		fmt.Fprintf(&b, "[line %d is longer than %d bytes and was cut; the file has %s]", first, budget, lineCount(total))
	case first != 1 || last != total:
		fmt.Fprintf(&b, "[lines %d-%d of %d]", first, last, total)
	}
	return Result{Content: b.String()}, nil
}

// lineCount says "1 line" or "n lines".
func lineCount(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}
