package tools

import (
	"path"
	"strings"
)

// The decisions of a Policy.
const (
	Ask   = "ask"   // ask the user, or deny when no one can answer
	Allow = "allow" // run the tool without asking
	Deny  = "deny"  // do not offer the tool to the model
)

// Policy is the [tools] table of config.toml: what to do when the model
// calls a tool and no "always" answer of the user's applies.
//
//	[tools]
//	policy = "ask"          # the default: ask, allow or deny
//	"github__*" = "allow"   # per-tool globs over tool names
//	"github__delete_*" = "deny"
//	read_file = "allow"
type Policy struct {
	// Default is the decision for a tool no rule matches; "" means Ask.
	Default string
	// Rules maps globs over tool names (path.Match syntax: *, ?, [a-z]) to
	// decisions.
	Rules map[string]string
}

// Decide returns the decision for the tool called name: Ask, Allow or Deny.
//
// The most specific matching rule wins: a rule without wildcards (the
// tool's own name) beats every glob, and of two globs the one with more
// characters that are not wildcards wins, so "github__delete_*" beats
// "github__*". Between equally specific globs the more cautious decision
// wins (deny, then ask, then allow), whatever the order of the file. With
// no matching rule, Default decides.
func (p Policy) Decide(name string) string {
	best, bestWeight := "", -1
	for glob, decision := range p.Rules {
		if ok, _ := path.Match(glob, name); !ok {
			continue
		}
		w := specificity(glob)
		if w > bestWeight || w == bestWeight && caution(decision) > caution(best) {
			best, bestWeight = decision, w
		}
	}
	if best != "" {
		return best
	}
	if p.Default == "" {
		return Ask
	}
	return p.Default
}

// specificity ranks a glob: the number of its literal characters, and above
// any glob a name without wildcards.
func specificity(glob string) int {
	if !strings.ContainsAny(glob, "*?[") {
		return 1 << 30
	}
	n := 0
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '*', '?':
		case '[':
			// A class stands for one character, no more specific than '?'.
			if j := strings.IndexByte(glob[i:], ']'); j > 0 {
				i += j
			}
		default:
			n++
		}
	}
	return n
}

// caution orders decisions from the most permissive to the most cautious.
func caution(decision string) int {
	switch decision {
	case Allow:
		return 1
	case Ask:
		return 2
	case Deny:
		return 3
	}
	return 0
}
