package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// A message is what the bench needs of one frame.
type message struct {
	kind msgKind
	// chat/delta
	requestID int64
	seq       int64
	sessionID []byte // these three may alias the frame's body
	messageID []byte
	text      []byte
	// response
	id int64
}

type msgKind int

const (
	kindOther msgKind = iota
	kindDelta
	kindResponse
)

var (
	deltaPrefix = []byte(`{"jsonrpc":"2.0","method":"chat/delta","params":{`)
	// How responses begin: jsonrpc2's, and the daemon's own pre-encoded ones
	// (session/export), which are too large to decode twice.
	idPrefixes = [][]byte{[]byte(`{"id":`), []byte(`{"jsonrpc":"2.0","id":`)}
)

// parseMessage reads a frame. Deltas in the daemon's usual shape, and the
// id of responses, are picked out without encoding/json, so
// that the bench stays a fast consumer; anything else goes through
// encoding/json.
func parseMessage(body []byte) (message, error) {
	if bytes.HasPrefix(body, deltaPrefix) && bytes.HasSuffix(body, []byte("}}")) {
		if m, ok := parseDeltaParams(body[len(deltaPrefix)-1 : len(body)-1]); ok {
			return m, nil
		}
	}
	for _, p := range idPrefixes {
		rest, ok := bytes.CutPrefix(body, p)
		if !ok {
			continue
		}
		if i := bytes.IndexByte(rest, ','); i > 0 {
			if id, err := strconv.ParseInt(string(rest[:i]), 10, 64); err == nil {
				return message{kind: kindResponse, id: id}, nil
			}
		}
	}
	var v struct {
		ID     *json.RawMessage `json:"id"`
		Method string           `json:"method"`
		Params struct {
			RequestID int64  `json:"requestId"`
			SessionID string `json:"sessionId"`
			MessageID string `json:"messageId"`
			Seq       int64  `json:"seq"`
			Text      string `json:"text"`
		} `json:"params"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return message{}, fmt.Errorf("bad message %q: %w", clip(body, 80), err)
	}
	switch {
	case v.Method == "chat/delta":
		p := v.Params
		return message{kind: kindDelta, requestID: p.RequestID, seq: p.Seq, sessionID: []byte(p.SessionID), messageID: []byte(p.MessageID), text: []byte(p.Text)}, nil
	case v.Method == "" && v.ID != nil:
		id, err := strconv.ParseInt(string(*v.ID), 10, 64)
		if err != nil {
			return message{}, fmt.Errorf("response with id %s: the bench sends numbers", *v.ID)
		}
		return message{kind: kindResponse, id: id}, nil
	}
	return message{kind: kindOther}, nil
}

// parseDeltaParams reads a params object of string and integer values.
func parseDeltaParams(p []byte) (message, bool) {
	m := message{kind: kindDelta}
	i := 1 // past '{'
	for {
		if i >= len(p) || p[i] != '"' {
			return m, false
		}
		end := bytes.IndexByte(p[i+1:], '"')
		if end < 0 {
			return m, false
		}
		key := p[i+1 : i+1+end]
		i += end + 2
		if i >= len(p) || p[i] != ':' {
			return m, false
		}
		i++
		if i >= len(p) {
			return m, false
		}
		var str []byte
		var num int64
		if p[i] == '"' {
			s, n, ok := parseString(p[i:])
			if !ok {
				return m, false
			}
			str, i = s, i+n
		} else {
			j := i
			for j < len(p) && p[j] >= '0' && p[j] <= '9' {
				num = num*10 + int64(p[j]-'0')
				j++
			}
			if j == i {
				return m, false
			}
			i = j
		}
		switch string(key) {
		case "requestId":
			m.requestID = num
		case "seq":
			m.seq = num
		case "sessionId":
			m.sessionID = str
		case "messageId":
			m.messageID = str
		case "text":
			m.text = str
		}
		if i >= len(p) {
			return m, false
		}
		switch p[i] {
		case ',':
			i++
		case '}':
			return m, i == len(p)-1
		default:
			return m, false
		}
	}
}

// parseString reads the JSON string at the start of b. It returns its
// value (aliasing b when it has no escapes) and its length in b.
func parseString(b []byte) ([]byte, int, bool) {
	for j := 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return b[1:j], j + 1, true
		case '\\':
			// Escapes: find the end, then let encoding/json unquote.
			for k := j; k < len(b); k++ {
				if b[k] == '\\' {
					k++
					continue
				}
				if b[k] == '"' {
					var s string
					if json.Unmarshal(b[:k+1], &s) != nil {
						return nil, 0, false
					}
					return []byte(s), k + 1, true
				}
			}
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// response is a chat/send answer.
type response struct {
	Result *struct {
		SessionID  string `json:"sessionId"`
		MessageID  string `json:"messageId"`
		Text       string `json:"text"`
		StopReason string `json:"stopReason"`
	} `json:"result"`
	Error *struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeResponse(body []byte) (*response, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("bad response %q: %w", clip(body, 80), err)
	}
	if r.Result == nil && r.Error == nil {
		return nil, fmt.Errorf("response without result or error: %q", clip(body, 80))
	}
	return &r, nil
}

// resultText is the reply text of a chat/send that succeeded.
func resultText(body []byte) (string, error) {
	r, err := decodeResponse(body)
	if err != nil {
		return "", err
	}
	if r.Error != nil {
		return "", fmt.Errorf("chat/send failed: %d %s", r.Error.Code, r.Error.Message)
	}
	return r.Result.Text, nil
}
