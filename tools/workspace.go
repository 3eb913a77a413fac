package tools

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Limits of the built-in tools, beside MaxOutput.
const (
	maxFileSize = 32 << 20 // larger files are described, not read or searched
	sniffSize   = 8000     // a NUL in a file's first sniffSize bytes makes it binary, as for git
	maxLine     = 1 << 20  // longer lines are cut, for grep's matching too
)

// workspace is the folder the built-in tools read. Every file is opened
// through root, which refuses paths that leave the folder, through .. or
// through a symbolic link, so no check of ours can be forgotten or raced.
type workspace struct {
	dir  string
	root *os.Root
	fsys fs.FS // root as an fs.FS, whose paths are slash-separated
}

func openWorkspace(dir string) (*workspace, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("the workspace %q is not an absolute path", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("the workspace: %w", err)
	}
	return &workspace{dir: filepath.Clean(dir), root: root, fsys: root.FS()}, nil
}

func (w *workspace) Close() error { return w.root.Close() }

// resolve turns p, a path argument of a tool (relative to the workspace, or
// absolute inside it; "" for the workspace itself), into a path of w.fsys.
// It refuses paths that leave the workspace by their spelling; root
// refuses the symbolic links that do when the path is opened.
func (w *workspace) resolve(p string) (string, error) {
	rel := p
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(w.dir, p)
		if err != nil || !filepath.IsLocal(r) {
			return "", fmt.Errorf("refused: %s is outside the workspace %s", p, w.dir)
		}
		rel = r
	}
	if rel == "" {
		rel = "."
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("refused: %s leads outside the workspace (paths are relative to the workspace folder, and .. may not leave it)", p)
	}
	return filepath.ToSlash(filepath.Clean(rel)), nil
}

// explain turns an error of opening p in the workspace into what the model
// is told.
func explain(p string, err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or folder in the workspace", p)
	case errors.As(err, &errno):
		return fmt.Errorf("%s: %v", p, errno)
	}
	// os.Root refuses a symbolic link that leads outside the workspace with
	// an error of its own, which it does not export; every other failure
	// is the system's, an errno.
	return fmt.Errorf("refused: %s leads outside the workspace through a symbolic link", p)
}

// walk calls fn for each file under name (a path of w.fsys: a folder, or
// a file then given alone), symbolic links included, in lexical order, and
// stops when fn returns false or ctx is done. It leaves out .git folders
// and what the .gitignore files of the workspace and .git/info/exclude
// ignore, as git does; but name, asked for, is walked even if ignored, then
// as if the ignore files above it ignored nothing. Folders it cannot read
// are passed over.
func (w *workspace) walk(ctx context.Context, name string, fn func(name string, d fs.DirEntry) bool) error {
	// ignores holds, for each folder walked, the patterns in force in it:
	// those of its parents' .gitignore files, then its own.
	ignores := map[string][]gitignore.Pattern{}
	if name != "." {
		// The ignore files of name's parents apply under name too.
		ps := w.ignoreFile(nil, ".git/info/exclude", nil)
		ps = w.ignoreFile(ps, ".gitignore", nil)
		elems := split(path.Dir(name))
		for i := range elems {
			dir := elems[:i+1]
			ps = w.ignoreFile(ps, strings.Join(dir, "/")+"/.gitignore", dir)
		}
		if gitignore.NewMatcher(ps).Match(split(name), true) {
			// Asked for by name, an ignored folder is walked as if its
			// parents ignored nothing.
			ps = nil
		}
		ignores[path.Dir(name)] = ps
	}
	return fs.WalkDir(w.fsys, name, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			if p == name {
				return err
			}
			return nil
		}
		if p != name {
			dir := path.Dir(p)
			if d.Name() == ".git" || gitignore.NewMatcher(ignores[dir]).Match(split(p), d.IsDir()) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		if d.IsDir() {
			ps := ignores[path.Dir(p)]
			if p == "." {
				ps = w.ignoreFile(nil, ".git/info/exclude", nil)
			}
			ignores[p] = w.ignoreFile(ps, path.Join(p, ".gitignore"), split(p))
			return nil
		}
		if !fn(p, d) {
			return fs.SkipAll
		}
		return nil
	})
}

// ignoreFile returns ps followed by the patterns of the ignore file name,
// which apply under the folder domain. A file that cannot be read adds
// nothing.
func (w *workspace) ignoreFile(ps []gitignore.Pattern, name string, domain []string) []gitignore.Pattern {
	data, err := fs.ReadFile(w.fsys, name)
	if err != nil {
		return ps
	}
	// Not appending to ps: its array is shared with the parent folder's.
	ps = ps[:len(ps):len(ps)]
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" && !strings.HasPrefix(line, "#") && strings.TrimSpace(line) != "" {
			ps = append(ps, gitignore.ParsePattern(line, domain))
		}
	}
	return ps
}

// split splits a path of w.fsys into its elements, as gitignore wants it.
func split(p string) []string {
	if p == "." {
		return nil
	}
	return strings.Split(p, "/")
}

// textFile is a file of the workspace opened for reading as text.
type textFile struct {
	f fs.File
	r *bufio.Reader
}

// openText opens the file name for reading as text. It returns a nil
// *textFile and a description for the model when the file is not one: a
// folder, a file larger than maxFileSize, or a binary file.
func (w *workspace) openText(name string) (*textFile, string, error) {
	f, err := w.fsys.Open(name)
	if err != nil {
		return nil, "", err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", err
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Sprintf("%s is a folder: list_files lists it", name), nil
	}
	if fi.Size() > maxFileSize {
		f.Close()
		return nil, fmt.Sprintf("%s is too large to read: %d bytes, more than %d", name, fi.Size(), maxFileSize), nil
	}
	r := bufio.NewReaderSize(f, 64<<10)
	head, err := r.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		f.Close()
		return nil, "", err
	}
	if bytes.IndexByte(head, 0) >= 0 {
		f.Close()
		return nil, fmt.Sprintf("%s is a binary file of %d bytes (%s): only text files are read", name, fi.Size(), sniffType(head)), nil
	}
	return &textFile{f: f, r: r}, "", nil
}

func (t *textFile) Close() error { return t.f.Close() }

// lines calls fn with each line of the file and its number (from 1),
// without its line ending and cut to maxLine bytes, until fn returns false.
// It returns the number of lines read.
func (t *textFile) lines(fn func(n int, line []byte) bool) (int, error) {
	var long []byte // a line longer than the reader's buffer, so far
	n := 0
	for {
		chunk, err := t.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long) < maxLine {
				long = append(long, chunk[:min(len(chunk), maxLine-len(long))]...)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return n, err
		}
		if len(chunk) == 0 && long == nil && err == io.EOF {
			return n, nil
		}
		line := chunk
		if long != nil {
			line = append(long, chunk[:min(len(chunk), max(maxLine-len(long), 0))]...)
			long = nil
		}
		n++
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if !fn(n, line) {
			return n, nil
		}
		if err == io.EOF {
			return n, nil
		}
	}
}

// sniffType names the kind of data that head begins, such as image/png.
func sniffType(head []byte) string {
	t, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return t
}
