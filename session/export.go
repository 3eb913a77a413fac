package session

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tinychat/tinychat/internal/textcut"
)

// ExportFormats are the formats Export writes.
var ExportFormats = []string{"text", "markdown", "json"}

// ErrFormat is returned (wrapped) by Export for a format it does not know.
var ErrFormat = errors.New("unknown export format")

// CheckFormat returns an error wrapping ErrFormat unless format is one that
// Export knows: text, markdown or json.
func CheckFormat(format string) error {
	if _, ok := formats[format]; !ok {
		return fmt.Errorf("%w %q (want text, markdown or json)", ErrFormat, format)
	}
	return nil
}

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

// A format renders a session a message at a time, so that a long session
// is written out as it is read and never held whole.
type format struct {
	// columns are the columns of messages it reads: each costs a Go string
	// or a boxed integer a row, so that two columns read in about 60% of
	// the time all ten take.
	columns string
	new     func(w *bufio.Writer, sess *Session) exporter
}

// An exporter writes one session: each message in order, then end.
type exporter interface {
	message(m *Message)
	end() error
}

var formats = map[string]format{
	"text":     {"role, content", newTextExporter},
	"markdown": {"role, content, provider, model, interrupted, context, stop_reason, reasoning, tool_calls", newMarkdownExporter},
	"json":     {messageColumns, newJSONExporter},
}

// Export writes session id to w in format "text", "markdown" or "json".
// Text is the classic transcript ("You: ...", "LLM: ..."), answers only;
// markdown has the title, the providers and models used, a heading per
// message, the context items sent along, each reply's reasoning folded in
// a <details> block before it and how a reply ended when not by its end;
// json holds everything and is what Import reads.
// It writes as it reads, in one read transaction; on an error, what was
// written is incomplete.
func (s *Store) Export(ctx context.Context, w io.Writer, id, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	f := formats[format]
	return s.view(ctx, func(tx *sql.Tx) error {
		sess, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		e := f.new(bw, sess)
		err = eachMessage(ctx, tx, id, f.columns, func(m *Message) error {
			e.message(m)
			return nil
		})
		if err != nil {
			return err
		}
		if err := e.end(); err != nil {
			return err
		}
		return bw.Flush()
	})
}

type textExporter struct {
	b     *bufio.Writer
	first bool
}

func newTextExporter(w *bufio.Writer, _ *Session) exporter { return &textExporter{b: w, first: true} }

func (e *textExporter) message(m *Message) {
	if !e.first {
		e.b.WriteByte('\n')
	}
	e.first = false
	if m.Role == RoleUser {
		e.b.WriteString("You: ")
	} else {
		e.b.WriteString("LLM: ")
	}
	e.b.WriteString(strings.TrimRight(m.Content, "\r\n"))
	e.b.WriteByte('\n')
}

func (e *textExporter) end() error { return nil }

// markdownExporter holds the body back until the end, when it knows the
// providers and models the header names.
type markdownExporter struct {
	w     *bufio.Writer
	title string
	body  [][]byte // in pieces: one slice, growing, would copy megabytes again and again
	used  []string // "provider · model", in order of first use
	seen  map[string]bool
}

func newMarkdownExporter(w *bufio.Writer, sess *Session) exporter {
	return &markdownExporter{w: w, title: sess.Title, seen: map[string]bool{}}
}

// block adds a block of the body. Blocks are separated by one blank line
// whatever their own trailing newlines, so that the file reads the same
// however content ends; the body always follows the title's block.
func (e *markdownExporter) block(parts ...string) {
	n := 2
	for _, p := range parts {
		n += len(p)
	}
	last := len(e.body) - 1
	if last < 0 || cap(e.body[last])-len(e.body[last]) < n {
		e.body = append(e.body, make([]byte, 0, max(n, 64<<10)))
		last++
	}
	b := append(e.body[last], "\n\n"...)
	start := len(b)
	for _, p := range parts {
		b = append(b, p...)
	}
	e.body[last] = b[:start+len(bytes.TrimRight(b[start:], "\r\n"))]
}

func (e *markdownExporter) message(m *Message) {
	name := m.Provider
	if name != "" && m.Model != "" {
		name += " · "
	}
	name += m.Model
	if name != "" && !e.seen[name] {
		e.seen[name] = true
		e.used = append(e.used, name)
	}
	if m.Role == RoleUser {
		e.block("## You")
	} else {
		e.block("## Assistant")
	}
	for _, c := range m.Context {
		f := Fence(c.Text)
		e.block(contextName(c), "\n", f, c.LanguageID, "\n", strings.TrimSuffix(c.Text, "\n"), "\n", f)
	}
	if strings.TrimSpace(m.Reasoning) != "" {
		// Blank lines around the reasoning let Markdown inside it render.
		e.block("<details><summary>Reasoning</summary>\n\n", strings.TrimRight(m.Reasoning, "\r\n"), "\n\n</details>")
	}
	// Each tool call stands where the reply made it, between its texts,
	// which lose the spaces that joined them.
	at := 0
	text := func(end int) {
		if t := m.Content[at:end]; strings.TrimSpace(t) != "" {
			if at > 0 {
				t = strings.TrimLeft(t, " \r\n")
			}
			e.block(t)
		}
		at = end
	}
	for _, c := range m.ToolCalls {
		text(min(max(c.TextOffset, at), len(m.Content)))
		e.block(toolCallBlock(c))
	}
	text(len(m.Content))
	if note := stopNotes[m.StopReason]; note != "" {
		e.block(note)
	} else if m.Interrupted {
		e.block("*(interrupted)*")
	}
}

// maxShownOutput is how much of a tool's output a markdown export shows.
const maxShownOutput = 500

// toolCallBlock shows a tool call in markdown: its name, arguments and
// status, and the start of its output, folded.
func toolCallBlock(c ToolCall) string {
	head := fmt.Sprintf("**Tool** `%s` `%s` (%s)", c.Name, c.Arguments, c.Status)
	if c.Output == "" {
		return head
	}
	out := c.Output
	if len(out) > maxShownOutput {
		out = textcut.Prefix(out, maxShownOutput) + "\n…"
	}
	f := Fence(out)
	return head + "\n\n<details><summary>Output</summary>\n\n" + f + "\n" + strings.TrimRight(out, "\n") + "\n" + f + "\n\n</details>"
}

// stopNotes say how a reply ended, where that is worth saying.
var stopNotes = map[string]string{
	"max_tokens":     "*(cut off at the token limit)*",
	"max_size":       "*(cut off at the size limit)*",
	"refusal":        "*(the model refused)*",
	"content_filter": "*(stopped by the provider's content filter)*",
	"error":          "*(interrupted by an error)*",
	"max_tool_steps": "*(stopped after the tool-step limit)*",
}

func (e *markdownExporter) end() error {
	title := strings.Join(strings.Fields(e.title), " ")
	if title == "" {
		title = "Untitled session"
	}
	e.w.WriteString("# ")
	e.w.WriteString(title)
	if len(e.used) > 0 {
		e.w.WriteString("\n\n*")
		e.w.WriteString(strings.Join(e.used, ", "))
		e.w.WriteByte('*')
	}
	for _, b := range e.body {
		e.w.Write(b)
	}
	e.w.WriteByte('\n')
	return nil
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

// jsonExporter writes the json format: exportFile as encoding/json writes
// it with HTML escaping off (code is quoted as written: "<" stays "<", not
// "\u003c"), indented by json.Indent(dst, src, "", "  "), byte for byte;
// TestExportJSONMatchesEncodingJSON and FuzzExportJSON hold it to that,
// and TestExportJSONFields notices a field it does not know. It is written
// by hand because encoding/json, reflecting over every field of every
// message, then indenting its output in a second pass, took as long as
// reading the 10,000 messages of a large session did.
type jsonExporter struct{ jsonWriter }

func newJSONExporter(w *bufio.Writer, sess *Session) exporter {
	e := &jsonExporter{jsonWriter{b: w}}
	e.open('{')
	e.key("version")
	e.b.Write(strconv.AppendInt(e.b.AvailableBuffer(), exportVersion, 10))
	e.key("session")
	e.session(sess)
	e.key("messages")
	e.open('[')
	return e
}

func (e *jsonExporter) message(m *Message) {
	e.elem()
	e.jsonWriter.message(m)
}

func (e *jsonExporter) end() error {
	e.close(']')
	e.close('}')
	e.b.WriteByte('\n')
	return e.err
}

// jsonWriter writes indented JSON to b: two spaces a level, a member or
// element per line, and "{}" or "[]" for an empty object or array, as
// json.Indent lays it out. Values are formatted straight into b's free
// space (AvailableBuffer), with no scratch buffer of its own.
type jsonWriter struct {
	b     *bufio.Writer
	depth int
	empty bool  // the innermost object or array has no member yet
	err   error // the first value that could not be written
}

func (w *jsonWriter) open(c byte) {
	w.b.WriteByte(c)
	w.depth++
	w.empty = true
}

func (w *jsonWriter) close(c byte) {
	w.depth--
	if !w.empty {
		w.newline()
	}
	w.empty = false
	w.b.WriteByte(c)
}

func (w *jsonWriter) newline() {
	w.b.WriteByte('\n')
	for range w.depth {
		w.b.WriteString("  ")
	}
}

// elem starts an element of an array, or a member of an object: the comma
// after the one before, and a new line.
func (w *jsonWriter) elem() {
	if !w.empty {
		w.b.WriteByte(',')
	}
	w.empty = false
	w.newline()
}

// key starts the member k, which needs no escaping.
func (w *jsonWriter) key(k string) {
	w.elem()
	w.b.WriteByte('"')
	w.b.WriteString(k)
	w.b.WriteString(`": `)
}

func (w *jsonWriter) string(k, v string) {
	w.key(k)
	w.b.Write(AppendJSONString(w.b.AvailableBuffer(), v, false))
}

func (w *jsonWriter) int(k string, v int) {
	w.key(k)
	w.b.Write(strconv.AppendInt(w.b.AvailableBuffer(), int64(v), 10))
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b.Write(strconv.AppendBool(w.b.AvailableBuffer(), v))
}

// time writes t as time.Time's MarshalJSON does: RFC 3339 with the
// fraction of a second it has, or an error for a year that needs more
// than four digits.
func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	// The quotes go into the same free space as the time.
	b := append(w.b.AvailableBuffer(), '"')
	b, err := t.AppendText(b)
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("session: %s: %w", k, err)
		}
		return
	}
	w.b.Write(append(b, '"'))
}

// session, message and the rest write the fields of their types in
// order, with their json names, leaving out what the tags leave out when
// empty.
func (w *jsonWriter) session(s *Session) {
	w.open('{')
	w.string("id", s.ID)
	w.string("workspace", s.Workspace)
	w.string("title", s.Title)
	w.time("createdAt", s.CreatedAt)
	w.time("updatedAt", s.UpdatedAt)
	w.int("messageCount", s.MessageCount)
	w.bool("current", s.Current)
	w.close('}')
}

func (w *jsonWriter) message(m *Message) {
	w.open('{')
	w.string("id", m.ID)
	w.string("role", m.Role)
	w.string("content", m.Content)
	w.time("createdAt", m.CreatedAt)
	if m.Provider != "" {
		w.string("provider", m.Provider)
	}
	if m.Model != "" {
		w.string("model", m.Model)
	}
	if m.Usage != nil {
		w.intPair("usage", "inputTokens", m.Usage.InputTokens, "outputTokens", m.Usage.OutputTokens)
	}
	if m.Interrupted {
		w.bool("interrupted", true)
	}
	if len(m.Context) > 0 {
		w.key("context")
		w.open('[')
		for i := range m.Context {
			w.elem()
			w.contextItem(&m.Context[i])
		}
		w.close(']')
	}
	for _, f := range [...]struct{ k, v string }{{"stopReason", m.StopReason}, {"reasoning", m.Reasoning}, {"reasoningData", m.ReasoningData}} {
		if f.v != "" {
			w.string(f.k, f.v)
		}
	}
	if len(m.ToolCalls) > 0 {
		w.key("toolCalls")
		w.open('[')
		for i := range m.ToolCalls {
			w.elem()
			w.toolCall(&m.ToolCalls[i])
		}
		w.close(']')
	}
	w.close('}')
}

func (w *jsonWriter) toolCall(c *ToolCall) {
	w.open('{')
	w.string("id", c.ID)
	w.string("name", c.Name)
	if c.Server != "" {
		w.string("server", c.Server)
	}
	w.string("arguments", c.Arguments)
	w.string("status", c.Status)
	if c.Output != "" {
		w.string("output", c.Output)
	}
	w.int("textOffset", c.TextOffset)
	w.close('}')
}

func (w *jsonWriter) contextItem(c *ContextItem) {
	w.open('{')
	w.string("uri", c.URI)
	w.string("text", c.Text)
	if c.LanguageID != "" {
		w.string("languageId", c.LanguageID)
	}
	if c.Range != nil {
		w.key("range")
		w.open('{')
		w.intPair("start", "line", c.Range.Start.Line, "character", c.Range.Start.Character)
		w.intPair("end", "line", c.Range.End.Line, "character", c.Range.End.Character)
		w.close('}')
	}
	w.close('}')
}

// intPair writes the member k, an object of two integers: usage, and a
// range's positions.
func (w *jsonWriter) intPair(k, k1 string, v1 int, k2 string, v2 int) {
	w.key(k)
	w.open('{')
	w.int(k1, v1)
	w.int(k2, v2)
	w.close('}')
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
		if err := put(ctx, tx, made.ID, now, msgs, false); err != nil {
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
