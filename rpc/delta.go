package rpc

import (
	"encoding/json"
	"strconv"
	"time"

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

// noticeEncoder builds the chat/toolCall and chat/retry notifications of
// one chat/send, each written whole. They are few: encoding/json does.
type noticeEncoder struct {
	requestID            id
	sessionID, messageID string
}

// encode returns the notification of e, a chat.ToolCallEvent or a
// chat.RetryEvent.
func (n noticeEncoder) encode(e chat.Event) []byte {
	var (
		method string
		params any
	)
	switch e.Kind {
	case chat.ToolCallEvent:
		c := e.Call
		method, params = methodToolCall, toolCallParams{
			RequestID: n.requestID, SessionID: n.sessionID, MessageID: n.messageID,
			toolCallInfo: toolCallInfo{ToolCallID: c.ID, Name: c.Name, Server: c.Server, Arguments: c.Arguments},
			Status:       c.Status, Output: c.Output,
		}
	case chat.RetryEvent:
		r := e.Retry
		method, params = methodRetry, retryParams{
			RequestID: n.requestID, SessionID: n.sessionID, MessageID: n.messageID, Provider: r.Provider,
			Attempt: r.Attempt, Wait: r.Wait.Round(time.Millisecond).Seconds(), Error: r.Err.Error(),
		}
	}
	b, _ := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  any    `json:"params"`
	}{"2.0", method, params})
	return b
}

// notice reports whether events of kind k are notifications of their
// own, which noticeEncoder builds.
func notice(k chat.EventKind) bool { return k == chat.ToolCallEvent || k == chat.RetryEvent }
