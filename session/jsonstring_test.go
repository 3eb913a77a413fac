package session

import (
	"bytes"
	"encoding/json"
	"testing"
)

// quotedByEncodingJSON is s as encoding/json writes it: json.Marshal escapes HTML,
// an Encoder with SetEscapeHTML(false) (the json export's way) does not.
func quotedByEncodingJSON(t *testing.T, s string, escapeHTML bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x1f\t\r\n", "<a>&", "\u2028\u2029", "héllo ✓ 😀", "bad \xff\xfe utf8", "\xe2\x82"} {
		for _, html := range []bool{true, false} {
			want := quotedByEncodingJSON(t, s, html)
			if got := AppendJSONString(nil, []byte(s), html); !bytes.Equal(got, want) {
				t.Errorf("%q, escapeHTML %v: got %s from bytes, want %s", s, html, got, want)
			}
			if got := AppendJSONString(nil, s, html); !bytes.Equal(got, want) {
				t.Errorf("%q, escapeHTML %v: got %s from a string, want %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("héllo \"x\" \x00 \xff"))
	f.Fuzz(func(t *testing.T, s []byte) {
		for _, html := range []bool{true, false} {
			want := quotedByEncodingJSON(t, string(s), html)
			if got := AppendJSONString(nil, s, html); !bytes.Equal(got, want) {
				t.Errorf("%q, escapeHTML %v: got %s, want %s", s, html, got, want)
			}
		}
	})
}
