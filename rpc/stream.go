package rpc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/tinychat/tinychat/internal/textcut"
)

// DefaultMaxMessageSize is the largest message read by default, and the
// largest answer written.
const DefaultMaxMessageSize = 8 << 20

// bufferSize is the size of the read and write buffers; it is also the
// longest LSP header line read whole.
const bufferSize = 64 << 10

// stream frames the daemon's messages: LSP Content-Length framing or one
// JSON value a line. It never gives up on its peer: a frame that cannot be
// used is returned as a *frameError to answer, and reading goes on with
// the next frame. Only the end of the input ends it. What it reads is
// bounded: a message by limit, a header line by the buffer.
//
// Every write goes through one mutex, so chat/delta frames written with
// writeFrame keep their place before the answer written after them.
type stream struct {
	r     *bufio.Reader
	jsonl bool
	limit int

	mu    sync.Mutex
	w     *bufio.Writer
	frame []byte // reused header buffer, guarded by mu
	// queued counts the writers waiting for mu or holding it. A writer
	// that leaves others queued behind it does not flush: the last one
	// does, so that frames written at once by many requests go out in
	// fewer writes, and none stays in the buffer.
	queued atomic.Int32
}

func newStream(r io.Reader, w io.Writer, jsonl bool, limit int) *stream {
	if limit <= 0 {
		limit = DefaultMaxMessageSize
	}
	return &stream{r: bufio.NewReaderSize(r, bufferSize), w: bufio.NewWriterSize(w, bufferSize), jsonl: jsonl, limit: limit}
}

// frameError is a frame that was read past, to be answered.
type frameError struct{ refusal }

func (e *frameError) Error() string { return e.msg }

// next reads the body of the next frame. Its error is a *frameError for a
// frame that was skipped, else the input's.
func (s *stream) next() ([]byte, error) {
	if s.jsonl {
		return s.nextLine()
	}
	return s.nextLSP()
}

func (s *stream) nextLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
		return bytes.Clone(line), nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	// A line longer than the buffer: gather it up to the limit; past the
	// limit, read it through to its newline for its id alone.
	buf := bytes.Clone(line)
	var f *idFinder
	for {
		line, err = s.r.ReadSlice('\n')
		switch {
		case f != nil:
			f.Write(line)
		case len(buf)+len(line) > s.limit:
			f = &idFinder{}
			f.Write(buf)
			f.Write(line)
			buf = nil
		default:
			buf = append(buf, line...)
		}
		if err == nil || errors.Is(err, io.EOF) {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	if f != nil {
		return nil, &frameError{refusal{f.id(), jsonrpc2.CodeInvalidRequest, fmt.Sprintf("invalid request: message larger than the limit of %d bytes", s.limit)}}
	}
	return buf, nil
}

func (s *stream) nextLSP() ([]byte, error) {
	length := -1
	bad := ""
	headers := 0
	for {
		line, long, err := s.headerLine()
		if err != nil {
			return nil, err
		}
		if line == "" && !long {
			if headers > 0 {
				break
			}
			continue // stray blank lines between messages
		}
		headers++
		if long {
			bad = fmt.Sprintf("a header line longer than %d bytes", bufferSize)
		}
		value, ok := contentLength(line)
		if !ok {
			if !long && !isHeader(line) {
				bad = fmt.Sprintf("bad header line %q", textcut.Clip(line, 40))
			}
			continue
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			bad = fmt.Sprintf("bad Content-Length %q", textcut.Clip(value, 20))
			continue
		}
		length = n
	}
	if length < 0 {
		if bad == "" {
			bad = "no Content-Length header"
		}
		// Without a length the body cannot be found: skip to the next header block.
		return nil, &frameError{refusal{idNull, jsonrpc2.CodeParseError, "parse error: " + bad + "; skipped to the next header"}}
	}
	if length > s.limit {
		// Read through, for the id alone.
		var f idFinder
		if _, err := io.CopyN(&f, s.r, int64(length)); err != nil {
			return nil, err
		}
		return nil, &frameError{refusal{f.id(), jsonrpc2.CodeInvalidRequest, fmt.Sprintf("invalid request: message of %d bytes is larger than the limit of %d bytes", length, s.limit)}}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(s.r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// headerLine reads one line of an LSP header block, without its line end.
// A line longer than the buffer is not kept: long is then true, and line
// holds its last bytes, where a Content-Length may follow the unterminated
// body of a skipped message.
func (s *stream) headerLine() (line string, long bool, err error) {
	b, err := s.r.ReadSlice('\n')
	if err == nil {
		return trimEOL(string(b)), false, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return "", false, err
	}
	const keep = 64 + len("\r\n")
	tail := bytes.Clone(b[len(b)-keep:])
	for errors.Is(err, bufio.ErrBufferFull) {
		b, err = s.r.ReadSlice('\n')
		tail = append(tail, b[max(0, len(b)-keep):]...)
		tail = tail[len(tail)-keep:]
	}
	if err != nil {
		return "", true, err
	}
	return trimEOL(string(tail)), true, nil
}

func trimEOL(s string) string {
	s = s[:len(s)-1]
	if len(s) > 0 && s[len(s)-1] == '\r' {
		s = s[:len(s)-1]
	}
	return s
}

// contentLength finds a Content-Length header in line, also at the end of
// a line that starts with the unterminated body of a skipped message.
func contentLength(line string) (string, bool) {
	const name = "content-length:"
	for i := 0; i+len(name) <= len(line); i++ {
		if strings.EqualFold(line[i:i+len(name)], name) {
			return strings.TrimSpace(line[i+len(name):]), true
		}
	}
	return "", false
}

// isHeader reports whether line looks like "Name: value".
func isHeader(line string) bool {
	name, _, ok := strings.Cut(line, ":")
	return ok && name != "" && !strings.ContainsAny(name, " \t{}\"")
}

// writeJSON writes v, encoded, as one message.
func (s *stream) writeJSON(v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.writeFrame(body)
}

// writeFrame writes one encoded message, the concatenation of body, with
// the stream's framing.
func (s *stream) writeFrame(body ...[]byte) error {
	s.queued.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.write(body)
	if s.queued.Add(-1) > 0 && err == nil {
		return nil // the next writer flushes
	}
	if ferr := s.w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// write buffers one frame. s.mu is held.
func (s *stream) write(body [][]byte) error {
	if !s.jsonl {
		n := 0
		for _, b := range body {
			n += len(b)
		}
		s.frame = append(s.frame[:0], "Content-Length: "...)
		s.frame = strconv.AppendInt(s.frame, int64(n), 10)
		s.frame = append(s.frame, "\r\n\r\n"...)
		if _, err := s.w.Write(s.frame); err != nil {
			return err
		}
	}
	for _, b := range body {
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	if s.jsonl {
		return s.w.WriteByte('\n')
	}
	return nil
}
