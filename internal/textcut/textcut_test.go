package textcut

import "testing"

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s          string
		n          int
		want, clip string
	}{
		{"hello", 3, "hel", "hel…"},
		{"hello", 9, "hello", "hello"},
		{"hello", 5, "hello", "hello"},
		{"héllo", 2, "h", "h…"},
		{"héllo", 3, "hé", "hé…"},
		{"日本", 5, "日", "日…"},
		{"日本", 2, "", "…"},
		{"🚀x", 3, "", "…"},
		{"abc", -1, "", "…"},
		{"", 0, "", ""},
	} {
		if got := Prefix(tc.s, tc.n); got != tc.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
		if got := Len([]byte(tc.s), tc.n); got != len(tc.want) {
			t.Errorf("Len([]byte(%q), %d) = %d, want %d", tc.s, tc.n, got, len(tc.want))
		}
		if got := Clip(tc.s, tc.n); got != tc.clip {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.clip)
		}
	}
}
