package providers

import (
	"encoding/json"
	"net/http"
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

// openAIDecoder decodes chat.completion.chunk events. It keeps its JSON
// decoder and one chunk to decode each event into, so that decoding a delta
// allocates little more than its text.
type openAIDecoder struct {
	json  jsonDecoder
	chunk openAIChunk
}

type openAIChunk struct {
	Model   string         `json:"model"`
	Choices []openAIChoice `json:"choices"`
	Usage   *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error any `json:"error"`
}

type openAIChoice struct {
	Delta struct {
		Content string `json:"content"`
	} `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

// decode reads one chunk. The stream ends at data: [DONE], but is whole
// from its finish_reason on: a server that closes the stream there (or
// before the usage chunk) still gave a complete reply.
func (d *openAIDecoder) decode(_, data string, p *progress) (string, error) {
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
	if c.Model != "" {
		p.Model = c.Model
	}
	// OpenAI sends usage in a chunk of its own, Mistral with finish_reason.
	if c.Usage != nil {
		p.Usage = Usage{InputTokens: c.Usage.PromptTokens, OutputTokens: c.Usage.CompletionTokens}
	}
	// The usage chunk has no choices.
	if len(c.Choices) == 0 {
		return "", nil
	}
	ch := &c.Choices[0]
	switch ch.FinishReason {
	case "":
	case "error":
		// Mistral's way to report a failure inside the stream.
		return ch.Delta.Content, &Error{Type: "finish_reason_error", Message: `the model stopped with finish_reason "error"`, Retryable: true}
	case "length", "model_length":
		p.StopReason, p.complete = StopMaxTokens, true
	default:
		p.StopReason, p.complete = StopEnd, true
	}
	return ch.Delta.Content, nil
}
