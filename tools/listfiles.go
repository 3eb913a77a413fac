package tools

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
)

// maxList bounds the files list_files lists.
const maxList = 1000

type listFilesArgs struct {
	Path string `json:"path"`
}

// listFiles is the list_files tool: the files under a folder, one path
// (relative to the workspace) a line.
func listFiles(ctx context.Context, w *workspace, a listFilesArgs) (Result, error) {
	name, err := w.resolve(a.Path)
	if err != nil {
		return failure("%v", err), nil
	}
	var b strings.Builder
	n := 0
	err = w.walk(ctx, name, func(p string, _ fs.DirEntry) bool {
		if n == maxList {
			fmt.Fprintf(&b, "[stopped at %d files: give a folder as path to list what is in it]\n", maxList)
			return false
		}
		n++
		b.WriteString(p)
		b.WriteByte('\n')
		return true
	})
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if err != nil {
		return failure("%v", explain(a.Path, err)), nil
	}
	if n == 0 {
		return Result{Content: "[no files]"}, nil
	}
	return Result{Content: b.String()}, nil
}
