package rpc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/sourcegraph/jsonrpc2"
)

// DefaultMaxMessageSize is the largest message read by default.
const DefaultMaxMessageSize = 8 << 20

// stream is the jsonrpc2.ObjectStream of the daemon. Unlike jsonrpc2's own
// codecs it never gives up on its peer: a frame that cannot be used is
// answered with a JSON-RPC error where possible, logged, and skipped, and
// reading goes on with the next frame. Only the end of the input ends it.
//
// Every write goes through one mutex, so chat/delta frames written with
// writeFrame keep their place before the response jsonrpc2 writes later.
type stream struct {
	r     *bufio.Reader
	jsonl bool
	limit int
	log   *slog.Logger

	mu     sync.Mutex
	w      *bufio.Writer
	closer io.Closer
	frame  []byte // reused header buffer, guarded by mu
}

func newStream(r io.Reader, w io.Writer, closer io.Closer, jsonl bool, limit int, log *slog.Logger) *stream {
	if limit <= 0 {
		limit = DefaultMaxMessageSize
	}
	return &stream{r: bufio.NewReaderSize(r, 64<<10), w: bufio.NewWriterSize(w, 64<<10), closer: closer, jsonl: jsonl, limit: limit, log: log}
}

// ReadObject implements jsonrpc2.ObjectStream.
func (s *stream) ReadObject(v any) error {
	for {
		body, err := s.next()
		if err != nil {
			var fe *frameError
			if errors.As(err, &fe) {
				s.reject(nil, fe.code, fe.msg)
				continue
			}
			return err
		}
		if len(bytes.TrimSpace(body)) == 0 {
			continue
		}
		if !json.Valid(body) {
			s.reject(nil, jsonrpc2.CodeParseError, "parse error: the message is not valid JSON")
			continue
		}
		if body[0] == '[' {
			s.reject(nil, jsonrpc2.CodeInvalidRequest, "invalid request: batches are not supported")
			continue
		}
		if msg, ok := checkEnvelope(body); !ok {
			s.reject(idOf(body), jsonrpc2.CodeInvalidRequest, "invalid request: "+msg)
			continue
		}
		if err := json.Unmarshal(body, v); err != nil {
			s.reject(idOf(body), jsonrpc2.CodeInvalidRequest, "invalid request: "+err.Error())
			continue
		}
		return nil
	}
}

// checkEnvelope reports whether body is a JSON-RPC request or response
// object that jsonrpc2 can take, and why not otherwise.
func checkEnvelope(body []byte) (string, bool) {
	var env struct {
		JSONRPC *string          `json:"jsonrpc"`
		Method  *json.RawMessage `json:"method"`
		ID      *json.RawMessage `json:"id"`
		Params  *json.RawMessage `json:"params"`
		Result  *json.RawMessage `json:"result"`
		Error   *json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "a message must be a JSON object", false
	}
	if env.JSONRPC != nil && *env.JSONRPC != "2.0" {
		return `"jsonrpc" must be "2.0"`, false
	}
	if env.Method == nil {
		if env.Result != nil || env.Error != nil {
			return "", true
		}
		return `"method" is missing`, false
	}
	var method string
	if json.Unmarshal(*env.Method, &method) != nil || method == "" {
		return `"method" must be a non-empty string`, false
	}
	if env.ID != nil {
		switch (*env.ID)[0] {
		case '"', 'n':
		default:
			var n uint64
			if json.Unmarshal(*env.ID, &n) != nil {
				return `"id" must be a string or a non-negative integer`, false
			}
		}
	}
	if env.Params != nil {
		switch (*env.Params)[0] {
		case '{', '[', 'n':
		default:
			return `"params" must be an object`, false
		}
	}
	return "", true
}

// idOf digs the id out of a message that could not be decoded, so that its
// error can be answered to the right request.
func idOf(body []byte) *jsonrpc2.ID {
	var env struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.ID) == 0 {
		return nil
	}
	var id jsonrpc2.ID
	if json.Unmarshal(env.ID, &id) != nil {
		return nil
	}
	return &id
}

// reject answers a message that never reached a handler.
func (s *stream) reject(id *jsonrpc2.ID, code int64, msg string) {
	s.log.Warn("rejected message", "code", code, "error", msg)
	resp := map[string]any{"jsonrpc": "2.0", "id": nil, "error": &jsonrpc2.Error{Code: code, Message: msg}}
	if id != nil {
		resp["id"] = id
	}
	if err := s.WriteObject(resp); err != nil {
		s.log.Debug("could not answer a rejected message", "error", err)
	}
}

// frameError is a frame that was read past and can be answered.
type frameError struct {
	code int64
	msg  string
}

func (e *frameError) Error() string { return e.msg }

// next reads the body of the next frame.
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
	// A line longer than the buffer: gather it up to the limit, and past
	// the limit drop it through to its newline.
	buf := bytes.Clone(line)
	for {
		line, err = s.r.ReadSlice('\n')
		if len(buf) <= s.limit {
			buf = append(buf, line...)
		}
		if err == nil || errors.Is(err, io.EOF) {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	if len(buf) > s.limit {
		return nil, &frameError{jsonrpc2.CodeInvalidRequest, fmt.Sprintf("invalid request: message larger than the limit of %d bytes", s.limit)}
	}
	return buf, nil
}

func (s *stream) nextLSP() ([]byte, error) {
	length := -1
	bad := ""
	headers := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = trimEOL(line)
		if line == "" {
			if headers > 0 {
				break
			}
			continue // stray blank lines between messages
		}
		headers++
		value, ok := contentLength(line)
		if !ok {
			if !isHeader(line) {
				bad = fmt.Sprintf("bad header line %q", truncate(line, 40))
			}
			continue
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			bad = fmt.Sprintf("bad Content-Length %q", truncate(value, 20))
			continue
		}
		length = n
	}
	if length < 0 {
		if bad == "" {
			bad = "no Content-Length header"
		}
		// Without a length the body cannot be found: skip to the next header block.
		return nil, &frameError{jsonrpc2.CodeParseError, "parse error: " + bad + "; skipped to the next header"}
	}
	if length > s.limit {
		if _, err := s.r.Discard(length); err != nil {
			return nil, err
		}
		return nil, &frameError{jsonrpc2.CodeInvalidRequest, fmt.Sprintf("invalid request: message of %d bytes is larger than the limit of %d bytes", length, s.limit)}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(s.r, body); err != nil {
		return nil, err
	}
	return body, nil
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// WriteObject implements jsonrpc2.ObjectStream.
func (s *stream) WriteObject(obj any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return s.writeFrame(body)
}

// writeFrame writes one encoded message, the concatenation of body, with
// the stream's framing.
func (s *stream) writeFrame(body ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
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
		if err := s.w.WriteByte('\n'); err != nil {
			return err
		}
	}
	return s.w.Flush()
}

// Close implements jsonrpc2.ObjectStream.
func (s *stream) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}
