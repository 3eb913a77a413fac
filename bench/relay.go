package main

// relay1 is the baseline for the slow-consumer scenario: the least a relay
// that sends one frame per delta can cost. It speaks just enough of the
// daemon's protocol (initialize, chat/send with the OpenAI provider,
// shutdown, exit), reads the mock's stream with net/http and a line scan
// (no JSON decoding), and writes every delta as its own chat/delta frame,
// shaped as the daemon's, in one write(2). Against a consumer that spends
// 20 µs per frame it is consumer-bound, which is what the daemon's
// coalescing is measured against.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func relayMain(args []string) error {
	fs := flag.NewFlagSet("bench relay1", flag.ContinueOnError)
	base := fs.String("base", "", "the mock's base URL, with /v1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e := &editor{r: bufio.NewReaderSize(os.Stdin, 64<<10)}
	out := os.Stdout
	var frame []byte
	write := func(body []byte) error {
		frame = append(frame[:0], "Content-Length: "...)
		frame = strconv.AppendInt(frame, int64(len(body)), 10)
		frame = append(frame, "\r\n\r\n"...)
		frame = append(frame, body...)
		_, err := out.Write(frame)
		return err
	}
	respond := func(id json.RawMessage, result any) error {
		b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
		if err != nil {
			return err
		}
		return write(b)
	}
	for {
		body, err := e.readFrame()
		if err != nil {
			return nil // end of input
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Message string `json:"message"`
			} `json:"params"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return err
		}
		switch req.Method {
		case "initialize":
			err = respond(req.ID, map[string]any{"serverInfo": map[string]string{"name": "relay1"}})
		case "shutdown":
			err = respond(req.ID, nil)
		case "exit":
			return nil
		case "chat/send":
			var text string
			if text, err = relayStream(*base, req.ID, req.Params.Message, write); err == nil {
				err = respond(req.ID, map[string]string{"sessionId": "relay1", "messageId": "relay1", "text": text, "stopReason": "end"})
			}
		}
		if err != nil {
			return err
		}
	}
}

// relayStream posts message to the mock and writes one frame per delta.
func relayStream(base string, id json.RawMessage, message string, write func([]byte) error) (string, error) {
	body, _ := json.Marshal(map[string]any{"model": "mock", "stream": true, "messages": []map[string]string{{"role": "user", "content": message}}})
	resp, err := http.Post(base+"/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return "", fmt.Errorf("mock: %s: %s", resp.Status, b)
	}
	prefix := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"chat/delta","params":{"requestId":%s,"sessionId":"relay1","messageId":"relay1","seq":`, id)
	key := []byte(`"delta":{"content":"`)
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var all strings.Builder
	var frame []byte
	seq := 0
	for {
		line, err := r.ReadSlice('\n')
		if i := bytes.Index(line, key); i >= 0 {
			t := line[i+len(key):]
			if j := bytes.IndexByte(t, '"'); j > 0 {
				t = t[:j]
				all.Write(t)
				frame = append(frame[:0], prefix...)
				frame = strconv.AppendInt(frame, int64(seq), 10)
				frame = append(frame, `,"text":"`...)
				frame = append(frame, t...) // the mock's text needs no escaping
				frame = append(frame, `"}}`...)
				seq++
				if werr := write(frame); werr != nil {
					return "", werr
				}
			}
		}
		if err != nil {
			if err == io.EOF {
				return all.String(), nil
			}
			return "", err
		}
	}
}
