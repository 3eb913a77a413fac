package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// readAll reads every frame of input and returns the methods of the
// requests in it, and the refusals of the frames and messages that were
// not requests.
func readAll(t testing.TB, input string, jsonl bool, limit int) (methods []string, refused []refusal) {
	s := newStream(strings.NewReader(input), io.Discard, jsonl, limit)
	for {
		body, err := s.next()
		var fe *frameError
		switch {
		case errors.As(err, &fe):
			refused = append(refused, fe.refusal)
			continue
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return methods, refused
		case err != nil:
			t.Fatalf("next: %v", err)
		}
		if len(bytes.TrimSpace(body)) == 0 {
			continue
		}
		req, _, ref := decodeMessage(body)
		if ref != nil {
			refused = append(refused, *ref)
			continue
		}
		methods = append(methods, req.Method)
	}
}

func TestStreamRecoversFromBadFrames(t *testing.T) {
	good := func(m string) string { return `{"jsonrpc":"2.0","id":1,"method":"` + m + `"}` }
	for _, tc := range []struct {
		name    string
		jsonl   bool
		input   string
		methods string
		ids     string // of the refusals
	}{
		{"lsp good", false, lsp(good("a")) + lsp(good("b")), "a,b", ""},
		{"lsp lowercase header and extra headers", false, "content-length: " + itoa(len(good("a"))) + "\r\nContent-Type: application/json\r\n\r\n" + good("a"), "a", ""},
		{"lsp bare LF line endings", false, "Content-Length: " + itoa(len(good("a"))) + "\n\n" + good("a"), "a", ""},
		{"lsp not json then good", false, lsp("nope") + lsp(good("b")), "b", "null"},
		{"lsp missing length then good", false, "X-Foo: 1\r\n\r\n" + lsp(good("b")), "b", "null"},
		{"lsp negative length", false, "Content-Length: -5\r\n\r\n" + lsp(good("b")), "b", "null"},
		{"lsp too large is skipped, its id kept", false, lsp(`{"jsonrpc":"2.0","id":1,"method":"`+strings.Repeat("x", 200)+`"}`) + lsp(good("b")), "b", "1"},
		{"lsp too large, its id last", false, lsp(`{"jsonrpc":"2.0","method":"`+strings.Repeat("x", 200)+`","params":{"id":5},"id":"z"}`) + lsp(good("b")), "b", `"z"`},
		{"lsp header line longer than the buffer", false, "X-Junk: " + strings.Repeat("j", 3*bufferSize) + "\r\n\r\n" + lsp(good("b")), "b", "null"},
		{"lsp length at the end of a long unterminated body", false,
			"Content-Type: x\r\n\r\n" + strings.Repeat("j", 2*bufferSize) + "Content-Length: " + itoa(len(good("b"))) + "\r\n\r\n" + good("b"), "b", "null"},
		{"jsonl good", true, good("a") + "\n" + good("b") + "\n", "a,b", ""},
		{"jsonl blank lines and CRLF", true, "\n\r\n" + good("a") + "\r\n", "a", ""},
		{"jsonl garbage then good", true, "{{{\n" + good("b") + "\n", "b", "null"},
		{"jsonl last line without newline", true, good("a"), "a", ""},
		{"jsonl id kept in invalid request", true, `{"jsonrpc":"2.0","id":"x7","method":5}` + "\n", "", `"x7"`},
		{"jsonl too long, its id kept", true, `{"id":-3,"jsonrpc":"2.0","method":"` + strings.Repeat("x", bufferSize) + `"}` + "\n" + good("b") + "\n", "b", "-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			methods, refused := readAll(t, tc.input, tc.jsonl, 100)
			if got := strings.Join(methods, ","); got != tc.methods {
				t.Errorf("methods %q, want %q", got, tc.methods)
			}
			var ids []string
			for _, r := range refused {
				ids = append(ids, string(r.id))
			}
			if got := strings.Join(ids, ","); got != tc.ids {
				t.Errorf("refused %+v, want ids %q", refused, tc.ids)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		raw, want, err string
	}{
		{``, "", ""},
		{`null`, "null", ""},
		{`7`, "7", ""},
		{`-0`, "0", ""},
		{`-9223372036854775808`, "-9223372036854775808", ""},
		{`9223372036854775807`, "9223372036854775807", ""},
		{`9223372036854775808`, "", "outside the range of a 64-bit integer"},
		{`1.0`, "", "not an integer"},
		{`1e3`, "", "not an integer"},
		{`"a"`, `"a"`, ""},
		{`"\u0061<"`, `"a\u003c"`, ""},
		{`true`, "", "must be a string, an integer or null"},
		{`{}`, "", "must be a string, an integer or null"},
	} {
		got, err := parseID(json.RawMessage(tc.raw))
		if string(got) != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseID(%s) = %q, %v; want %q, %q", tc.raw, got, err, tc.want, tc.err)
		}
	}
}

// TestIDFinder feeds messages to an idFinder a byte at a time and whole.
func TestIDFinder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want id
	}{
		{`{"jsonrpc":"2.0","id":12,"method":"m"}`, "12"},
		{`{"method":"m","params":{"id":1,"x":[{"id":2}]},"id":"s\"q"}`, `"s\"q"`},
		{` { "id" : -4 } `, "-4"},
		{`{"params":"\"id\":5","id":null}`, "null"},
		{`{"idx":1,"xid":2}`, "null"},
		{`{"id":1.5}`, "null"},
		{`{"id":{"a":1}}`, "null"},
		{`{"id":"` + strings.Repeat("x", maxIDValue) + `"}`, "null"},
		{`{"id":1,"id":2}`, "2"},
		{`[{"id":1}]`, "null"},
		{`{"id":3`, "null"},
		{`"id"`, "null"},
	} {
		var whole, bytewise idFinder
		whole.Write([]byte(tc.in))
		for i := range len(tc.in) {
			bytewise.Write([]byte{tc.in[i]})
		}
		if whole.id() != tc.want || bytewise.id() != tc.want {
			t.Errorf("%s: id %s, byte by byte %s; want %s", tc.in, whole.id(), bytewise.id(), tc.want)
		}
	}
}

// FuzzIDFinder builds messages around an id and filler, the id first or
// last, and checks that the finder, fed in pieces of any size, finds what
// parseID makes of the id.
func FuzzIDFinder(f *testing.F) {
	f.Add(`12`, `{"id":3}`, true, 7)
	f.Add(`"a\"b"`, `x"}{`, false, 1)
	f.Add(`-1`, strings.Repeat(`\`, 9), false, 1000)
	f.Add(`null`, `[`, true, 2)
	f.Fuzz(func(t *testing.T, rawID, filler string, idFirst bool, piece int) {
		if !json.Valid([]byte(rawID)) {
			return
		}
		fill, _ := json.Marshal(map[string]string{"id": filler})
		msg := `{"jsonrpc":"2.0","id":` + rawID + `,"params":` + string(fill) + `,"method":"m"}`
		if !idFirst {
			msg = `{"jsonrpc":"2.0","params":` + string(fill) + `,"method":"m","id":` + rawID + `}`
		}
		want, err := parseID(json.RawMessage(rawID))
		if err != nil || len(bytes.TrimSpace([]byte(rawID))) > maxIDValue {
			want = idNull
		}
		var fd idFinder
		piece = max(1, piece%4096)
		for b := []byte(msg); len(b) > 0; {
			n := min(piece, len(b))
			fd.Write(b[:n])
			b = b[n:]
		}
		if got := fd.id(); got != want {
			t.Errorf("%s: found %s, want %s", msg, got, want)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
