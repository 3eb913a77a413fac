package rpc

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sourcegraph/jsonrpc2"
)

// deltaEncoder builds chat/delta notifications for one chat/send by hand:
// the fixed part of the message is encoded once, and each delta only appends
// its seq and text. jsonrpc2's Notify would marshal every delta twice.
type deltaEncoder struct {
	prefix []byte // {"jsonrpc":"2.0","method":"chat/delta","params":{"requestId":…,"sessionId":…,"messageId":…,"seq":
	buf    []byte
	seq    int
}

func newDeltaEncoder(requestID jsonrpc2.ID, sessionID, messageID string) *deltaEncoder {
	id, _ := requestID.MarshalJSON() // an ID always marshals
	p := []byte(`{"jsonrpc":"2.0","method":"chat/delta","params":{"requestId":`)
	p = append(p, id...)
	p = append(p, `,"sessionId":`...)
	p = appendJSONString(p, []byte(sessionID))
	p = append(p, `,"messageId":`...)
	p = appendJSONString(p, []byte(messageID))
	p = append(p, `,"seq":`...)
	return &deltaEncoder{prefix: p}
}

// encode returns the next notification carrying text. The slice is reused
// by the next call.
func (e *deltaEncoder) encode(text []byte) []byte {
	b := append(e.buf[:0], e.prefix...)
	b = strconv.AppendInt(b, int64(e.seq), 10)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, text)
	b = append(b, "}}"...)
	e.seq++
	e.buf = b
	return b
}

const hex = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does: quotes, backslashes and control characters, <, > and & for HTML
// safety, U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// plainJSON holds the bytes that appendEscaped copies as they are: ASCII
// but for control characters, '"', '\\', '<', '>' and '&'. One lookup a
// byte instead of six comparisons makes escaping a multi-megabyte export
// about twice as fast.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\\<>&`, rune(c))
	}
	return t
}()

// appendEscaped appends s escaped as the inside of a JSON string, as
// appendJSONString does.
func appendEscaped(b, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainJSON[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
