package session

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrQuery is returned (wrapped) by Search for a query it will not run: an
// operator without its term, only words to leave out, or too many words.
var ErrQuery = errors.New("bad search query")

// Limits of a query. FTS5 reads the list of matches of each word of a
// query, which for a common word is most of the store: a pasted page of
// 16,000 words took seconds, and 64 times "the" 0.4 s in a store of
// 100,000 messages. A query with more is refused rather than cut, so that
// what is searched is what was asked; Search's time limit bounds the rest.
const (
	maxQueryTerms = 32
	maxQueryWords = 64
)

// term is one thing a query looks for: a word, or a phrase of words in
// order, the last perhaps a prefix.
type term struct {
	text   string
	prefix bool
}

// group is terms of which any will do (joined by OR).
type group []term

// parsedQuery is a query as Search runs it: every group of find must
// match, and no group of omit.
type parsedQuery struct {
	find, omit []group
}

// parseQuery reads a search query as people type it: words (all must be
// found, whole, in any order); "a phrase" in quotes (its words in that
// order); word* (words starting with it); OR between two terms (either
// will do); NOT before a term (messages with it are left out). AND may
// stand between terms and changes nothing. Anything else is text to find:
// quotes that are not closed end at the end of the query, and parentheses,
// colons, control characters and the like separate words, as they do in
// the index.
func parseQuery(q string) (*parsedQuery, error) {
	toks := lexQuery(q)
	var (
		p     parsedQuery
		terms int
		words int
	)
	for i := 0; i < len(toks); {
		t := toks[i]
		not := false
		switch {
		case t.op == "NOT":
			not = true
			i++
			if i == len(toks) || toks[i].op != "" {
				return nil, fmt.Errorf("%w: NOT needs a word or phrase after it", ErrQuery)
			}
		case t.op == "AND":
			i++
			if i == len(toks) || toks[i].op == "OR" || toks[i].op == "AND" || len(p.find)+len(p.omit) == 0 {
				return nil, fmt.Errorf("%w: AND needs a word or phrase on each side", ErrQuery)
			}
			continue
		case t.op == "OR":
			return nil, fmt.Errorf("%w: OR needs a word or phrase on each side", ErrQuery)
		}
		var g group
		for {
			if n := countWords(toks[i].term.text); n > 0 {
				g = append(g, toks[i].term)
				terms++
				words += n
			}
			i++
			if i == len(toks) || toks[i].op != "OR" {
				break
			}
			i++
			if i == len(toks) || toks[i].op != "" {
				return nil, fmt.Errorf("%w: OR needs a word or phrase on each side", ErrQuery)
			}
		}
		if terms > maxQueryTerms || words > maxQueryWords {
			return nil, fmt.Errorf("%w: the query is too long: at most %d words or phrases of %d words in all", ErrQuery, maxQueryTerms, maxQueryWords)
		}
		switch {
		case len(g) == 0:
		case not:
			p.omit = append(p.omit, g)
		default:
			p.find = append(p.find, g)
		}
	}
	if len(p.find) == 0 && len(p.omit) > 0 {
		return nil, fmt.Errorf("%w: NOT leaves words out of what the rest finds, and there is nothing else to find", ErrQuery)
	}
	return &p, nil
}

// fts5 returns the query in FTS5's syntax, every term quoted so that
// nothing in it is an operator there, or "" if it has nothing to find.
func (p *parsedQuery) fts5() string {
	if len(p.find) == 0 {
		return ""
	}
	var b strings.Builder
	groups := func(gs []group, sep string) {
		for i, g := range gs {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString("(")
			for j, t := range g {
				if j > 0 {
					b.WriteString(" OR ")
				}
				b.WriteString(`"` + strings.ReplaceAll(searchText(t.text), `"`, `""`) + `"`)
				if t.prefix {
					b.WriteString(" *")
				}
			}
			b.WriteString(")")
		}
	}
	groups(p.find, " AND ")
	if len(p.omit) > 0 {
		b.WriteString(" NOT ")
		groups(p.omit, " NOT ")
	}
	return b.String()
}

// queryToken is an operator (AND, OR, NOT) or a term.
type queryToken struct {
	op   string
	term term
}

// lexQuery splits a query into operators and terms. Operators are AND, OR
// and NOT in capitals, outside quotes.
func lexQuery(q string) []queryToken {
	// Control characters (NUL among them) and invalid UTF-8 become spaces
	// and U+FFFD, so that what reaches SQLite is text.
	q = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(q, "\uFFFD"))
	var toks []queryToken
	for {
		q = strings.TrimLeftFunc(q, unicode.IsSpace)
		if q == "" {
			return toks
		}
		var t term
		if q[0] == '"' {
			text, rest, _ := strings.Cut(q[1:], `"`)
			t.text, q = text, rest
			if strings.HasPrefix(q, "*") {
				t.prefix = true
				q = strings.TrimLeft(q, "*")
			}
		} else {
			end := strings.IndexFunc(q, func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
			if end < 0 {
				end = len(q)
			}
			word := q[:end]
			q = q[end:]
			if word == "AND" || word == "OR" || word == "NOT" {
				toks = append(toks, queryToken{op: word})
				continue
			}
			t.text = strings.TrimRight(word, "*")
			t.prefix = len(t.text) < len(word)
		}
		toks = append(toks, queryToken{term: t})
	}
}

// countWords is the number of words the index's tokenizer finds in s: runs
// of letters, digits and private-use characters, and each standalone
// character on its own.
func countWords(s string) int {
	n := 0
	in := false
	for _, r := range s {
		switch {
		case standalone(r):
			n++
			in = false
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r):
			if !in {
				n++
			}
			in = true
		default:
			in = false
		}
	}
	return n
}
