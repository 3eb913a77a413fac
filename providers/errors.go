package providers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tinychat/tinychat/internal/textcut"
)

// Limits on the provider text that ends up in an error.
const (
	maxErrorBody = 64 << 10 // read at most this much of an error response
	maxMessage   = 500      // an HTML error page is no message: cut it here
)

// statusError turns a response with a non-2xx status into an *Error that
// keeps the status and the provider's own message. It reads (a bounded part
// of) the body but leaves closing it to the caller.
func statusError(resp *http.Response) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	typ, msg := errorFromJSON(body)
	return &Error{
		Status:     resp.StatusCode,
		Type:       typ,
		Message:    cmp.Or(msg, http.StatusText(resp.StatusCode)),
		Retryable:  retryableStatus(resp.StatusCode),
		RetryAfter: retryAfter(resp.Header, time.Now()),
	}
}

// eventError is the *Error for an error reported inside a stream (an
// Anthropic error event, an OpenAI chunk with an error object). No HTTP
// status applies: the stream itself came with 200.
func eventError(data []byte) *Error {
	typ, msg := errorFromJSON(data)
	return &Error{Type: typ, Message: msg, Retryable: transientTypes[typ]}
}

// errorFromJSON reads the type and message out of a provider's error JSON.
// Providers disagree on its shape, so it takes any of
//
//	{"error": {"type", "message", "code"}}  OpenAI; Anthropic wraps it in {"type": "error", ...}
//	{"error": {"code", "message", "status"}} Gemini (Google APIs), maybe in an array
//	{"error": "text"}                       some OpenAI-compatible servers
//	{"object": "error", "type", "message"}  Mistral, vLLM (message may be an object)
//	{"message": ...} or {"detail": ...}     Mistral's gateway, FastAPI-based servers
//
// and falls back to the body's own text, so the user always sees what the
// provider said.
func errorFromJSON(body []byte) (typ, msg string) {
	var b struct {
		Error   json.RawMessage `json:"error"`
		Type    json.RawMessage `json:"type"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	// Google APIs answer some requests with an array of one error.
	var list []json.RawMessage
	if json.Unmarshal(body, &list) == nil && len(list) > 0 && bytes.HasPrefix(list[0], []byte("{")) {
		body = list[0]
	}
	if json.Unmarshal(body, &b) == nil {
		var inner struct {
			Type    json.RawMessage `json:"type"`
			Status  json.RawMessage `json:"status"`
			Code    json.RawMessage `json:"code"`
			Message json.RawMessage `json:"message"`
		}
		if len(b.Error) > 0 && b.Error[0] == '{' && json.Unmarshal(b.Error, &inner) == nil {
			typ, msg = cmp.Or(text(inner.Type), text(inner.Status), text(inner.Code)), text(inner.Message)
		} else {
			typ, msg = text(b.Type), cmp.Or(text(b.Error), text(b.Message), text(b.Detail))
		}
	}
	return typ, cmp.Or(msg, clip(string(body)))
}

// text renders one JSON value for a person: a string as itself, null as
// nothing, anything else (a number code, a validation error object) as
// compact JSON.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return clip(s)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return clip(buf.String())
}

// clip trims s and cuts it, on a rune boundary, to maxMessage bytes.
func clip(s string) string {
	return textcut.Clip(strings.TrimSpace(s), maxMessage)
}

// minSecretKey is the length below which a key is taken for a placeholder,
// not a secret: hosted providers' keys run to dozens of characters, while
// local servers take any key and are given "x", "ollama" or "EMPTY", which
// hiding would only cut out of ordinary words and names.
const minSecretKey = 8

// redact hides each copy of key in s that stands as a whole token, as a
// provider quotes a key back ("Incorrect API key provided: sk-…"): not the
// same characters inside a longer token, which are something else.
func redact(s, key string) string {
	if len(key) < minSecretKey {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, key)
		if i < 0 {
			break
		}
		end := i + len(key)
		whole := (i == 0 || !isTokenByte(rest[i-1])) && (end == len(rest) || !isTokenByte(rest[end]))
		if whole {
			b.WriteString(rest[:i])
			b.WriteString("[redacted]")
		} else {
			b.WriteString(rest[:end])
		}
		rest = rest[end:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// isTokenByte reports whether c may be part of a key: keys are made of
// letters, digits, '-' and '_'.
func isTokenByte(c byte) bool {
	return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
