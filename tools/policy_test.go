package tools

import "testing"

func TestDecide(t *testing.T) {
	p := Policy{
		Default: Ask,
		Rules: map[string]string{
			"github__*":        Allow,
			"github__delete_*": Deny,
			"github__delete_x": Ask,
			"read_file":        Allow,
			"*_file":           Deny,
			"*search":          Allow,
			"web__s*":          Deny, // as specific as *search
			"db__[rw]*":        Allow,
			"db__???":          Deny, // as specific as db__[rw]*
		},
	}
	for _, tt := range []struct{ name, want string }{
		{"github__list_issues", Allow},
		{"github__delete_repo", Deny}, // longer glob beats github__*
		{"github__delete_x", Ask},     // a name beats every glob
		{"read_file", Allow},          // the name beats *_file
		{"list_files", Ask},           // no rule: the default
		{"fs__write_file", Deny},      // *_file
		{"web__search", Deny},         // a tie: the cautious decision wins
		{"db__read", Allow},           // db__[rw]* alone matches
		{"db__run", Deny},             // a tie with db__???
		{"githubx__list", Ask},        // github__* wants the two underscores
		{"GITHUB__list_issues", Ask},  // case matters
		{"github__", Allow},           // * matches nothing too
		{"other__tool", Ask},
	} {
		if got := p.Decide(tt.name); got != tt.want {
			t.Errorf("Decide(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := (Policy{}).Decide("read_file"); got != Ask {
		t.Errorf("the zero Policy decides %q, want ask", got)
	}
	if got := (Policy{Default: Deny}).Decide("read_file"); got != Deny {
		t.Errorf("Policy{Default: deny} decides %q, want deny", got)
	}
}
