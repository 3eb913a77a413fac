package tools

import (
	"strings"
	"testing"
)

func TestNamer(t *testing.T) {
	long := strings.Repeat("x", 70)
	var n namer
	for _, tt := range []struct {
		server, tool string
		want         string // exactly, or, ending in _, the name's start
	}{
		{"github", "list_issues", "github__list_issues"},
		{"github", "list-issues", "github__list-issues"},
		// Characters models do not accept.
		{"github", "list.issues", "github__list_issues_"},
		{"web", "поиск", "web________"},
		// Too long: cut, and told apart from the next one.
		{"s", long + "a", "s__" + long[:64-3-9] + "_"},
		{"s", long + "b", "s__" + long[:64-3-9] + "_"},
		// Taken: server a__b's tool c and server a's tool b__c.
		{"a__b", "c", "a__b__c"},
		{"a", "b__c", "a__b__c_"},
		// Sanitized into a name that is taken.
		{"github", "list_issues.", "github__list_issues__"},
	} {
		got := n.name(tt.server, tt.tool)
		ok := got == tt.want
		if strings.HasSuffix(tt.want, "_") {
			ok = strings.HasPrefix(got, tt.want) && len(got) == min(len(tt.want)+8, maxName)
		}
		if !ok || !validName.MatchString(got) {
			t.Errorf("name(%q, %q) = %q, want %q", tt.server, tt.tool, got, tt.want)
		}
	}
	if len(n.taken) != 9 {
		t.Errorf("the 9 tools got %d names, want 9 distinct", len(n.taken))
	}

	// The same tool gets the same name in another listing, whatever else
	// is listed before it.
	var other namer
	other.name("s", long+"b")
	other.name("z", "z")
	if a, b := other.name("s", long+"a"), (&namer{}).name("s", long+"a"); a != b {
		t.Errorf("the same tool was named %s and %s", a, b)
	}
}
