package session

import (
	"strings"
	"testing"
)

func TestNormalizeWorkspace(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b"},
		{"/a/./b/", "/a/b"},
		{"/a/c/../b", "/a/b"},
		{"//a//b", "/a/b"},
		{"/", "/"},
		{"file:///a/b", "/a/b"},
		{"file:///a/b/", "/a/b"},
		{"file:///a/./b/", "/a/b"},
		{"file://localhost/a/b", "/a/b"},
		{"FILE:///a/b", "/a/b"},
		{"file:/a/b", "/a/b"},
		{"file:///a%20b/c%23d", "/a b/c#d"},
		{"file:///caf%C3%A9", "/café"},
		{"/a%20b", "/a%20b"}, // a path is not a URI
		{"", ""},
		{"a/b", ""},
		{"./a", ""},
		{"~/src", ""},
		{"file://server/a/b", ""},
		{"file:a/b", ""},
		{"file:///a/b?x=1", ""},
		{"file:///a%zz", ""},
		{"https://example.com/a", ""},
		{"untitled:Untitled-1", ""},
		{"/a\x00b", ""},
		{"/a\nb", ""},
		{"/a\rb", ""},
		{"file:///a%00b", ""},
		{"file:///a%0Ab", ""},
		{"/" + strings.Repeat("w", MaxWorkspace-1), "/" + strings.Repeat("w", MaxWorkspace-1)},
		{"/" + strings.Repeat("w", MaxWorkspace), ""},
		{"/" + strings.Repeat("w", MaxWorkspace-1) + "/", "/" + strings.Repeat("w", MaxWorkspace-1)},
	}
	for _, tt := range tests {
		got, err := NormalizeWorkspace(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("NormalizeWorkspace(%q) = %q, want an error", tt.in, got)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("NormalizeWorkspace(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
