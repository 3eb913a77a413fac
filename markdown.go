package main

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// markdown renders a reply's Markdown for a terminal as it streams:
// headings bold, **bold** and *italic*, `code` and fenced code blocks in
// colour, list bullets as •, quotes behind a bar, rules as a line. It
// holds back only what it cannot yet tell (the start of a line, a run of
// * or `), so text appears as it arrives, and the terminal wraps it.
//
// Not glamour, which renders whole documents: its packages' start-up work
// (chroma registering its styles and lexers) took 20 ms in every start of
// the binary, the daemon's included, which answers initialize in 5.
type markdown struct {
	w io.Writer

	atStart bool   // at the start of a line, collecting head
	head    string // the start of the line, until it says what the line is
	fence   string // the fence of the code block we are in, or ""

	heading         bool // the line is a heading
	code            bool // in a `code` span
	codeTicks       int  // the backticks that opened it
	bold, italic    bool
	stars, ticks    int  // a run of * or ` not yet written
	prev            rune // the last character of text written
	styled, codeRow bool // a style is on; the line is a code block's

	partial []byte // the start of a character cut by the end of a Write
}

// SGR sequences.
const (
	sgrReset      = "\x1b[0m"
	sgrBold       = "\x1b[1m"
	sgrBoldOff    = "\x1b[22m"
	sgrItalic     = "\x1b[3m"
	sgrItalicOff  = "\x1b[23m"
	sgrDim        = "\x1b[2m"
	sgrCode       = "\x1b[36m"
	sgrCodeOff    = "\x1b[39m"
	sgrHeading    = "\x1b[1;34m"
	markdownRule  = "────────────────────────────────────────"
	markdownQuote = sgrDim + "│" + sgrBoldOff + " "
)

func newMarkdown(w io.Writer) *markdown { return &markdown{w: w, atStart: true, prev: ' '} }

// Write renders p, which may end anywhere, even inside a character.
func (m *markdown) Write(p []byte) (int, error) {
	b := append(m.partial, p...)
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	m.write(string(b[:cut]))
	m.partial = append([]byte(nil), b[cut:]...)
	return len(p), nil
}

func (m *markdown) write(s string) {
	for _, r := range s {
		if !m.atStart {
			m.text(r)
			continue
		}
		m.head += string(r)
		m.lineStart(r == '\n')
	}
}

// lineStart decides, if it can, what the line that starts with m.head is,
// and renders what it has. At the end of the line it must decide.
func (m *markdown) lineStart(end bool) bool {
	head := m.head
	t := strings.TrimLeft(head, " ")
	indent := head[:len(head)-len(t)]
	if m.fence != "" {
		switch {
		case strings.HasPrefix(strings.TrimSpace(t), m.fence) && end:
			m.put(sgrDim + strings.TrimSuffix(head, "\n") + sgrReset + "\n")
			m.fence = ""
			m.reset()
			return true
		case strings.HasPrefix(m.fence, t) && !end:
			return false
		}
		m.codeRow = true
		m.put(sgrCode)
		m.styled = true
		return m.rest(head)
	}
	if t == "" && !end {
		return false
	}
	if t == "" || t == "\n" {
		return m.rest(head)
	}
	line := strings.TrimSuffix(t, "\n")
	switch c := t[0]; c {
	case '#':
		n := len(line) - len(strings.TrimLeft(line, "#"))
		if n == len(line) && !end {
			return false
		}
		if n <= 6 && n < len(line) && line[n] == ' ' {
			m.heading = true
			m.put(sgrHeading)
			m.styled = true
		}
	case '-', '*', '+', '_':
		if strings.Trim(line, string(c)+" ") == "" {
			if !end {
				return false
			}
			if strings.Count(line, string(c)) >= 3 {
				m.put(sgrDim + markdownRule + sgrReset + "\n")
				m.reset()
				return true
			}
		}
		if c != '_' && len(line) > 1 && line[1] == ' ' {
			m.put(indent + "• ")
			return m.rest(t[2:])
		}
	case '>':
		if len(t) == 1 {
			return false
		}
		m.put(indent + markdownQuote)
		return m.rest(strings.TrimPrefix(t[1:], " "))
	case '`', '~':
		fence := strings.Repeat(string(c), 3)
		if strings.HasPrefix(line, fence) {
			if !end {
				return false
			}
			m.fence = line[:len(line)-len(strings.TrimLeft(line, string(c)))]
			m.put(sgrDim + strings.TrimSuffix(head, "\n") + sgrReset + "\n")
			m.reset()
			return true
		}
		if strings.Trim(line, string(c)) == "" && !end {
			return false
		}
	}
	return m.rest(head)
}

// rest renders s, the rest of the line's start once it is decided, as text.
func (m *markdown) rest(s string) bool {
	m.atStart, m.head = false, ""
	for _, r := range s {
		m.text(r)
	}
	return true
}

// text renders one character of a line whose start is decided.
func (m *markdown) text(r rune) {
	if r == '\n' {
		m.flushRuns(' ')
		if m.styled {
			m.put(sgrReset)
		}
		m.put("\n")
		m.reset()
		return
	}
	if m.codeRow {
		m.put(string(r))
		return
	}
	switch {
	case r == '`':
		m.flushStars(r)
		m.ticks++
		return
	case r == '*' && !m.code:
		m.flushTicks()
		m.stars++
		return
	}
	m.flushRuns(r)
	m.put(string(r))
	m.prev = r
}

// flushRuns writes the runs of * and ` held back, now that next follows.
func (m *markdown) flushRuns(next rune) {
	m.flushTicks()
	m.flushStars(next)
}

// flushTicks opens or closes a code span with the backticks held back.
func (m *markdown) flushTicks() {
	n := m.ticks
	if n == 0 {
		return
	}
	m.ticks = 0
	switch {
	case !m.code:
		m.code, m.codeTicks = true, n
		m.put(sgrCode)
		m.styled = true
	case n == m.codeTicks:
		m.code = false
		m.put(sgrCodeOff)
	default:
		m.put(strings.Repeat("`", n))
	}
	m.prev = '`'
}

// flushStars turns the stars held back into bold or italic, on or off, or
// writes them: a run opens before a character that is not a space and
// closes after one; 2 * 3 stays as it is.
func (m *markdown) flushStars(next rune) {
	n := m.stars
	if n == 0 {
		return
	}
	m.stars = 0
	if m.code {
		m.put(strings.Repeat("*", n))
		return
	}
	opens := !unicode.IsSpace(next) && next != utf8.RuneError
	closes := !unicode.IsSpace(m.prev)
	toggle := func(on *bool, start, stop string) bool {
		switch {
		case *on && closes:
			m.put(stop)
		case !*on && opens:
			m.put(start)
			m.styled = true
		default:
			return false
		}
		*on = !*on
		return true
	}
	if n > 3 ||
		n >= 2 && !toggle(&m.bold, sgrBold, sgrBoldOff+m.headingBold()) ||
		n != 2 && !toggle(&m.italic, sgrItalic, sgrItalicOff) {
		m.put(strings.Repeat("*", n))
	}
	m.prev = '*'
}

// headingBold turns bold on again in a heading, which is bold throughout.
func (m *markdown) headingBold() string {
	if m.heading {
		return sgrBold
	}
	return ""
}

// reset starts a new line: no style carries over.
func (m *markdown) reset() {
	*m = markdown{w: m.w, atStart: true, prev: ' ', fence: m.fence, partial: m.partial}
}

// Flush renders what is held back, at the end of the reply.
func (m *markdown) Flush() {
	if len(m.partial) > 0 {
		m.write(string(m.partial))
		m.partial = nil
	}
	if m.atStart && m.head != "" {
		m.lineStart(true)
	}
	m.flushRuns(' ')
	if m.styled {
		m.put(sgrReset)
	}
	m.reset()
}

func (m *markdown) put(s string) { io.WriteString(m.w, s) }
