package providers

import (
	"cmp"
	"encoding/json"
	"net/http"
)

// anthropicAPI is Anthropic's Messages API. As in Anthropic's own SDKs, its
// base URL does not include /v1. The models list is paged, 20 to a page by
// default: one page of the largest size holds them all.
var anthropicAPI = spec{
	name:       "anthropic",
	keyEnv:     "ANTHROPIC_API_KEY",
	baseEnv:    "ANTHROPIC_BASE_URL",
	baseURL:    "https://api.anthropic.com",
	model:      "claude-sonnet-4-5",
	chatPath:   "/v1/messages",
	modelsPath: "/v1/models?limit=1000",
	wire:       anthropicWire{},
}

// anthropicMaxTokens is sent when a request sets no limit: Anthropic
// requires one.
const anthropicMaxTokens = 4096

// anthropicWire is the Messages API wire format.
type anthropicWire struct{}

type anthropicRequest struct {
	Model       string        `json:"model"`
	MaxTokens   int           `json:"max_tokens"`
	System      string        `json:"system,omitempty"`
	Messages    []wireMessage `json:"messages"`
	Temperature *float64      `json:"temperature,omitempty"`
	Stream      bool          `json:"stream"`
}

func (anthropicWire) setHeaders(h http.Header, key string) {
	if key != "" {
		h.Set("x-api-key", key)
	}
	h.Set("anthropic-version", "2023-06-01")
}

// encode sends the system prompt as the top-level field Anthropic wants,
// never as a message.
func (anthropicWire) encode(req *Request, model string) ([]byte, error) {
	return json.Marshal(anthropicRequest{
		Model:       model,
		MaxTokens:   cmp.Or(req.MaxTokens, anthropicMaxTokens),
		System:      req.System,
		Messages:    alternate(req.Messages),
		Temperature: req.Temperature,
		Stream:      true,
	})
}

// alternate shapes a history as Anthropic takes it: roles alternate, the
// first is user, no text is empty. Consecutive messages of one role (left,
// say, by a reply that failed) are joined by a blank line; empty ones (a
// reply cancelled before its first word) are dropped; so is an assistant
// message that opens the history, a reply to nothing the model can see.
func alternate(msgs []Message) []wireMessage {
	out := make([]wireMessage, 0, len(msgs))
	for _, m := range msgs {
		switch {
		case m.Content == "":
		case len(out) == 0 && m.Role != RoleUser:
		case len(out) > 0 && out[len(out)-1].Role == m.Role:
			out[len(out)-1].Content += "\n\n" + m.Content
		default:
			out = append(out, wireMessage(m))
		}
	}
	return out
}

func (anthropicWire) newDecoder() decoder { return new(anthropicDecoder) }

// anthropicDecoder decodes Messages stream events. It keeps its JSON
// decoder and one event to decode each into, so that decoding a delta
// allocates little more than its text.
type anthropicDecoder struct {
	json jsonDecoder
	ev   anthropicEvent
}

type anthropicEvent struct {
	Type    string `json:"type"`
	Message struct {
		Model string         `json:"model"`
		Usage anthropicUsage `json:"usage"`
	} `json:"message"`
	Delta struct {
		Type       string `json:"type"`
		Text       string `json:"text"`
		StopReason string `json:"stop_reason"`
	} `json:"delta"`
	Usage anthropicUsage `json:"usage"`
}

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// input is the whole prompt: cached or not, every token of it was read.
func (u *anthropicUsage) input() int {
	return u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// decode reads one event. Only text deltas carry reply text: thinking and
// tool-input deltas, pings and event types added later are passed over.
func (d *anthropicDecoder) decode(typ, data string, p *progress) (string, error) {
	if typ == "ping" {
		return "", nil
	}
	d.ev = anthropicEvent{}
	ev := &d.ev
	if err := d.json.decode(data, ev); err != nil {
		return "", err
	}
	switch cmp.Or(typ, ev.Type) {
	case "message_start":
		p.Model = ev.Message.Model
		p.Usage.InputTokens = ev.Message.Usage.input()
		p.Usage.OutputTokens = ev.Message.Usage.OutputTokens
	case "content_block_delta":
		if ev.Delta.Type == "text_delta" {
			return ev.Delta.Text, nil
		}
	case "message_delta":
		switch ev.Delta.StopReason {
		case "max_tokens", "model_context_window_exceeded":
			p.StopReason = StopMaxTokens
		case "":
		default:
			p.StopReason = StopEnd
		}
		// The counts are cumulative: the last one is the total.
		if n := ev.Usage.input(); n > 0 {
			p.Usage.InputTokens = n
		}
		if n := ev.Usage.OutputTokens; n > 0 {
			p.Usage.OutputTokens = n
		}
	case "message_stop":
		p.complete, p.ended = true, true
	case "error":
		return "", eventError([]byte(data))
	}
	return "", nil
}
