package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"runtime/metrics"
	"testing"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
)

// Bounds of FuzzServe: the heap it may allocate for one input is
// serveBase, for the daemon's buffers and store, and serveByte for each
// byte of the input. The worst input measured, a thousand "{}" lines (each
// a message, decoded, refused, logged and answered), took 527 bytes a
// byte; 50 chat/sends 201, a request of 2,000 small numbers 33. So the
// bound catches what grows faster than the input, not a constant's creep.
const (
	serveBase = 2 << 20
	serveByte = 1 << 10
)

// FuzzServe feeds arbitrary bytes to the whole request path: framing,
// decoding, every method (with a store in memory and the offline echo
// provider) and the answers. The daemon must neither panic nor stop
// before the end of its input; everything it writes must be well-framed
// JSON-RPC (answers, arrays of them, notifications); and what it
// allocates must stay within a bound of the input's size.
func FuzzServe(f *testing.F) {
	f.Add([]byte(lsp(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)), false)
	f.Add([]byte("Content-Length: 10\r\n\r\n{\"a\":"), false)
	f.Add([]byte("Content-Length: 99999999999\r\n\r\n"), false)
	f.Add([]byte("\r\n\r\nContent-Length:\r\n\r\n[1,2]"), false)
	f.Add([]byte(`{"jsonrpc":"2.0","method":"chat/cancel","params":{"sessionId":"x"}}`+"\n{\n"), true)
	f.Add([]byte("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}]\n\x00\xff\n"), true)
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"hi there"}}`+"\n"+
		`{"jsonrpc":"2.0","id":2,"method":"session/list","params":{}}`+"\n"+
		`[{"jsonrpc":"2.0","id":3,"method":"session/export","params":{"format":"json"}},{"jsonrpc":"2.0","id":null,"method":"providers/list"}]`+"\n"), true)
	f.Add([]byte(`{"jsonrpc":"2.0","id":"n","method":"session/new","params":{"title":"a\u0000b"}}`+"\n"+
		`{"jsonrpc":"2.0","id":-5,"method":"chat/send","params":{"message":"x","context":[1,2,3]}}`+"\n"+
		`{"jsonrpc":"2.0","id":-5,"method":"$/cancelRequest","params":{"id":-5}}`+"\n"+
		`{"jsonrpc":"2.0","id":9,"result":null}`+"\n"), true)
	reg := providers.NewRegistry(providers.Options{Getenv: func(string) string { return "" }})
	f.Fuzz(func(t *testing.T, input []byte, jsonl bool) {
		store, err := session.Open(session.Memory)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var out bytes.Buffer
		before := allocated()
		Serve(context.Background(), bytes.NewReader(input), &out, Options{JSONL: jsonl, MaxMessageSize: 4096, Store: store,
			Providers: reg, Workspace: "/fuzz", Logger: slog.New(slog.DiscardHandler)})
		if grew, bound := allocated()-before, serveBase+serveByte*uint64(len(input)); grew > bound {
			t.Errorf("%d bytes of input allocated %d bytes, more than %d", len(input), grew, bound)
		}
		// Every message written must be readable by a client of the same
		// framing, and be JSON-RPC.
		written := newStream(&out, io.Discard, jsonl, 1<<20)
		for {
			body, err := written.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("bad framing of the output: %v in %q", err, out.String())
			}
			var one map[string]json.RawMessage
			var many []map[string]json.RawMessage
			switch {
			case json.Unmarshal(body, &one) == nil:
				many = append(many, one)
			case json.Unmarshal(body, &many) == nil && len(many) > 0:
			default:
				t.Fatalf("the daemon wrote %q", body)
			}
			for _, m := range many {
				_, isAnswer := m["id"]
				_, isNote := m["method"]
				if string(m["jsonrpc"]) != `"2.0"` || isAnswer == isNote || isAnswer && (m["result"] == nil) == (m["error"] == nil) {
					t.Fatalf("not a JSON-RPC answer or notification: %s", body)
				}
			}
		}
	})
}

// allocated returns the bytes allocated on the heap so far.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
