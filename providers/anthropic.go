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

// anthropicDecoder decodes Messages stream events. It reads the usual
// event, a content_block_delta, with the fast path (fastpath.go); anything
// else with encoding/json, keeping its JSON decoder and one event to decode
// each into, so that decoding allocates little more than the text.
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
	if text, ok := scanAnthropicDelta(typ, data); ok {
		return text, nil
	}
	return d.decodeJSON(typ, data, p)
}

// decodeJSON reads one event with encoding/json.
func (d *anthropicDecoder) decodeJSON(typ, data string, p *progress) (string, error) {
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

// scanAnthropicDelta is the fast path for a content_block_delta event: it
// returns the text of a text delta, "" for another kind of delta. It takes
// an object with no message and no usage.
func scanAnthropicDelta(typ, data string) (text string, ok bool) {
	if typ != "" && typ != "content_block_delta" {
		return "", false
	}
	j := jsonScan{s: data}
	var evType, deltaType string
	var seenType, seenDelta bool
	ok = j.object(func(k string) bool {
		var ok bool
		switch k {
		case "type":
			evType, ok = j.nullableString(false)
			return once(&seenType) && ok
		case "delta":
			return once(&seenDelta) && scanAnthropicDeltaObject(&j, &deltaType, &text)
		}
		// A message or a usage belong to other events: they are left to
		// encoding/json.
		return j.skipField(k, "type", "message", "delta", "usage")
	})
	if !ok || !j.end() || cmp.Or(typ, evType) != "content_block_delta" {
		return "", false
	}
	if deltaType != "text_delta" {
		return "", true
	}
	return text, true
}

// scanAnthropicDeltaObject reads the delta of a content_block_delta, or
// null.
func scanAnthropicDeltaObject(j *jsonScan, typ, text *string) bool {
	if j.null() {
		return true
	}
	var seenType, seenText, seenStop bool
	return j.object(func(k string) bool {
		var ok bool
		switch k {
		case "type":
			*typ, ok = j.nullableString(false)
			return once(&seenType) && ok
		case "text":
			*text, ok = j.nullableString(true)
			return once(&seenText) && ok
		case "stop_reason":
			// Read for its type only: a content_block_delta has no use
			// for it.
			_, ok = j.nullableString(false)
			return once(&seenStop) && ok
		}
		return j.skipField(k, "type", "text", "stop_reason")
	})
}
