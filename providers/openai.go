package providers

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// openAIAPI is OpenAI's Chat Completions API. As in OpenAI's own SDKs, its
// base URL includes /v1, so that any OpenAI-compatible server (Ollama,
// vLLM, llama.cpp, LM Studio) can stand in for it.
var openAIAPI = spec{
	name:       "openai",
	keyEnv:     "OPENAI_API_KEY",
	baseEnv:    "OPENAI_BASE_URL",
	baseURL:    "https://api.openai.com/v1",
	model:      "gpt-4.1-mini",
	chatPath:   "/chat/completions",
	modelsPath: "/models",
	wire:       openAIWire{streamOptions: true},
}

// wireMessage is one message as Chat Completions takes it.
type wireMessage struct {
	Role       string         `json:"role"`
	Content    string         `json:"content"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type wireToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// wireTool is a tool offered in Chat Completions' "tools".
type wireTool struct {
	Type     string `json:"type"` // "function"
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// openAIWire is the Chat Completions wire format, which OpenAI, Mistral and
// OpenAI-compatible servers share.
type openAIWire struct {
	// streamOptions asks for a last chunk with the usage: without it OpenAI
	// sends none.
	streamOptions bool
}

type openAIRequest struct {
	Model         string         `json:"model"`
	Messages      []wireMessage  `json:"messages"`
	Tools         []wireTool     `json:"tools,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// setHeaders sends no Authorization to a server that takes no key, such
// as a local Ollama.
func (openAIWire) setHeaders(h http.Header, key string) {
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
}

// encode puts the system prompt first, as a message of role system. It
// sends no reasoning back: DeepSeek rejects reasoning_content in the
// history of a plain conversation, and the others ignore it.
func (w openAIWire) encode(req *Request, model string) ([]byte, error) {
	msgs := make([]wireMessage, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, wireMessage{Role: "system", Content: req.System})
	}
	for _, m := range req.Messages {
		if m.Role == RoleTool {
			// Each result is a message of its own.
			for _, r := range m.Results {
				msgs = append(msgs, wireMessage{Role: RoleTool, Content: r.Content, ToolCallID: r.CallID})
			}
			continue
		}
		wm := wireMessage{Role: m.Role, Content: m.Content}
		for _, c := range m.ToolCalls {
			wm.ToolCalls = append(wm.ToolCalls, wireToolCall{ID: c.ID, Type: "function", Function: wireFunction{Name: c.Name, Arguments: cmp.Or(c.Arguments, "{}")}})
		}
		msgs = append(msgs, wm)
	}
	tools := make([]wireTool, len(req.Tools))
	for i, t := range req.Tools {
		tools[i].Type = "function"
		tools[i].Function.Name, tools[i].Function.Description, tools[i].Function.Parameters = t.Name, t.Description, schema(t.Parameters)
	}
	body := openAIRequest{
		Model:       model,
		Messages:    msgs,
		Tools:       tools,
		Stream:      true,
		Temperature: req.Temperature,
		MaxTokens:   req.MaxTokens,
	}
	if w.streamOptions {
		body.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	return json.Marshal(body)
}

// schema is a tool's parameters, or the schema of no arguments: every API
// wants an object schema.
func schema(params json.RawMessage) json.RawMessage {
	if len(params) == 0 {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return params
}

func (openAIWire) newDecoder() decoder { return new(openAIDecoder) }

// openAIDecoder decodes chat.completion.chunk events. It reads the usual
// chunk, one piece of text or reasoning, with the fast path (fastpath.go);
// anything else with encoding/json, keeping its JSON decoder and one chunk
// to decode each event into, so that decoding allocates little more than
// the text.
type openAIDecoder struct {
	json  jsonDecoder
	chunk openAIChunk
	calls []int // the index of each tool call of the reply, in order
}

type openAIChunk struct {
	Model   string         `json:"model"`
	Choices []openAIChoice `json:"choices"`
	Usage   *openAIUsage   `json:"usage"`
	Error   any            `json:"error"`
}

type openAIChoice struct {
	Index int `json:"index"`
	Delta struct {
		// Content is a string, or (Mistral's reasoning models) an array
		// of text and thinking chunks.
		Content json.RawMessage `json:"content"`
		// Reasoning: DeepSeek and older vLLM send reasoning_content;
		// OpenRouter, Groq, Ollama and newer vLLM reasoning.
		ReasoningContent string           `json:"reasoning_content"`
		Reasoning        string           `json:"reasoning"`
		Refusal          string           `json:"refusal"`
		ToolCalls        []openAIToolCall `json:"tool_calls"`
	} `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

type openAIToolCall struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// openAIContentChunk is one element of a content array: {"type": "text",
// "text"} or {"type": "thinking", "thinking": [{"type": "text", "text"}]}.
type openAIContentChunk struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Thinking []struct {
		Text string `json:"text"`
	} `json:"thinking"`
}

type openAIUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// openAIFields is what a chunk tells, read by either path.
type openAIFields struct {
	model            string // may be a part of the event's data
	usage            *openAIUsage
	choice           bool // the chunk has choice 0; the fields below are its
	content          string
	reasoningContent string
	reasoning        string
	refusal          string
	finish           string
}

// decode reads one chunk. The stream ends at data: [DONE], but is whole
// from its finish_reason on: a server that closes the stream there (or
// before the usage chunk) still gave a complete reply. Only choice 0 is
// read: a request for several (n > 1) streams them interleaved.
func (d *openAIDecoder) decode(_, data string, p *progress) error {
	var f openAIFields
	if f.scan(data) {
		return f.apply(p)
	}
	return d.decodeJSON(data, p)
}

// decodeJSON reads one chunk with encoding/json.
func (d *openAIDecoder) decodeJSON(data string, p *progress) error {
	if data == "[DONE]" {
		p.complete, p.ended = true, true
		return nil
	}
	// json reuses slice elements without zeroing them, so the old choices
	// are cleared first: a delta without content must not repeat the last.
	choices := d.chunk.Choices[:cap(d.chunk.Choices)]
	clear(choices)
	d.chunk = openAIChunk{Choices: choices[:0]}
	c := &d.chunk
	if err := d.json.decode(data, c); err != nil {
		return err
	}
	if c.Error != nil {
		return eventError([]byte(data))
	}
	f := openAIFields{model: c.Model, usage: c.Usage}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		f.choice, f.finish, f.refusal = true, ch.FinishReason, ch.Delta.Refusal
		f.reasoningContent, f.reasoning = ch.Delta.ReasoningContent, ch.Delta.Reasoning
		if err := f.contentJSON(ch.Delta.Content, p); err != nil {
			return err
		}
		for _, tc := range ch.Delta.ToolCalls {
			p.addCall(d.call(tc.Index), tc.ID, tc.Function.Name, tc.Function.Arguments)
		}
		break
	}
	return f.apply(p)
}

// call returns which call of the reply the tool call of index is: servers
// number them from 0, or from 1, or by the choice's content blocks.
func (d *openAIDecoder) call(index int) int {
	for n, i := range d.calls {
		if i == index {
			return n
		}
	}
	d.calls = append(d.calls, index)
	return len(d.calls) - 1
}

// contentJSON reads a delta's content: a string, null, or an array of
// chunks, whose thinking it adds to p as reasoning at once, keeping the
// order of the chunks.
func (f *openAIFields) contentJSON(raw json.RawMessage, p *progress) error {
	if len(raw) == 0 || raw[0] != '[' {
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil && len(raw) > 0 {
			return fmt.Errorf("content: %w", err)
		}
		if s != nil {
			f.content = *s
		}
		return nil
	}
	var chunks []openAIContentChunk
	if err := json.Unmarshal(raw, &chunks); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	for _, c := range chunks {
		switch c.Type {
		case "text":
			p.add(EventText, c.Text)
		case "thinking":
			for _, t := range c.Thinking {
				p.add(EventReasoning, t.Text)
			}
		}
	}
	return nil
}

// apply records what the chunk tells in p and adds its events.
func (f *openAIFields) apply(p *progress) error {
	// Every chunk names the model: it is copied only when it changes, so
	// that p does not keep the event's data.
	if f.model != "" && f.model != p.Model {
		p.Model = strings.Clone(f.model)
	}
	// OpenAI sends usage in a chunk of its own, Mistral with finish_reason.
	if f.usage != nil {
		p.Usage = Usage{InputTokens: f.usage.PromptTokens, OutputTokens: f.usage.CompletionTokens}
	}
	// The usage chunk has no choices.
	if !f.choice {
		return nil
	}
	// A server in between names sends both, with the same text.
	p.add(EventReasoning, cmp.Or(f.reasoningContent, f.reasoning))
	p.add(EventText, f.content)
	if f.refusal != "" {
		p.refused = true
		p.add(EventRefusal, f.refusal)
	}
	switch f.finish {
	case "":
	case "error":
		// Mistral's way to report a failure inside the stream.
		return &Error{Type: "finish_reason_error", Message: `the model stopped with finish_reason "error"`, Retryable: true}
	case "length", "model_length":
		p.stop(StopMaxTokens)
	case "content_filter":
		p.stop(StopContentFilter)
	case "tool_calls", "function_call":
		p.stop(StopToolCalls)
	default:
		p.stop(StopEnd)
	}
	return nil
}

// scan is the fast path for a chunk: it takes an object with at most one
// choice, of index 0, whose delta has at most text, reasoning and refusal
// strings, and no usage and no error (or null ones).
func (f *openAIFields) scan(data string) bool {
	j := jsonScan{s: data}
	var model, choices bool
	return j.object(func(k string) bool {
		var ok bool
		switch k {
		case "model":
			f.model, ok = j.nullableString(false)
			return once(&model) && ok
		case "choices":
			return once(&choices) && f.scanChoices(&j)
		case "usage", "error":
			// A usage is rare: it is left to encoding/json.
			return j.null()
		}
		return j.skipField(k, "model", "choices", "usage", "error")
	}) && j.end()
}

// scanChoices reads an array of no more than one choice.
func (f *openAIFields) scanChoices(j *jsonScan) bool {
	if !j.eat('[') {
		return false
	}
	if j.next() == ']' {
		j.i++
		return true
	}
	f.choice = true
	var index, delta, finish bool
	return j.object(func(k string) bool {
		var ok bool
		switch k {
		case "index":
			// Choice 0 only: any other is left to encoding/json.
			return once(&index) && j.zero()
		case "delta":
			return once(&delta) && f.scanDelta(j)
		case "finish_reason":
			f.finish, ok = j.nullableString(false)
			return once(&finish) && ok
		}
		return j.skipField(k, "index", "delta", "finish_reason")
	}) && j.eat(']')
}

// scanDelta reads a choice's delta, or null.
func (f *openAIFields) scanDelta(j *jsonScan) bool {
	if j.null() {
		return true
	}
	var content, reasoningContent, reasoning, refusal bool
	return j.object(func(k string) bool {
		var ok bool
		switch k {
		case "content":
			f.content, ok = j.nullableString(true)
			return once(&content) && ok
		case "reasoning_content":
			f.reasoningContent, ok = j.nullableString(true)
			return once(&reasoningContent) && ok
		case "reasoning":
			f.reasoning, ok = j.nullableString(true)
			return once(&reasoning) && ok
		case "refusal":
			f.refusal, ok = j.nullableString(true)
			return once(&refusal) && ok
		case "tool_calls":
			// Tool calls are rare: they are left to encoding/json.
			return j.null()
		}
		return j.skipField(k, "content", "reasoning_content", "reasoning", "refusal", "tool_calls")
	})
}
