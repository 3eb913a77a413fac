package providers

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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
	Model       string             `json:"model"`
	MaxTokens   int                `json:"max_tokens"`
	System      string             `json:"system,omitempty"`
	Messages    []anthropicMessage `json:"messages"`
	Temperature *float64           `json:"temperature,omitempty"`
	Stream      bool               `json:"stream"`
	Tools       []anthropicTool    `json:"tools,omitempty"`
}

type anthropicTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// anthropicToolUse and anthropicToolResult are the blocks of a tool call
// and of its result.
type anthropicToolUse struct {
	Type  string          `json:"type"` // "tool_use"
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anthropicToolResult struct {
	Type      string `json:"type"` // "tool_result"
	ToolUseID string `json:"tool_use_id"`
	Content   string `json:"content"`
	IsError   bool   `json:"is_error,omitempty"`
}

// anthropicMessage is a message of the Messages API. Its content is a
// string, or blocks when a reply's thinking goes back with it.
type anthropicMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// anthropicThinking and anthropicRedacted are the thinking blocks of a
// reply as they go back to the API: verbatim, signed, or it answers 400.
// They make up a reply's Result.Opaque, as a JSON array.
type anthropicThinking struct {
	Type      string `json:"type"` // "thinking"
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

type anthropicRedacted struct {
	Type string `json:"type"` // "redacted_thinking"
	Data string `json:"data"`
}

func (anthropicWire) setHeaders(h http.Header, key string) {
	if key != "" {
		h.Set("x-api-key", key)
	}
	h.Set("anthropic-version", "2023-06-01")
}

// encode sends the system prompt as the top-level field Anthropic wants,
// never as a message. A reply's signed thinking blocks go back ahead of its
// text: the API requires them in a tool-use loop and takes them always.
func (anthropicWire) encode(req *Request, model string) ([]byte, error) {
	msgs := alternate(req.Messages)
	body := anthropicRequest{
		Model:       model,
		MaxTokens:   cmp.Or(req.MaxTokens, anthropicMaxTokens),
		System:      req.System,
		Messages:    make([]anthropicMessage, len(msgs)),
		Temperature: req.Temperature,
		Stream:      true,
	}
	for i, m := range msgs {
		body.Messages[i] = anthropicMessage{Role: m.Role, Content: anthropicContent(m)}
	}
	for _, t := range req.Tools {
		body.Tools = append(body.Tools, anthropicTool{Name: t.Name, Description: t.Description, InputSchema: schema(t.Parameters)})
	}
	return json.Marshal(body)
}

// anthropicContent is a message's content: its text, or blocks when it has
// thinking to send back, tool calls or tool results. Thinking comes first,
// tool results before any text, as the API requires.
func anthropicContent(m Message) any {
	var blocks []any
	if m.Role == RoleAssistant && len(m.Opaque) > 0 {
		var thinking []json.RawMessage
		if json.Unmarshal(m.Opaque, &thinking) == nil {
			for _, b := range thinking {
				blocks = append(blocks, b)
			}
		}
	}
	for _, r := range m.Results {
		blocks = append(blocks, anthropicToolResult{Type: "tool_result", ToolUseID: r.CallID, Content: r.Content, IsError: r.IsError})
	}
	if len(blocks) == 0 && len(m.ToolCalls) == 0 {
		return m.Content
	}
	if m.Content != "" {
		blocks = append(blocks, map[string]string{"type": "text", "text": m.Content})
	}
	for _, c := range m.ToolCalls {
		blocks = append(blocks, anthropicToolUse{Type: "tool_use", ID: c.ID, Name: c.Name, Input: arguments(c.Arguments)})
	}
	return blocks
}

// arguments is a tool call's arguments as a JSON object: what the model
// wrote, or {} for none, or for JSON it left unfinished (a reply cut at
// its token limit).
func arguments(args string) json.RawMessage {
	if !json.Valid([]byte(args)) || !strings.HasPrefix(strings.TrimSpace(args), "{") {
		return json.RawMessage("{}")
	}
	return json.RawMessage(args)
}

// alternate shapes a history as Anthropic and Gemini take it: roles
// alternate, user and assistant (tool results are the user's), the first is
// user, no text is empty. Consecutive messages of one role (left, say, by a
// reply that failed) are joined, their texts by a blank line, their calls
// and results one after the other, without their opaque data, which
// belonged to one of them; empty ones (a reply cancelled before its first
// word) are dropped; so is an assistant message that opens the history, a
// reply to nothing the model can see.
func alternate(msgs []Message) []Message {
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Role == RoleTool {
			m.Role = RoleUser
		}
		switch {
		case m.Content == "" && len(m.ToolCalls) == 0 && len(m.Results) == 0:
		case len(out) == 0 && m.Role != RoleUser:
		case len(out) > 0 && out[len(out)-1].Role == m.Role:
			last := &out[len(out)-1]
			if last.Content != "" && m.Content != "" {
				last.Content += "\n\n"
			}
			last.Content += m.Content
			last.ToolCalls = append(slices.Clip(last.ToolCalls), m.ToolCalls...)
			last.Results = append(slices.Clip(last.Results), m.Results...)
			last.Opaque = nil
		default:
			out = append(out, m)
		}
	}
	return out
}

func (anthropicWire) newDecoder() decoder { return new(anthropicDecoder) }

// anthropicDecoder decodes Messages stream events. It reads the usual
// event, a content_block_delta of text or thinking, with the fast path
// (fastpath.go); anything else with encoding/json, keeping its JSON decoder
// and one event to decode each into, so that decoding allocates little
// more than the text.
//
// Content blocks stream one after another: a block starts, has deltas and
// stops before the next starts. The decoder keeps the block in progress.
type anthropicDecoder struct {
	json jsonDecoder
	ev   anthropicEvent

	block     string          // the type of the block in progress
	thinking  strings.Builder // of the thinking block in progress
	signature string          // of the thinking block in progress
	call      int             // the tool call of the tool_use block in progress
	calls     int             // tool_use blocks so far
	blocks    []json.RawMessage
}

type anthropicEvent struct {
	Type    string `json:"type"`
	Message struct {
		Model string         `json:"model"`
		Usage anthropicUsage `json:"usage"`
	} `json:"message"`
	ContentBlock struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Thinking string `json:"thinking"`
		Data     string `json:"data"`
		ID       string `json:"id"`
		Name     string `json:"name"`
	} `json:"content_block"`
	Delta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		Thinking    string `json:"thinking"`
		Signature   string `json:"signature"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
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

// decode reads one event. Pings, citations and event types added later are
// passed over.
func (d *anthropicDecoder) decode(typ, data string, p *progress) error {
	if kind, text, ok := scanAnthropicDelta(typ, data); ok {
		d.add(kind, text, p)
		return nil
	}
	return d.decodeJSON(typ, data, p)
}

// add adds text or thinking, keeping the thinking of the block for
// Result.Opaque.
func (d *anthropicDecoder) add(kind EventKind, text string, p *progress) {
	if kind == EventReasoning {
		d.thinking.WriteString(text)
	}
	p.add(kind, text)
}

// decodeJSON reads one event with encoding/json.
func (d *anthropicDecoder) decodeJSON(typ, data string, p *progress) error {
	if typ == "ping" {
		return nil
	}
	d.ev = anthropicEvent{}
	ev := &d.ev
	if err := d.json.decode(data, ev); err != nil {
		return err
	}
	switch cmp.Or(typ, ev.Type) {
	case "message_start":
		p.Model = ev.Message.Model
		p.Usage.InputTokens = ev.Message.Usage.input()
		p.Usage.OutputTokens = ev.Message.Usage.OutputTokens
	case "content_block_start":
		b := &ev.ContentBlock
		d.block = b.Type
		switch b.Type {
		case "text":
			d.add(EventText, b.Text, p)
		case "thinking":
			d.thinking.Reset()
			d.signature = ""
			d.add(EventReasoning, b.Thinking, p)
		case "redacted_thinking":
			// Encrypted thinking: nothing to show, but it goes back.
			d.keep(anthropicRedacted{Type: b.Type, Data: b.Data}, p)
		case "tool_use":
			d.call = d.calls
			d.calls++
			p.addCall(d.call, b.ID, b.Name, "")
		}
	case "content_block_delta":
		switch ev.Delta.Type {
		case "text_delta":
			d.add(EventText, ev.Delta.Text, p)
		case "thinking_delta":
			d.add(EventReasoning, ev.Delta.Thinking, p)
		case "signature_delta":
			d.signature = ev.Delta.Signature
		case "input_json_delta":
			if d.block == "tool_use" {
				p.addCall(d.call, "", "", ev.Delta.PartialJSON)
			}
		}
	case "content_block_stop":
		// A thinking block without its signature cannot go back.
		if d.block == "thinking" && d.signature != "" {
			d.keep(anthropicThinking{Type: "thinking", Thinking: d.thinking.String(), Signature: d.signature}, p)
		}
		d.block = ""
	case "message_delta":
		// The stop reason is the reply's end: a stream cut after it, before
		// message_stop, is whole, as one cut after OpenAI's finish_reason.
		switch ev.Delta.StopReason {
		case "":
		case "max_tokens", "model_context_window_exceeded":
			p.stop(StopMaxTokens)
		case "refusal":
			p.stop(StopRefusal)
		case "tool_use":
			p.stop(StopToolCalls)
		default: // end_turn, stop_sequence, pause_turn
			p.stop(StopEnd)
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
		return eventError([]byte(data))
	}
	return nil
}

// keep adds a thinking block to those that go back with the reply.
func (d *anthropicDecoder) keep(block any, p *progress) {
	b, err := json.Marshal(block)
	if err != nil {
		return
	}
	d.blocks = append(d.blocks, b)
	p.Opaque, _ = json.Marshal(d.blocks)
}

// scanAnthropicDelta is the fast path for a content_block_delta event of
// text or thinking: it returns its kind and text. It takes an object with
// no message, no content block and no usage.
func scanAnthropicDelta(typ, data string) (kind EventKind, text string, ok bool) {
	if typ != "" && typ != "content_block_delta" {
		return 0, "", false
	}
	j := jsonScan{s: data}
	var evType string
	var delta anthropicDeltaFields
	var seenType, seenDelta bool
	ok = j.object(func(k string) bool {
		var ok bool
		switch k {
		case "type":
			evType, ok = j.nullableString(false)
			return once(&seenType) && ok
		case "delta":
			return once(&seenDelta) && delta.scan(&j)
		}
		// A message, a content block or a usage belong to other events:
		// they are left to encoding/json.
		return j.skipField(k, "type", "message", "content_block", "delta", "usage")
	})
	if !ok || !j.end() || cmp.Or(typ, evType) != "content_block_delta" {
		return 0, "", false
	}
	switch delta.typ {
	case "text_delta":
		return EventText, delta.text, true
	case "thinking_delta":
		return EventReasoning, delta.thinking, true
	}
	return 0, "", false
}

// anthropicDeltaFields are the fields of a delta the fast path reads.
type anthropicDeltaFields struct{ typ, text, thinking string }

// scan reads the delta of a content_block_delta, or null.
func (d *anthropicDeltaFields) scan(j *jsonScan) bool {
	if j.null() {
		return true
	}
	var seenType, seenText, seenThinking, seenStop bool
	return j.object(func(k string) bool {
		var ok bool
		switch k {
		case "type":
			d.typ, ok = j.nullableString(false)
			return once(&seenType) && ok
		case "text":
			d.text, ok = j.nullableString(true)
			return once(&seenText) && ok
		case "thinking":
			d.thinking, ok = j.nullableString(true)
			return once(&seenThinking) && ok
		case "stop_reason":
			// Read for its type only: a content_block_delta has no use
			// for it.
			_, ok = j.nullableString(false)
			return once(&seenStop) && ok
		}
		return j.skipField(k, "type", "text", "thinking", "signature", "partial_json", "stop_reason")
	})
}
