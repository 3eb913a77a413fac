package tools

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxName is the longest tool name that OpenAI and Anthropic accept.
const maxName = 64

// isNameRune reports whether r may be part of a tool name.
func isNameRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-'
}

// isName reports whether s is non-empty and made of the characters of tool
// names only.
func isName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !isNameRune(r) })
}

// namer names the tools of MCP servers as models see them,
// <server>__<tool>, each name unique within one listing.
type namer struct {
	taken map[string]bool
}

// name returns the name of the tool called tool on server. A name that
// would be too long, or that holds characters models do not accept (each
// replaced by _), or that is already taken, is cut and ends with _ and
// eight or more hex digits of a hash of the server's and the tool's own
// names. The hash keeps the name the same from one listing to the next,
// whatever else the servers offer, which matters because policies and
// "always" answers are kept by name.
func (n *namer) name(server, tool string) string {
	want := server + "__" + tool
	name := strings.Map(func(r rune) rune {
		if isNameRune(r) {
			return r
		}
		return '_'
	}, want)
	if name != want || len(name) > maxName || n.taken[name] {
		sum := sha256.Sum256([]byte(server + "\x00" + tool))
		hash := hex.EncodeToString(sum[:])
		base := name
		// Two distinct tools share the first 8 digits once in four billion
		// pairs; more digits part them.
		for k := 8; k == 8 || n.taken[name] && k < 56; k += 8 {
			suffix := "_" + hash[:k]
			name = base[:min(len(base), maxName-len(suffix))] + suffix
		}
	}
	if n.taken == nil {
		n.taken = map[string]bool{}
	}
	n.taken[name] = true
	return name
}
