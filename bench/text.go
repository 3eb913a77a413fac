package main

import (
	"fmt"
	"strconv"
)

// The text of a mock stream comes in one of three kinds, so that whoever
// reads it can count the provider's deltas in the text itself: with
// coalescing, one chat/delta notification may carry many of them.
//
//   - tokens: delta i is tokens[i%8], 4 bytes each, so the whole reply is
//     a 32-byte pattern repeated.
//   - stamps (ts): delta i is "T<unix-ns>|" (21 bytes), the mock's clock
//     just before it wrote the event, for per-delta latency.
//   - tagged: delta i is "<tag>.<i> ", different for every request, so
//     that text mixed between requests cannot go unnoticed.
var tokens = [...]string{" the", " cat", " sat", " on ", " mat", " and", " ran", " far"}

// tokenPattern is the token stream's period.
var tokenPattern = func() string {
	s := ""
	for _, t := range tokens {
		s += t
	}
	return s
}()

// appendTagged appends delta i of a tagged stream.
func appendTagged(b []byte, tag string, i int) []byte {
	b = append(b, tag...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, ' ')
}

// taggedText is the whole reply of a tagged stream of n deltas.
func taggedText(tag string, n int) string {
	var b []byte
	for i := 0; i < n; i++ {
		b = appendTagged(b, tag, i)
	}
	return string(b)
}

// A verifier checks a reply's text as it arrives, in pieces of any size,
// and counts the provider deltas in it.
type verifier interface {
	// feed takes the next piece of text, received at now (unix ns).
	feed(text []byte, now int64)
	// deltas is the number of whole deltas seen.
	deltas() int
	// check reports what is wrong with the text seen, given that want
	// deltas were sent.
	check(want int) error
}

// tokenVerifier checks a token stream byte by byte against its pattern.
type tokenVerifier struct {
	pos int // bytes seen
	bad int // first wrong byte, or -1
}

func newTokenVerifier() *tokenVerifier { return &tokenVerifier{bad: -1} }

func (v *tokenVerifier) feed(text []byte, _ int64) {
	p := v.pos % len(tokenPattern)
	for i, c := range text {
		if c != tokenPattern[p] && v.bad < 0 {
			v.bad = v.pos + i
		}
		if p++; p == len(tokenPattern) {
			p = 0
		}
	}
	v.pos += len(text)
}

func (v *tokenVerifier) deltas() int { return v.pos / len(tokens[0]) }

func (v *tokenVerifier) check(want int) error {
	switch {
	case v.bad >= 0:
		return fmt.Errorf("text differs from the mock's at byte %d (delta %d)", v.bad, v.bad/len(tokens[0]))
	case v.pos != want*len(tokens[0]):
		return fmt.Errorf("%d deltas (%d bytes) arrived, %d were sent", v.pos/len(tokens[0]), v.pos, want)
	}
	return nil
}

// stampVerifier finds the mock's T<19 digits>| stamps, across piece
// boundaries, and keeps each one's latency: arrival minus stamp.
type stampVerifier struct {
	state int // -1 outside a stamp, else digits seen
	val   int64
	junk  int // bytes that are not part of a stamp
	lats  []int64
}

func newStampVerifier(capacity int) *stampVerifier {
	return &stampVerifier{state: -1, lats: make([]int64, 0, capacity)}
}

func (s *stampVerifier) feed(b []byte, now int64) {
	for _, c := range b {
		switch {
		case c == 'T' && s.state < 0:
			s.state, s.val = 0, 0
		case s.state >= 0 && s.state < 19 && c >= '0' && c <= '9':
			s.val = s.val*10 + int64(c-'0')
			s.state++
		case s.state == 19 && c == '|':
			s.lats = append(s.lats, now-s.val)
			s.state = -1
		default:
			s.junk++
			s.state = -1
		}
	}
}

func (s *stampVerifier) deltas() int { return len(s.lats) }

func (s *stampVerifier) check(want int) error {
	switch {
	case s.junk > 0 || s.state >= 0:
		return fmt.Errorf("%d bytes of the text are not the mock's stamps", s.junk)
	case len(s.lats) != want:
		return fmt.Errorf("%d deltas arrived, %d were sent", len(s.lats), want)
	}
	return nil
}

// taggedVerifier compares a tagged stream with the text it must be.
type taggedVerifier struct {
	want string
	got  []byte
	bad  int
}

func newTaggedVerifier(tag string, n int) *taggedVerifier {
	return &taggedVerifier{want: taggedText(tag, n), bad: -1}
}

func (v *taggedVerifier) feed(b []byte, _ int64) {
	for i, c := range b {
		p := len(v.got) + i
		if v.bad < 0 && (p >= len(v.want) || v.want[p] != c) {
			v.bad = p
		}
	}
	v.got = append(v.got, b...)
}

func (v *taggedVerifier) deltas() int {
	n := 0
	for _, c := range v.got {
		if c == ' ' {
			n++
		}
	}
	return n
}

func (v *taggedVerifier) check(int) error {
	switch {
	case v.bad >= 0:
		return fmt.Errorf("text differs from this request's at byte %d: %q", v.bad, clip(v.got[v.bad:], 30))
	case len(v.got) != len(v.want):
		return fmt.Errorf("%d of %d bytes arrived", len(v.got), len(v.want))
	}
	return nil
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
