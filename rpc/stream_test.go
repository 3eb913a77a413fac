package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/sourcegraph/jsonrpc2"
)

// readAll reads every object from input and returns the requests'
// methods and the error responses written back.
func readAll(t testing.TB, input string, jsonl bool, limit int) (methods []string, replies []string) {
	var out bytes.Buffer
	s := newStream(strings.NewReader(input), &out, nil, jsonl, limit, slog.New(slog.DiscardHandler))
	for {
		var req jsonrpc2.Request
		err := s.ReadObject(&req)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			t.Fatalf("ReadObject: %v", err)
		}
		methods = append(methods, req.Method)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "{") || strings.HasPrefix(l, "Content-Length") {
			replies = append(replies, l)
		}
	}
	return methods, replies
}

func TestStreamRecoversFromBadFrames(t *testing.T) {
	good := func(m string) string { return `{"jsonrpc":"2.0","id":1,"method":"` + m + `"}` }
	for _, tc := range []struct {
		name    string
		jsonl   bool
		input   string
		methods string
		errors  int
	}{
		{"lsp good", false, lsp(good("a")) + lsp(good("b")), "a,b", 0},
		{"lsp lowercase header and extra headers", false, "content-length: " + itoa(len(good("a"))) + "\r\nContent-Type: application/json\r\n\r\n" + good("a"), "a", 0},
		{"lsp bare LF line endings", false, "Content-Length: " + itoa(len(good("a"))) + "\n\n" + good("a"), "a", 0},
		{"lsp not json then good", false, lsp("nope") + lsp(good("b")), "b", 1},
		{"lsp missing length then good", false, "X-Foo: 1\r\n\r\n" + lsp(good("b")), "b", 1},
		{"lsp negative length", false, "Content-Length: -5\r\n\r\n" + lsp(good("b")), "b", 1},
		{"lsp too large is skipped unread", false, lsp(`{"jsonrpc":"2.0","id":1,"method":"`+strings.Repeat("x", 200)+`"}`) + lsp(good("b")), "b", 1},
		{"jsonl good", true, good("a") + "\n" + good("b") + "\n", "a,b", 0},
		{"jsonl blank lines and CRLF", true, "\n\r\n" + good("a") + "\r\n", "a", 0},
		{"jsonl garbage then good", true, "{{{\n" + good("b") + "\n", "b", 1},
		{"jsonl last line without newline", true, good("a"), "a", 0},
		{"jsonl id kept in invalid request", true, `{"jsonrpc":"2.0","id":"x7","method":5}` + "\n", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			methods, replies := readAll(t, tc.input, tc.jsonl, 100)
			if got := strings.Join(methods, ","); got != tc.methods {
				t.Errorf("methods %q, want %q", got, tc.methods)
			}
			var errs int
			for _, r := range replies {
				if strings.Contains(r, `"error"`) {
					errs++
				}
			}
			if errs != tc.errors {
				t.Errorf("%d error replies, want %d: %q", errs, tc.errors, replies)
			}
		})
	}
}

func TestStreamAnswersInvalidRequestWithItsID(t *testing.T) {
	_, replies := readAll(t, `{"jsonrpc":"2.0","id":"x7","method":5}`+"\n", true, 0)
	var resp struct {
		ID    string
		Error struct{ Code int }
	}
	if len(replies) != 1 || json.Unmarshal([]byte(replies[0]), &resp) != nil || resp.ID != "x7" || resp.Error.Code != -32600 {
		t.Errorf("replies %q", replies)
	}
}

// FuzzStream feeds arbitrary bytes to both framings: the reader must
// neither panic nor stop before the end of its input, and everything it
// writes back must be well-framed JSON.
func FuzzStream(f *testing.F) {
	f.Add([]byte(lsp(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)), false)
	f.Add([]byte("Content-Length: 10\r\n\r\n{\"a\":"), false)
	f.Add([]byte("Content-Length: 99999999999\r\n\r\n"), false)
	f.Add([]byte("\r\n\r\nContent-Length:\r\n\r\n[1,2]"), false)
	f.Add([]byte(`{"jsonrpc":"2.0","method":"chat/cancel","params":{"sessionId":"x"}}`+"\n{\n"), true)
	f.Add([]byte("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}]\n\x00\xff\n"), true)
	f.Fuzz(func(t *testing.T, input []byte, jsonl bool) {
		var out bytes.Buffer
		s := newStream(bytes.NewReader(input), &out, nil, jsonl, 1024, slog.New(slog.DiscardHandler))
		for range len(input) + 1 {
			var req jsonrpc2.Request
			if err := s.ReadObject(&req); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadObject stopped with %v", err)
				}
				break
			}
		}
		// Every answer must be readable by a client of the same framing.
		replies := newStream(&out, io.Discard, nil, jsonl, 1<<20, slog.New(slog.DiscardHandler))
		for {
			var resp jsonrpc2.Response
			err := replies.ReadObject(&resp)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("bad reply framing: %v in %q", err, out.String())
				}
				break
			}
			if resp.Error == nil {
				t.Fatalf("reply without an error: %+v", resp)
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
