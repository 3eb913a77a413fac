package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
)

// Error codes beyond JSON-RPC's own (docs/protocol.md, "Errors").
const (
	CodeCancelled     = -32800
	CodeProvider      = -32001
	CodeNotConfigured = -32002
	CodeNoSession     = -32004
	CodeBusy          = -32005
	CodeStoreFull     = -32006 // the store could not take a write: a full disk, or a failed one
)

// invalidParams is a -32602 naming the field at fault.
func invalidParams(field, format string, args ...any) *jsonrpc2.Error {
	e := &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidParams, Message: "invalid params: " + fmt.Sprintf(format, args...)}
	e.SetError(map[string]string{"field": field})
	return e
}

// decodeParams decodes a request's params object into v. Unknown fields
// are ignored; a field of the wrong type is named in the error.
func decodeParams(req *request, v any) error {
	raw := req.Params
	if raw == nil {
		return nil
	}
	if raw[0] != '{' {
		return invalidParams("params", "params must be an object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var (
			te *json.UnmarshalTypeError
			fe *fieldError
		)
		switch {
		case errors.As(err, &fe):
			return invalidParams(fe.field, "%s", fe.msg)
		case errors.As(err, &te) && te.Field != "":
			return invalidParams(te.Field, "%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return invalidParams("params", "%v", err)
	}
	return nil
}

// fieldError is a param that a type of its own refused as it decoded it.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.msg }

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "float64", "uint64", "int32":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// toError maps any error of the daemon to its JSON-RPC error (docs/protocol.md).
// It is the one place where Go errors become codes: a plain Go error would
// otherwise reach the client as code 0.
func toError(err error) *jsonrpc2.Error {
	var (
		rpcErr   *jsonrpc2.Error
		turnErr  *chat.TurnError
		provErr  *providers.Error
		keyErr   *providers.NotConfiguredError
		busyErr  *chat.BusyError
		missing  *session.NotFoundError
		writeErr *session.WriteError
		response = func(code int64, data any) *jsonrpc2.Error {
			e := &jsonrpc2.Error{Code: code, Message: err.Error()}
			if data != nil {
				e.SetError(data)
			}
			return e
		}
	)
	switch {
	case errors.As(err, &rpcErr):
		return rpcErr
	case errors.As(err, &turnErr):
		return turnError(turnErr)
	case errors.As(err, &writeErr):
		return response(CodeStoreFull, nil)
	case errors.Is(err, context.Canceled):
		return response(CodeCancelled, nil)
	case errors.As(err, &provErr):
		return response(CodeProvider, providerData(provErr))
	case errors.As(err, &keyErr):
		data := map[string]string{"provider": keyErr.Provider, "env": keyErr.Env}
		if keyErr.Reason != "" {
			data["reason"] = keyErr.Reason
		}
		return response(CodeNotConfigured, data)
	case errors.As(err, &busyErr):
		return response(CodeBusy, map[string]string{"sessionId": busyErr.SessionID})
	case errors.As(err, &missing):
		return response(CodeNoSession, map[string]string{"sessionId": missing.ID})
	case errors.Is(err, session.ErrNotFound):
		return response(CodeNoSession, nil)
	case errors.Is(err, providers.ErrUnknownProvider):
		return invalidParams("provider", "%v", err)
	case errors.Is(err, session.ErrFormat):
		return invalidParams("format", "%v", err)
	case errors.Is(err, session.ErrImport):
		return invalidParams("content", "%v", err)
	case errors.Is(err, session.ErrQuery):
		return invalidParams("query", "%v", err)
	}
	return response(jsonrpc2.CodeInternalError, nil)
}

// turnError is the answer to a chat/send that failed or was cancelled. It
// carries what the editor needs to show or offer again: the partial reply
// when some had arrived, else the user's message.
func turnError(te *chat.TurnError) *jsonrpc2.Error {
	return turnErrorWithin(te, math.MaxInt)
}

// turnErrorWithin is turnError, with the texts of the partial reply cut so
// that the error's encoding takes at most room bytes.
func turnErrorWithin(te *chat.TurnError, room int) *jsonrpc2.Error {
	data := turnErrorData{SessionID: te.SessionID, MessageID: te.MessageID, StopReason: te.StopReason}
	var code int64 = jsonrpc2.CodeInternalError
	var (
		provErr  *providers.Error
		writeErr *session.WriteError
	)
	switch {
	case errors.As(te, &writeErr):
		// First: whatever else happened, the editor must keep the text.
		code = CodeStoreFull
	case errors.Is(te, context.Canceled):
		code = CodeCancelled
	case errors.As(te, &provErr):
		code = CodeProvider
		data.providerErrorData = providerData(provErr)
	}
	if te.Partial == "" && te.Reasoning == "" {
		data.UserMessage = te.UserMessage
	}
	e := &jsonrpc2.Error{Code: code, Message: te.Error()}
	if code == CodeCancelled {
		e.Message = "request cancelled"
	}
	if len(te.Partial)+len(te.Reasoning) > 0 {
		e.SetError(data)
		data.Text, data.Reasoning, data.Truncated = fitTexts(te.Partial, te.Reasoning, room-encodedSize(e))
	}
	e.SetError(data)
	return e
}

// fitTexts returns text and reasoning cut, between characters, so that
// both, escaped in JSON strings, take at most room bytes more than they
// would empty; cut reports whether they were. Reasoning gets at most half
// the room when the text needs the rest.
func fitTexts(text, reasoning string, room int) (string, string, bool) {
	room = max(room, 0)
	// Escaping makes a byte 6 at most: most replies need no counting.
	if 6*(len(text)+len(reasoning)) <= room {
		return text, reasoning, false
	}
	t, r := escapedLen(text), escapedLen(reasoning)
	if t+r <= room {
		return text, reasoning, false
	}
	room = max(room-len(`,"truncated":true`), 0)
	rRoom := min(r, room/2)
	tRoom := min(t, room-rRoom)
	rRoom = room - tRoom
	return escapedPrefix(text, tRoom), escapedPrefix(reasoning, rRoom), true
}

// escapedLen is the length of s in a JSON string, as encoding/json escapes
// it, without the quotes.
func escapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		w, size := escapedRune(s[i:])
		n, i = n+w, i+size
	}
	return n
}

// escapedPrefix is the longest start of s, ending between characters,
// that takes at most room bytes escaped in a JSON string.
func escapedPrefix(s string, room int) string {
	n := 0
	for i := 0; i < len(s); {
		w, size := escapedRune(s[i:])
		if n+w > room {
			return s[:i]
		}
		n, i = n+w, i+size
	}
	return s
}

// escapedRune returns the length of the character that starts s once
// escaped as encoding/json escapes it (with HTML escaping, as json.Marshal
// does), and its length in s.
func escapedRune(s string) (escaped, size int) {
	c := s[0]
	if c < utf8.RuneSelf {
		switch {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			return 2, 1
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			return 6, 1
		}
		return 1, 1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
		return 6, size
	}
	return size, size
}

func providerData(e *providers.Error) *providerErrorData {
	return &providerErrorData{Provider: e.Provider, Status: e.Status, Type: e.Type, Message: e.Message,
		Retryable: e.Retryable, RetryAfter: e.RetryAfter.Seconds()}
}
