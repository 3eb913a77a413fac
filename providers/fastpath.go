package providers

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The fast path reads the events that make up nearly all of a stream (a
// chunk with one piece of text) with the small scanner below instead of
// encoding/json, which costs several times more per event.
//
// It is strictly a shortcut. It takes only events that are valid JSON of a
// shape it knows whole, and gives up (ok false) on anything else: invalid
// or unusual JSON, a value of an unexpected type, a key that appears twice,
// a key that encoding/json would match to a field only case-insensitively,
// an escaped or non-ASCII key, deep nesting. The decoder then decodes the
// event as before, with encoding/json, so that whatever the fast path
// takes, it reads exactly as encoding/json would (FuzzFastPath checks it).

// maxSkipDepth bounds the nesting of the values the fast path skips.
const maxSkipDepth = 32

// jsonScan reads JSON from s, from offset i on. Its methods report false
// on anything they do not take, whether invalid JSON or merely unexpected.
type jsonScan struct {
	s string
	i int
}

// plainByte marks the bytes that may stand in a JSON string as they are,
// which is all but the quote, the backslash, control characters and the
// bytes of multi-byte UTF-8 (which must be checked).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// ws skips JSON whitespace.
func (j *jsonScan) ws() {
	for j.i < len(j.s) {
		switch c := j.s[j.i]; {
		case c > ' ':
			return
		case c == ' ', c == '\t', c == '\n', c == '\r':
			j.i++
		default:
			return
		}
	}
}

// next skips whitespace and returns the byte that follows, or 0 at the end.
func (j *jsonScan) next() byte {
	j.ws()
	if j.i < len(j.s) {
		return j.s[j.i]
	}
	return 0
}

// eat skips whitespace and c.
func (j *jsonScan) eat(c byte) bool {
	if j.next() != c {
		return false
	}
	j.i++
	return true
}

// end reports whether only whitespace is left.
func (j *jsonScan) end() bool {
	j.ws()
	return j.i == len(j.s)
}

// rawString reads a string at j.i (its opening quote) and returns what is
// between the quotes. plain reports that it holds no escape and no byte
// outside ASCII, and so stands for itself.
func (j *jsonScan) rawString() (raw string, plain, ok bool) {
	s, i := j.s, j.i
	if i >= len(s) || s[i] != '"' {
		return "", false, false
	}
	i++
	start := i
	plain = true
	for {
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		if i >= len(s) {
			return "", false, false
		}
		switch c := s[i]; {
		case c == '"':
			j.i = i + 1
			return s[start:i], plain, true
		case c == '\\':
			plain = false
			i++
			if i >= len(s) {
				return "", false, false
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) {
					return "", false, false
				}
				i += 5
			default:
				return "", false, false
			}
		case c < 0x20:
			return "", false, false
		default: // the first byte of a multi-byte sequence, valid or not
			plain = false
			i++
		}
	}
}

// str reads a string and returns it unquoted as encoding/json does. The
// result may be a part of j.s, unless own is set: then it never is, so that
// keeping it does not keep all of j.s.
func (j *jsonScan) str(own bool) (string, bool) {
	raw, plain, ok := j.rawString()
	if !ok {
		return "", false
	}
	if !plain {
		t, copied, ok := unquote(raw)
		if copied || !ok {
			return t, ok
		}
	}
	if own {
		return strings.Clone(raw), true
	}
	return raw, true
}

// key reads an object key and the colon after it. It takes only a key of
// printable ASCII with no escape, which is matched to a struct field by
// name, exactly or ignoring ASCII case; any other key might be matched
// after unescaping or Unicode case folding.
func (j *jsonScan) key() (string, bool) {
	if j.next() != '"' {
		return "", false
	}
	k, plain, ok := j.rawString()
	if !ok || !plain || !j.eat(':') {
		return "", false
	}
	j.ws()
	return k, true
}

// object reads an object. For each key, it calls field with j at the
// value, which field must read. A false from field fails the object.
func (j *jsonScan) object(field func(key string) bool) bool {
	return j.eat('{') && j.seq('}', func() bool {
		k, ok := j.key()
		return ok && field(k)
	})
}

// seq reads the rest of an object or an array once its opening bracket is
// read: nothing, or elements separated by commas, then end. elem reads one
// element.
func (j *jsonScan) seq(end byte, elem func() bool) bool {
	if j.next() == end {
		j.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch j.next() {
		case ',':
			j.i++
		case end:
			j.i++
			return true
		default:
			return false
		}
	}
}

// once reports whether this is the first time it is called with seen. The
// fast path gives up on a key that appears twice: encoding/json would
// merge or replace the values.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// null reads the literal null.
func (j *jsonScan) null() bool { return j.literal("null") }

// nullableString reads a string as str does, or null as "".
func (j *jsonScan) nullableString(own bool) (string, bool) {
	if j.i < len(j.s) && j.s[j.i] == 'n' {
		return "", j.null()
	}
	return j.str(own)
}

// skip reads any JSON value, nested at most depth deep, and discards it.
func (j *jsonScan) skip(depth int) bool {
	s := j.s
	if j.i >= len(s) {
		return false
	}
	switch c := s[j.i]; c {
	case '"':
		_, _, ok := j.rawString()
		return ok
	case 'n':
		return j.null()
	case 't':
		return j.literal("true")
	case 'f':
		return j.literal("false")
	case '{':
		if depth == 0 {
			return false
		}
		j.i++
		return j.seq('}', func() bool {
			// Keys are not matched to anything here: any will do.
			if j.next() != '"' {
				return false
			}
			if _, _, ok := j.rawString(); !ok || !j.eat(':') {
				return false
			}
			j.ws()
			return j.skip(depth - 1)
		})
	case '[':
		if depth == 0 {
			return false
		}
		j.i++
		return j.seq(']', func() bool {
			j.ws()
			return j.skip(depth - 1)
		})
	default:
		return j.number()
	}
}

func (j *jsonScan) literal(lit string) bool {
	if !strings.HasPrefix(j.s[j.i:], lit) {
		return false
	}
	j.i += len(lit)
	return true
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (j *jsonScan) number() bool {
	s, i := j.s, j.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		i = digits(s, i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		i = digits(s, i)
	}
	j.i = i
	return true
}

// zero reads a number and reports whether it is 0 as written: "0", not
// "0.0" or "-0".
func (j *jsonScan) zero() bool {
	start := j.i
	return j.number() && j.s[start:j.i] == "0"
}

// digits returns the offset of the first byte at or after i that is not a
// digit.
func digits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipField skips the value of key, a key that names none of fields in
// exactly those bytes. It fails if encoding/json would take key for one of
// fields nonetheless, ignoring case.
func (j *jsonScan) skipField(key string, fields ...string) bool {
	for _, f := range fields {
		if len(f) == len(key) && strings.EqualFold(f, key) {
			return false
		}
	}
	return j.skip(maxSkipDepth)
}

// unquote returns the text of a string's raw contents (between the
// quotes, already checked by rawString) as encoding/json's unquoteBytes
// does: escapes are decoded, a \u escape of half a surrogate pair that is
// not followed by the other half stands for U+FFFD, and so does each byte
// that is not part of valid UTF-8.
//
// copied reports that the result is a new string; if not, it is s itself.
func unquote(s string) (t string, copied, ok bool) {
	// Like unquoteBytes, take the string as it is up to the first escape
	// or invalid byte.
	r := 0
	for r < len(s) {
		c := s[r]
		if c == '\\' || c == '"' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRuneInString(s[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	if r == len(s) {
		return s, false, true
	}
	b := make([]byte, r, len(s)+2*utf8.UTFMax)
	copy(b, s[:r])
	for r < len(s) {
		switch c := s[r]; {
		case c == '\\':
			r++
			if r >= len(s) {
				return "", false, false
			}
			switch s[r] {
			case '"', '\\', '/', '\'':
				b = append(b, s[r])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r-1:])
				if rr < 0 {
					return "", false, false
				}
				r += 5
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						// A valid pair: take both halves.
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default:
				return "", false, false
			}
			r++
		case c == '"', c < ' ':
			return "", false, false
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			// Invalid UTF-8 becomes U+FFFD, a byte at a time.
			rr, size := utf8.DecodeRuneInString(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return string(b), true, true
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
