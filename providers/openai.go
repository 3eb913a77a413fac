package providers

import (
	"encoding/json"
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

// wireMessage is one message as both Chat Completions and Anthropic's
// Messages API take it.
type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
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

// encode puts the system prompt first, as a message of role system.
func (w openAIWire) encode(req *Request, model string) ([]byte, error) {
	msgs := make([]wireMessage, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, wireMessage{Role: "system", Content: req.System})
	}
	for _, m := range req.Messages {
		msgs = append(msgs, wireMessage(m))
	}
	body := openAIRequest{
		Model:       model,
		Messages:    msgs,
		Stream:      true,
		Temperature: req.Temperature,
		MaxTokens:   req.MaxTokens,
	}
	if w.streamOptions {
		body.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	return json.Marshal(body)
}

func (openAIWire) newDecoder() decoder { return new(openAIDecoder) }

// openAIDecoder decodes chat.completion.chunk events. It reads the usual
// chunk, one piece of text, with the fast path (fastpath.go); anything else
// with encoding/json, keeping its JSON decoder and one chunk to decode each
// event into, so that decoding allocates little more than the text.
type openAIDecoder struct {
	json  jsonDecoder
	chunk openAIChunk
}

type openAIChunk struct {
	Model   string         `json:"model"`
	Choices []openAIChoice `json:"choices"`
	Usage   *openAIUsage   `json:"usage"`
	Error   any            `json:"error"`
}

type openAIChoice struct {
	Delta struct {
		Content string `json:"content"`
	} `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

type openAIUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// openAIFields is what a chunk tells, read by either path.
type openAIFields struct {
	model   string // may be a part of the event's data
	usage   *openAIUsage
	choice  bool // the chunk has a choice; content and finish are the first one's
	content string
	finish  string
}

// decode reads one chunk. The stream ends at data: [DONE], but is whole
// from its finish_reason on: a server that closes the stream there (or
// before the usage chunk) still gave a complete reply.
func (d *openAIDecoder) decode(_, data string, p *progress) (string, error) {
	var f openAIFields
	if f.scan(data) {
		return f.apply(p)
	}
	return d.decodeJSON(data, p)
}

// decodeJSON reads one chunk with encoding/json.
func (d *openAIDecoder) decodeJSON(data string, p *progress) (string, error) {
	if data == "[DONE]" {
		p.complete, p.ended = true, true
		return "", nil
	}
	// json reuses slice elements without zeroing them, so the old choices
	// are cleared first: a delta without content must not repeat the last.
	choices := d.chunk.Choices[:cap(d.chunk.Choices)]
	clear(choices)
	d.chunk = openAIChunk{Choices: choices[:0]}
	c := &d.chunk
	if err := d.json.decode(data, c); err != nil {
		return "", err
	}
	if c.Error != nil {
		return "", eventError([]byte(data))
	}
	f := openAIFields{model: c.Model, usage: c.Usage}
	if len(c.Choices) > 0 {
		ch := &c.Choices[0]
		f.choice, f.content, f.finish = true, ch.Delta.Content, ch.FinishReason
	}
	return f.apply(p)
}

// apply records what the chunk tells in p and returns its text.
func (f *openAIFields) apply(p *progress) (string, error) {
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
		return "", nil
	}
	switch f.finish {
	case "":
	case "error":
		// Mistral's way to report a failure inside the stream.
		return f.content, &Error{Type: "finish_reason_error", Message: `the model stopped with finish_reason "error"`, Retryable: true}
	case "length", "model_length":
		p.StopReason, p.complete = StopMaxTokens, true
	default:
		p.StopReason, p.complete = StopEnd, true
	}
	return f.content, nil
}

// scan is the fast path for a chunk: it takes an object with at most one
// choice, and no usage and no error (or null ones).
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
	var delta, finish bool
	return j.object(func(k string) bool {
		var ok bool
		switch k {
		case "delta":
			return once(&delta) && f.scanDelta(j)
		case "finish_reason":
			f.finish, ok = j.nullableString(false)
			return once(&finish) && ok
		}
		return j.skipField(k, "delta", "finish_reason")
	}) && j.eat(']')
}

// scanDelta reads a choice's delta, or null.
func (f *openAIFields) scanDelta(j *jsonScan) bool {
	if j.null() {
		return true
	}
	var content bool
	return j.object(func(k string) bool {
		if k != "content" {
			return j.skipField(k, "content")
		}
		var ok bool
		f.content, ok = j.nullableString(true)
		return once(&content) && ok
	})
}
