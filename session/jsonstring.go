package session

import "unicode/utf8"

// AppendJSONString appends s to b as a JSON string, escaped as
// encoding/json escapes one: '"', '\\' and control characters (\b, \f,
// \n, \r, \t or \u00XX), each byte of invalid UTF-8 as \ufffd, U+2028 and
// U+2029, and with escapeHTML also '<', '>' and '&' (as json.Marshal does;
// the json export, like an Encoder with SetEscapeHTML(false), leaves them).
// The json export and the daemon's JSON-RPC frames both write strings
// with it.
func AppendJSONString[S ~string | ~[]byte](b []byte, s S, escapeHTML bool) []byte {
	b = append(b, '"')
	b = AppendJSONEscaped(b, s, escapeHTML)
	return append(b, '"')
}

// jsonPlain[escapeHTML] holds the bytes that stand for themselves inside a
// JSON string: ASCII but for control characters, '"' and '\\', and with
// escapeHTML '<', '>' and '&'. One lookup a byte instead of six
// comparisons makes escaping a multi-megabyte export about twice as fast.
var jsonPlain = func() (t [2][256]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[0][c] = c != '"' && c != '\\'
		t[1][c] = t[0][c] && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendJSONEscaped appends s escaped as the inside of a JSON string, as
// AppendJSONString does, without the quotes: for a string written in
// pieces.
func AppendJSONEscaped[S ~string | ~[]byte](b []byte, s S, escapeHTML bool) []byte {
	const hex = "0123456789abcdef"
	plain := &jsonPlain[0]
	if escapeHTML {
		plain = &jsonPlain[1]
	}
	start := 0 // s[start:i] is yet to be appended
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// At most a rune's bytes are converted, which needs no allocation
		// when s is a []byte.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
