package session

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/tinychat/tinychat/providers"
)

// ErrFormat is returned (wrapped) by Export for a format it does not know.
var ErrFormat = errors.New("unknown export format")

// ErrImport is returned (wrapped) by Import for content that is not a json
// export; the error says what is wrong with it.
var ErrImport = errors.New("not a tinychat session export")

// exportVersion is the "version" of the json format. Readers accept only
// the versions they know; fields may be added without a new version.
const exportVersion = 1

// exportFile is the json format.
type exportFile struct {
	Version  int       `json:"version"`
	Session  Session   `json:"session"`
	Messages []Message `json:"messages"`
}

var formats = map[string]func(*Session, []Message) (string, error){
	"text":     exportText,
	"markdown": exportMarkdown,
	"json":     exportJSON,
}

// Export returns session id in format "text", "markdown" or "json". Text
// is the classic transcript ("You: ...", "LLM: ..."); markdown has the
// title, the providers and models used, a heading per message and the
// context items sent along; json holds everything and is what Import reads.
func (s *Store) Export(ctx context.Context, id, format string) (string, error) {
	render, ok := formats[format]
	if !ok {
		return "", fmt.Errorf("%w %q (want text, markdown or json)", ErrFormat, format)
	}
	var (
		sess *Session
		msgs []Message
	)
	err := s.view(ctx, func(tx *sql.Tx) error {
		var err error
		if sess, err = getSession(ctx, tx, id); err != nil {
			return err
		}
		msgs, err = messages(ctx, tx, sess)
		return err
	})
	if err != nil {
		return "", err
	}
	return render(sess, msgs)
}

func exportText(_ *Session, msgs []Message) (string, error) {
	var b strings.Builder
	b.Grow(textSize(msgs))
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n")
		}
		if m.Role == providers.RoleUser {
			b.WriteString("You: ")
		} else {
			b.WriteString("LLM: ")
		}
		b.WriteString(strings.TrimRight(m.Content, "\r\n"))
		b.WriteString("\n")
	}
	return b.String(), nil
}

func exportMarkdown(sess *Session, msgs []Message) (string, error) {
	var b strings.Builder
	b.Grow(textSize(msgs))
	// Blocks are separated by one blank line whatever their own trailing
	// newlines, so that the file reads the same however content ends.
	block := func(s string) {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(strings.TrimRight(s, "\r\n"))
	}
	title := strings.Join(strings.Fields(sess.Title), " ")
	if title == "" {
		title = "Untitled session"
	}
	block("# " + title)
	if used := modelsUsed(msgs); used != "" {
		block("*" + used + "*")
	}
	for _, m := range msgs {
		if m.Role == providers.RoleUser {
			block("## You")
		} else {
			block("## Assistant")
		}
		for _, c := range m.Context {
			f := Fence(c.Text)
			block(contextName(c) + "\n" + f + c.LanguageID + "\n" + strings.TrimSuffix(c.Text, "\n") + "\n" + f)
		}
		if strings.TrimSpace(m.Content) != "" {
			block(m.Content)
		}
		if m.Interrupted {
			block("*(interrupted)*")
		}
	}
	b.WriteString("\n")
	return b.String(), nil
}

// textSize estimates the size of the text in msgs, so that an export is
// built without copying it again and again as it grows.
func textSize(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content) + 16
		for _, c := range m.Context {
			n += len(c.Text) + len(c.URI) + 16
		}
	}
	return n
}

// modelsUsed names the providers and models of msgs in order of first use:
// "openai · gpt-4.1-mini, anthropic · claude-sonnet-4".
func modelsUsed(msgs []Message) string {
	var used []string
	seen := map[string]bool{}
	for _, m := range msgs {
		name := m.Provider
		if name != "" && m.Model != "" {
			name += " · "
		}
		name += m.Model
		if name != "" && !seen[name] {
			seen[name] = true
			used = append(used, name)
		}
	}
	return strings.Join(used, ", ")
}

// contextName is the heading of a context item: its file name and lines.
func contextName(c ContextItem) string {
	p := c.URI
	if u, err := url.Parse(c.URI); err == nil && u.Path != "" {
		p = u.Path
	}
	return path.Base(p) + c.Range.lines()
}

// lines names the lines of r as " (line N)" or " (lines N-M)", counted
// from 1; a nil range names none.
func (r *Range) lines() string {
	if r == nil {
		return ""
	}
	first, last := r.Start.Line+1, r.End.Line+1
	// A range that ends at the start of a line does not include that line.
	if r.End.Character == 0 && last > first {
		last--
	}
	if last <= first {
		return fmt.Sprintf(" (line %d)", first)
	}
	return fmt.Sprintf(" (lines %d-%d)", first, last)
}

func exportJSON(sess *Session, msgs []Message) (string, error) {
	var compact bytes.Buffer
	compact.Grow(textSize(msgs) + 200*len(msgs))
	enc := json.NewEncoder(&compact)
	// Code is quoted as written: "<" stays "<", not "\u003c".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(exportFile{Version: exportVersion, Session: *sess, Messages: msgs}); err != nil {
		return "", err
	}
	return string(indent(make([]byte, 0, compact.Len()*3/2), compact.Bytes())), nil
}

// indent appends the compact JSON src to dst indented as
// json.Indent(dst, src, "", "  ") would, in a fraction of the time: it
// copies each string whole where json.Indent scans every byte, which for an
// export full of long messages is most of the work.
func indent(dst, src []byte) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, "  "...)
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			end := i + 1
			for {
				end += bytes.IndexByte(src[end:], '"')
				// A quote ends the string unless an odd number of
				// backslashes escape it.
				bs := 0
				for src[end-1-bs] == '\\' {
					bs++
				}
				if bs%2 == 0 {
					break
				}
				end++
			}
			dst = append(dst, src[i:end+1]...)
			i = end
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Import stores the json export content as a new session of workspace
// ("" means the workspace named in the export) and makes it current. The
// session and its messages get new ids, so the same export can be imported
// twice; everything else about the messages is kept. Content that is not a
// json export gives an error wrapping ErrImport.
func (s *Store) Import(ctx context.Context, workspace, content string) (*Session, error) {
	var f exportFile
	dec := json.NewDecoder(strings.NewReader(content))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImport, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: more data after the session", ErrImport)
	}
	switch {
	case f.Version == 0:
		return nil, fmt.Errorf("%w: no version", ErrImport)
	case f.Version != exportVersion:
		return nil, fmt.Errorf("%w: version %d is not supported (want %d)", ErrImport, f.Version, exportVersion)
	case f.Messages == nil:
		return nil, fmt.Errorf("%w: no messages", ErrImport)
	}
	ws, err := NormalizeWorkspace(workspace)
	if workspace == "" {
		if ws, err = NormalizeWorkspace(f.Session.Workspace); err != nil {
			err = fmt.Errorf("%w: session.workspace: %v", ErrImport, err)
		}
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	msgs := make([]*Message, len(f.Messages))
	for i := range f.Messages {
		m := &f.Messages[i]
		if err := checkRole(m); err != nil {
			return nil, fmt.Errorf("%w: messages[%d]: %v", ErrImport, i, err)
		}
		if !exportable(m.CreatedAt) {
			return nil, fmt.Errorf("%w: messages[%d]: createdAt %v is out of range", ErrImport, i, m.CreatedAt)
		}
		m.ID = ""
		msgs[i] = m
	}
	prepare(msgs, now)
	created := f.Session.CreatedAt
	if !exportable(created) {
		return nil, fmt.Errorf("%w: session.createdAt %v is out of range", ErrImport, created)
	}
	if created.IsZero() {
		created = now
	}
	var sess *Session
	err = s.update(ctx, func(tx *sql.Tx) error {
		made, err := newSession(ctx, tx, ws, f.Session.Title, created)
		if err != nil {
			return err
		}
		if err := put(ctx, tx, made.ID, now, msgs); err != nil {
			return err
		}
		sess, err = getSession(ctx, tx, made.ID)
		return err
	})
	return sess, err
}

// exportable reports whether t, once in UTC as the store keeps it, can be
// written in the json format again (whose times have four-digit years).
func exportable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}
