package providers

import "testing"

// TestJSONDecoder feeds one decoder a series of events, good and bad: each
// is judged on its own, whatever came before.
func TestJSONDecoder(t *testing.T) {
	var j jsonDecoder
	for _, tt := range []struct {
		data string
		want string // the value of "a", or "error"
	}{
		{`{"a":"1"}`, "1"},
		{` {"a":"2"}` + "\r\n\t ", "2"},
		{`{"a":"3"} {"a":"x"}`, "error"},
		{`{"a":"4"}`, "4"},
		{`{"a":`, "error"},
		{`{"a":"5"}`, "5"},
		{``, "error"},
		{`  `, "error"},
		{`{"a":"6"}`, "6"},
		{`{"a":"7"}` + "\u00a0", "error"},
		{`{"a":"8"}`, "8"},
	} {
		var v struct{ A string }
		got := "error"
		if err := j.decode(tt.data, &v); err == nil {
			got = v.A
		}
		if got != tt.want {
			t.Errorf("decode(%q) = %q, want %q", tt.data, got, tt.want)
		}
	}
}
