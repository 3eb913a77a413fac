package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/tinychat/tinychat/session"

	"github.com/tinychat/tinychat/internal/textcut"
)

// A request is a JSON-RPC request or notification as the daemon reads it.
// Its params stay raw: each method decodes the ones it takes.
type request struct {
	Method string
	ID     id              // "" for a notification
	Params json.RawMessage // nil when absent or null

	batch *batch // the batch it came in, if it came in one
}

// notification reports whether r has no id, and so gets no answer.
func (r *request) notification() bool { return r.ID == "" }

// An id is a request's id in canonical JSON: a string as encoding/json
// writes it, an integer in decimal, or null. It is a map key, and goes
// back in the answer as it is. The zero id is no id (a notification).
type id string

// idNull is the id of a request whose id is null, and of an answer to a
// message whose id cannot be known.
const idNull id = "null"

// MarshalJSON implements json.Marshaler: an id is its JSON.
func (i id) MarshalJSON() ([]byte, error) { return []byte(orNull(i)), nil }

// UnmarshalJSON implements json.Unmarshaler, as parseID.
func (i *id) UnmarshalJSON(b []byte) error {
	v, err := parseID(b)
	*i = v
	return err
}

// parseID checks the JSON of an id, which JSON-RPC allows to be a string,
// a number without a fraction, or null, and returns it in canonical form.
// Numbers must fit in an int64: clients (JavaScript, Lua) cannot tell
// larger ones apart.
func parseID(raw json.RawMessage) (id, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "", nil
	case string(raw) == "null":
		return idNull, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf(`"id": %v`, err)
		}
		return id(session.AppendJSONString(nil, s, true)), nil
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		if bytes.ContainsAny(raw, ".eE") {
			return "", fmt.Errorf(`"id" %s is not an integer`, textcut.Clip(string(raw), 40))
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return "", fmt.Errorf(`"id" %s is outside the range of a 64-bit integer`, textcut.Clip(string(raw), 40))
		}
		return id(strconv.FormatInt(n, 10)), nil
	}
	return "", fmt.Errorf(`"id" must be a string, an integer or null`)
}

// A refusal is a message that reached no method: it is answered with this
// error, to id (idNull when the message's id cannot be known).
type refusal struct {
	id   id
	code int64
	msg  string
}

// A response is the client's answer to a request of the daemon.
type response struct {
	ID     id
	Result json.RawMessage // nil when Error is set
	Error  json.RawMessage
}

// decodeMessage reads one JSON-RPC message, which must be an object. It
// returns the request, or the response, or the refusal to answer with.
//
// The message is decoded once, with its params kept raw: jsonrpc2's own
// Request decoded every message into a map of interfaces and encoded its
// params again, which for 8 MB of small numbers took 300 MB.
func decodeMessage(body []byte) (req *request, resp *response, ref *refusal) {
	var env struct {
		JSONRPC json.RawMessage `json:"jsonrpc"`
		Method  json.RawMessage `json:"method"`
		ID      json.RawMessage `json:"id"`
		Params  json.RawMessage `json:"params"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		if _, ok := err.(*json.SyntaxError); ok {
			return nil, nil, &refusal{idNull, jsonrpc2.CodeParseError, "parse error: the message is not valid JSON"}
		}
		return nil, nil, &refusal{idNull, jsonrpc2.CodeInvalidRequest, "invalid request: a message must be a JSON object"}
	}
	reqID, err := parseID(env.ID)
	if err != nil {
		return nil, nil, &refusal{idNull, jsonrpc2.CodeInvalidRequest, "invalid request: " + err.Error()}
	}
	refuse := func(msg string) (*request, *response, *refusal) {
		return nil, nil, &refusal{orNull(reqID), jsonrpc2.CodeInvalidRequest, "invalid request: " + msg}
	}
	if env.JSONRPC != nil && string(env.JSONRPC) != `"2.0"` {
		return refuse(`"jsonrpc" must be "2.0"`)
	}
	if env.Method == nil {
		if string(env.Error) == "null" {
			env.Error = nil
		}
		if env.Result != nil || env.Error != nil {
			return nil, &response{ID: reqID, Result: env.Result, Error: env.Error}, nil
		}
		return refuse(`"method" is missing`)
	}
	req = &request{ID: reqID}
	if json.Unmarshal(env.Method, &req.Method) != nil || req.Method == "" {
		return refuse(`"method" must be a non-empty string`)
	}
	switch p := bytes.TrimSpace(env.Params); {
	case len(p) == 0 || string(p) == "null":
	case p[0] == '{' || p[0] == '[':
		req.Params = p
	default:
		return refuse(`"params" must be an object`)
	}
	return req, nil, nil
}

// orNull is i, or idNull for no id: the id an answer carries.
func orNull(i id) id {
	if i == "" {
		return idNull
	}
	return i
}

// idFinder reads a message as it streams past, keeping none of it but the
// value of its top-level "id": a message too large to be read whole is
// still answered with its id, wherever in the object the id stands.
type idFinder struct {
	top     byte // the first byte that is not space: '{' for an object
	depth   int  // 1 inside the top-level object
	inStr   bool
	escaped bool
	state   int    // where the finder is in a member of the top-level object
	key     []byte // the member's key, up to maxIDKey bytes
	isID    bool   // the member is the id
	literal bool   // its value is a number or a literal, not a string
	value   []byte // the id's value so far, up to maxIDValue bytes
	found   []byte // the last id's whole value; nil if none, or too long
}

// States of an idFinder within a member of the top-level object.
const (
	wantKey = iota
	inKey
	wantColon
	wantValue
	inValue
)

const (
	maxIDKey   = len("id") + 1 // enough to tell "id" from longer keys
	maxIDValue = 256           // an id longer than this is not worth answering to
)

// Write implements io.Writer.
func (f *idFinder) Write(p []byte) (int, error) {
	for _, c := range p {
		f.step(c)
	}
	return len(p), nil
}

func (f *idFinder) step(c byte) {
	if f.top == 0 {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			return
		}
		f.top = c
	}
	if f.top != '{' {
		return
	}
	capturing := f.depth == 1 && f.state == inValue && f.isID
	if f.inStr {
		switch {
		case f.escaped:
			f.escaped = false
		case c == '\\':
			f.escaped = true
		case c == '"':
			f.inStr = false
		}
		switch {
		case f.depth == 1 && f.state == inKey && !f.inStr:
			f.state = wantColon
		case f.depth == 1 && f.state == inKey:
			if len(f.key) < maxIDKey {
				f.key = append(f.key, c)
			}
		case capturing:
			f.keep(c)
			if !f.inStr {
				f.done()
			}
		}
		return
	}
	if capturing && f.literal {
		switch c {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			f.done()
		default:
			f.keep(c)
			return
		}
	}
	switch c {
	case '"':
		f.inStr = true
		switch {
		case f.depth == 1 && f.state == wantKey:
			f.state, f.key = inKey, f.key[:0]
		case f.depth == 1 && f.state == wantValue:
			f.state, f.literal, f.value = inValue, false, f.value[:0]
			if f.isID {
				f.keep(c)
			}
		}
	case '{', '[':
		f.depth++
		switch {
		case f.depth == 1:
			f.state = wantKey
		case f.depth == 2 && f.state == wantValue:
			f.state, f.isID = inValue, false // an object or array is no id
		}
	case '}', ']':
		f.depth--
	case ':':
		if f.depth == 1 && f.state == wantColon {
			f.state, f.isID = wantValue, string(f.key) == "id"
		}
	case ',':
		if f.depth == 1 {
			f.state = wantKey
		}
	case ' ', '\t', '\r', '\n':
	default:
		if f.depth == 1 && f.state == wantValue {
			f.state, f.literal, f.value = inValue, true, f.value[:0]
			if f.isID {
				f.keep(c)
			}
		}
	}
}

// keep adds c to the id's value, unless it grew too long to be one.
func (f *idFinder) keep(c byte) {
	if len(f.value) <= maxIDValue {
		f.value = append(f.value, c)
	}
}

// done ends the id's value.
func (f *idFinder) done() {
	f.found = nil
	if len(f.value) <= maxIDValue {
		f.found = append([]byte(nil), f.value...)
	}
	f.isID, f.literal = false, false
}

// id returns the id found, or idNull.
func (f *idFinder) id() id {
	if i, err := parseID(f.found); err == nil && i != "" {
		return i
	}
	return idNull
}
