package rpc

import (
	"encoding/json"
	"strconv"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/session"
)

// deltaEncoder builds the chat/delta or chat/reasoning notifications of one
// chat/send by hand: the fixed part of the message is encoded once, and
// each notification only appends its seq and text. jsonrpc2's Notify would
// marshal every delta twice.
type deltaEncoder struct {
	prefix []byte // {"jsonrpc":"2.0","method":…,"params":{"requestId":…,"sessionId":…,"messageId":…,"seq":
	buf    []byte
	seq    int
}

func newDeltaEncoder(method string, requestID id, sessionID, messageID string) *deltaEncoder {
	p := []byte(`{"jsonrpc":"2.0","method":"` + method + `","params":{"requestId":`)
	p = append(p, requestID...)
	p = append(p, `,"sessionId":`...)
	p = session.AppendJSONString(p, sessionID, true)
	p = append(p, `,"messageId":`...)
	p = session.AppendJSONString(p, messageID, true)
	p = append(p, `,"seq":`...)
	return &deltaEncoder{prefix: p}
}

// encode returns the next notification carrying text. The slice is reused
// by the next call.
func (e *deltaEncoder) encode(text []byte) []byte {
	b := append(e.buf[:0], e.prefix...)
	b = strconv.AppendInt(b, int64(e.seq), 10)
	b = append(b, `,"text":`...)
	b = session.AppendJSONString(b, text, true)
	b = append(b, "}}"...)
	e.seq++
	e.buf = b
	return b
}

// callEncoder builds the chat/toolCall notifications of one chat/send.
// They are few: encoding/json does.
type callEncoder struct {
	requestID            id
	sessionID, messageID string
}

func (e callEncoder) encode(c *chat.ToolCall) []byte {
	b, _ := json.Marshal(struct {
		JSONRPC string         `json:"jsonrpc"`
		Method  string         `json:"method"`
		Params  toolCallParams `json:"params"`
	}{"2.0", methodToolCall, toolCallParams{
		RequestID: e.requestID, SessionID: e.sessionID, MessageID: e.messageID,
		toolCallInfo: toolCallInfo{ToolCallID: c.ID, Name: c.Name, Server: c.Server, Arguments: c.Arguments},
		Status:       c.Status, Output: c.Output,
	}})
	return b
}
