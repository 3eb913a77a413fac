// Package providertest runs a local OpenAI-compatible chat server for tests
// of the daemon and its editor clients, the way net/http/httptest runs
// HTTP servers: real HTTP on 127.0.0.1, the real wire format, nothing
// reaching the internet.
package providertest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server speaks three wire formats: OpenAI Chat Completions at BaseURL,
// Mistral's flavour of it at MistralBaseURL, and Anthropic Messages at
// AnthropicBaseURL. A reply is chosen by the last user message:
//
//   - "error <status> <message>": an HTTP error with the provider's error body,
//     where $KEY in the message stands for the API key the request carried;
//   - "slow <n>": n deltas "w0 ", "w1 ", ... paced by SetPace (default 50ms);
//   - "stall": one delta, then nothing until the client goes away;
//   - "think <n>": n reasoning deltas "t0 ", "t1 ", ... then n answer
//     deltas "w0 ", "w1 ", ..., paced by SetPace (reasoning_content on the
//     OpenAI wire, thinking_delta and signature_delta on Anthropic's);
//   - "refuse": a refusal, as each wire sends one (OpenAI delta.refusal,
//     Anthropic stop_reason "refusal");
//   - "filter": one delta, then finish_reason "content_filter" (Anthropic:
//     stop_reason "refusal", which it has instead);
//   - "tool ARGS": "Reading. " and a call of the tool "read_file" with the
//     arguments ARGS (a JSON object), in fragments, then finish_reason
//     "tool_calls" (Anthropic: a tool_use block, stop_reason "tool_use");
//     once the request ends with the call's result, "The tool said: "
//     and the result;
//   - "endless": deltas of EndlessDelta as fast as the client reads them,
//     never ending, until the client goes away;
//   - anything else: the message echoed back word by word.
//
// Streams end as each provider ends them: OpenAI with a finish_reason
// chunk, a usage chunk with empty choices and data: [DONE]; Mistral with
// usage on the finish_reason chunk and [DONE]; Anthropic with
// message_delta (cumulative usage) and message_stop.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	pace     time.Duration
	requests []Request
	closed   chan struct{} // one value per stream whose client went away
}

// Request is what the server received for one chat request.
type Request struct {
	Model    string    `json:"model"`
	System   string    `json:"system"`
	Messages []Message `json:"messages"`
	Auth     string    `json:"-"` // Authorization or x-api-key
}

// Message is a message of a request. Its content is a string, or
// (Anthropic) an array of blocks, whose text blocks make Content.
type Message struct {
	Role    string
	Content string
	// Blocks are the content's blocks, as sent, when it has any: a reply's
	// thinking goes back to Anthropic that way.
	Blocks []map[string]any
}

func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Role = raw.Role
	if json.Unmarshal(raw.Content, &m.Content) == nil {
		return nil
	}
	if err := json.Unmarshal(raw.Content, &m.Blocks); err != nil {
		return err
	}
	for _, b := range m.Blocks {
		if t, ok := b["text"].(string); ok && b["type"] == "text" {
			m.Content += t
		}
	}
	return nil
}

// EndlessDelta is each delta of an "endless" reply.
const EndlessDelta = "endless reply, never a stop. "

// NewServer starts a Server; Close it when done.
func NewServer() *Server {
	s := &Server{pace: 50 * time.Millisecond, closed: make(chan struct{}, 64)}
	models := func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"test-model","object":"model"},{"id":"test-model-large","object":"model"}]}`)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.chat(w, r, openai) })
	mux.HandleFunc("POST /mistral/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.chat(w, r, mistral) })
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) { s.chat(w, r, anthropic) })
	mux.HandleFunc("GET /v1/models", models)
	mux.HandleFunc("GET /mistral/v1/models", models)
	s.Server = httptest.NewServer(mux)
	return s
}

// SetPace sets the time between the deltas of "slow", "think" and "stall"
// replies. The server is already serving, so the pace is set under its
// lock.
func (s *Server) SetPace(d time.Duration) {
	s.mu.Lock()
	s.pace = d
	s.mu.Unlock()
}

// BaseURL is the value for OPENAI_BASE_URL.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// MistralBaseURL is the value for MISTRAL_BASE_URL.
func (s *Server) MistralBaseURL() string { return s.URL + "/mistral" }

// AnthropicBaseURL is the value for ANTHROPIC_BASE_URL.
func (s *Server) AnthropicBaseURL() string { return s.URL }

// Requests returns the chat requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Disconnected receives a value each time a client goes away before its
// stream ended, at the moment the server sees it.
func (s *Server) Disconnected() <-chan struct{} { return s.closed }

type flavor int

const (
	openai flavor = iota
	mistral
	anthropic
)

func (s *Server) chat(w http.ResponseWriter, r *http.Request, f flavor) {
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		writeError(w, f, http.StatusBadRequest, "invalid_request_error", "bad request body")
		return
	}
	req.Auth = r.Header.Get("Authorization")
	if f == anthropic {
		req.Auth = r.Header.Get("x-api-key")
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	pace := s.pace
	s.mu.Unlock()

	final := req.Messages[len(req.Messages)-1]
	last := final.Content
	// A tool's result comes in a message of its own (OpenAI) or as a block
	// of the user's (Anthropic): the tool loop is at its second step.
	result, isResult := "", final.Role == "tool"
	if isResult {
		result = final.Content
	}
	for _, b := range final.Blocks {
		if b["type"] == "tool_result" {
			result, isResult = fmt.Sprint(b["content"]), true
		}
	}
	if isResult {
		last = "The tool said: " + result
	}
	fields := strings.Fields(last)
	var toolArgs string // the arguments of the tool call to make, if any
	var deltas []string
	var thinking []string // reasoning deltas, sent before the answer
	switch {
	case len(fields) >= 2 && fields[0] == "error":
		status, _ := strconv.Atoi(fields[1])
		// Some providers quote the key they were given in their errors.
		key := strings.TrimPrefix(req.Auth, "Bearer ")
		writeError(w, f, status, "test_error", strings.ReplaceAll(strings.Join(fields[2:], " "), "$KEY", key))
		return
	case len(fields) == 2 && fields[0] == "slow":
		n, _ := strconv.Atoi(fields[1])
		for i := range n {
			deltas = append(deltas, fmt.Sprintf("w%d ", i))
		}
	case len(fields) == 2 && fields[0] == "think":
		n, _ := strconv.Atoi(fields[1])
		for i := range n {
			thinking = append(thinking, fmt.Sprintf("t%d ", i))
			deltas = append(deltas, fmt.Sprintf("w%d ", i))
		}
	case last == "refuse":
		pace = 0
		deltas = []string{"I'm sorry, ", "I can't help with that."}
	case last == "filter":
		pace = 0
		deltas = []string{"Partial "}
	case len(fields) >= 1 && fields[0] == "tool":
		pace = 0
		toolArgs = cmp.Or(strings.TrimSpace(strings.TrimPrefix(last, "tool")), "{}")
		deltas = []string{"Reading. "}
	case last == "stall":
		deltas = []string{"stalling "}
	case last == "endless":
		pace = 0
	default:
		pace = 0
		deltas = splitWords(last)
	}

	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	send := func(event string, data any) bool {
		b, _ := json.Marshal(data)
		frame := "data: " + string(b) + "\n\n"
		if event != "" {
			frame = "event: " + event + "\n" + frame
		}
		if _, err := io.WriteString(w, frame); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	in, out := len(req.Messages)*10, len(deltas)
	usage := map[string]int{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
	chunk := func(delta map[string]any, finish any, usage any) map[string]any {
		return map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}, "usage": usage}
	}

	// wait paces the stream; it reports false once the client is gone.
	wait := func(ok bool) bool {
		if !ok {
			s.gone()
			return false
		}
		if pace == 0 {
			if r.Context().Err() != nil {
				s.gone()
				return false
			}
			return true
		}
		select {
		case <-r.Context().Done():
			s.gone()
			return false
		case <-time.After(pace):
			return true
		}
	}
	stop := "stop"
	if last == "filter" {
		stop = "content_filter"
	}
	if f == anthropic {
		send("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_test", "type": "message", "role": "assistant",
			"model": req.Model, "content": []any{}, "stop_reason": nil, "usage": map[string]int{"input_tokens": in, "output_tokens": 1}}})
		block := 0
		if len(thinking) > 0 {
			send("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
			for _, t := range thinking {
				if !wait(send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "thinking_delta", "thinking": t}})) {
					return
				}
			}
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "signature_delta", "signature": "c2lnbmF0dXJl"}})
			send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
			block = 1
		}
		send("content_block_start", map[string]any{"type": "content_block_start", "index": block, "content_block": map[string]any{"type": "text", "text": ""}})
		send("ping", map[string]any{"type": "ping"})
		for _, d := range deltas {
			if !wait(send("content_block_delta", map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]any{"type": "text_delta", "text": d}})) {
				return
			}
		}
		for last == "endless" {
			if !wait(send("content_block_delta", map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]any{"type": "text_delta", "text": EndlessDelta}})) {
				return
			}
		}
		if last == "stall" {
			<-r.Context().Done()
			s.gone()
			return
		}
		reason := "end_turn"
		if last == "refuse" || last == "filter" {
			reason = "refusal"
		}
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": block})
		if toolArgs != "" {
			half := len(toolArgs) / 2
			send("content_block_start", map[string]any{"type": "content_block_start", "index": block + 1,
				"content_block": map[string]any{"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": map[string]any{}}})
			for _, part := range []string{toolArgs[:half], toolArgs[half:]} {
				send("content_block_delta", map[string]any{"type": "content_block_delta", "index": block + 1, "delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
			}
			send("content_block_stop", map[string]any{"type": "content_block_stop", "index": block + 1})
			reason = "tool_use"
		}
		send("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": reason, "stop_sequence": nil}, "usage": map[string]int{"output_tokens": out}})
		send("message_stop", map[string]any{"type": "message_stop"})
		return
	}
	send("", chunk(map[string]any{"role": "assistant", "content": ""}, nil, nil))
	for _, t := range thinking {
		if !wait(send("", chunk(map[string]any{"content": nil, "reasoning_content": t}, nil, nil))) {
			return
		}
	}
	for _, d := range deltas {
		delta := map[string]any{"content": d}
		if last == "refuse" {
			delta = map[string]any{"content": nil, "refusal": d}
		}
		if !wait(send("", chunk(delta, nil, nil))) {
			return
		}
	}
	for last == "endless" {
		if !wait(send("", chunk(map[string]any{"content": EndlessDelta}, nil, nil))) {
			return
		}
	}
	if last == "stall" {
		<-r.Context().Done()
		s.gone()
		return
	}
	if toolArgs != "" {
		// The arguments in two fragments, as models stream them.
		half := len(toolArgs) / 2
		send("", chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_1", "type": "function",
			"function": map[string]any{"name": "read_file", "arguments": toolArgs[:half]}}}}, nil, nil))
		send("", chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": toolArgs[half:]}}}}, nil, nil))
		stop = "tool_calls"
	}
	switch f {
	case mistral:
		send("", chunk(map[string]any{"content": ""}, stop, usage))
	case openai:
		send("", chunk(map[string]any{}, stop, nil))
		send("", map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": req.Model, "choices": []any{}, "usage": usage})
	}
	io.WriteString(w, "data: [DONE]\n\n")
	flusher.Flush()
}

func (s *Server) gone() {
	select {
	case s.closed <- struct{}{}:
	default:
	}
}

func writeError(w http.ResponseWriter, f flavor, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": nil}}
	if f == anthropic {
		body = map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
	}
	b, _ := json.Marshal(body)
	w.Write(b)
}

// splitWords splits s after each space, so the pieces join back to s.
func splitWords(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
