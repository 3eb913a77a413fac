package session

import (
	"database/sql/driver"
	"strings"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"
)

// The search index does not read messages.content as it is: SQLite's
// unicode61 tokenizer splits words at spaces and punctuation, so Japanese,
// Chinese or Thai, written without spaces, would be one word per sentence,
// and emoji none at all. The index reads the text through searchText
// instead, which sets each character of a script written without spaces,
// and each symbol, apart from its neighbours with a zero-width space
// (a separator to unicode61). Each becomes a word of its own, so a
// phrase of them finds any substring, whatever its length; the words of
// other scripts, code included, are left whole.
//
// A trigram index beside the word index was the other way: it finds
// substrings of three characters or more, not the one- and two-character
// words that are most of Japanese and every emoji, and re-indexing every
// reply three characters at a time at every checkpoint costs more than
// this.

// searchTextFunc is the SQL name of searchText. The schema's view and
// triggers call it, so it is part of the schema: what it returns for a
// text must not change without a migration that rebuilds the index.
const searchTextFunc = "tinychat_search_text"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(searchTextFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return searchText(v), nil
		case []byte:
			return searchText(string(v)), nil
		}
		return args[0], nil
	})
}

// wordBreak is what searchText puts between characters that are words on
// their own and their neighbours: U+200B ZERO WIDTH SPACE, which unicode61
// takes for a separator and which snippets drop again.
const wordBreak = "\u200b"

// unspaced are the scripts written without spaces between words (or, for
// Hangul, with particles fused to them), searched character by character.
var unspaced = []*unicode.RangeTable{
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo, unicode.Yi,
	unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar, unicode.Tibetan,
}

// standalone reports whether r is a word of its own: a character of an
// unspaced script, or a symbol (emoji among them), which the index's
// tokenizer keeps as a word (category So) instead of a separator.
func standalone(r rune) bool {
	return r >= 0x80 && (unicode.Is(unicode.So, r) || unicode.In(r, unspaced...))
}

// searchText returns s as the search index reads it: s with a wordBreak
// between every standalone character and a neighbour that is not a space.
// A text without any is returned as it is.
func searchText(s string) string {
	first := -1
	for i, r := range s {
		if standalone(r) {
			first = i
			break
		}
	}
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	b.WriteString(s[:first])
	prev, _ := utf8.DecodeLastRuneInString(s[:first])
	for _, r := range s[first:] {
		// A space or the start of the text already separates.
		if (standalone(r) || standalone(prev)) && b.Len() > 0 && !unicode.IsSpace(prev) && !unicode.IsSpace(r) {
			b.WriteString(wordBreak)
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// displayText undoes searchText for a snippet of the index's text.
func displayText(s string) string {
	return strings.ReplaceAll(s, wordBreak, "")
}
