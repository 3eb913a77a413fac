// Package providers streams chat replies from LLM providers.
//
// Every provider sits behind the small Provider interface: it takes the whole
// conversation, calls back with each typed event of the reply as it arrives
// (answer text, reasoning, refusal text, tool-call fragments), and returns
// how the reply ended. The HTTP and SSE plumbing is shared
// (sse.go, retry.go); each adapter owns only its wire format.
package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Roles of a Message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	// RoleTool is a message of tool results, answering the tool calls of
	// the assistant message before it.
	RoleTool = "tool"
)

// Stop reasons reported in Result.StopReason, each provider's own mapped to
// these.
const (
	StopEnd           = "end"
	StopMaxTokens     = "max_tokens"
	StopRefusal       = "refusal"        // the model declined to answer
	StopContentFilter = "content_filter" // the provider's filter cut or blocked the reply
	StopToolCalls     = "tool_calls"     // the model stopped to have its tool calls run
)

// EventKind says what an Event carries.
type EventKind uint8

// The kinds of Event.
const (
	// EventText is answer text.
	EventText EventKind = iota
	// EventReasoning is the model's thinking, streamed before (or between) its
	// answer: never part of the answer text.
	EventReasoning
	// EventRefusal is the text of a refusal (OpenAI's delta.refusal): the model
	// declined, and this is what it says instead of an answer.
	EventRefusal
	// EventToolCall is a fragment of a tool call: the first fragment of a call
	// has its ID and Name, each fragment a piece of its arguments' JSON.
	EventToolCall
)

// Event is one piece of a streamed reply.
type Event struct {
	Kind EventKind
	// Text is the text of an EventText, EventReasoning or EventRefusal,
	// and a piece of an EventToolCall's arguments.
	Text string
	// Call is which tool call of the reply (0, 1, ...) an EventToolCall
	// belongs to; ID and Name are set on its first event.
	Call     int
	ID, Name string
}

// ToolCall is a whole tool call of a reply, its fragments joined.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string // JSON, as the model wrote it
}

// ToolSpec is a tool offered to the model.
type ToolSpec struct {
	Name        string
	Description string
	Parameters  json.RawMessage // a JSON Schema of an object; nil for no arguments
}

// ToolResult is what a tool call gave, to go back to the model.
type ToolResult struct {
	CallID  string // the ToolCall's ID
	Name    string // the tool's
	Content string
	IsError bool // the call failed or was refused; the model is told so
}

// Message is one turn of a conversation in provider-neutral form.
type Message struct {
	Role    string
	Content string
	// ToolCalls are the calls an assistant message made, after its
	// Content.
	ToolCalls []ToolCall
	// Results are the results of a RoleTool message.
	Results []ToolResult
	// Opaque is what the provider that wrote this reply gave in
	// Result.Opaque (Anthropic's signed thinking blocks, Gemini's thought
	// signature), to be sent back as its API requires. It is meaningful
	// only to that provider and model: give it to no other.
	Opaque []byte
}

// Request is one reply to generate: the whole history, ending with the new
// user message.
type Request struct {
	Model       string // empty means the provider's default model
	System      string
	Messages    []Message
	Tools       []ToolSpec // offered to the model; none for a plain reply
	Temperature *float64
	MaxTokens   int // 0 means the provider's default

	// Flush, if set, is called on the goroutine that calls onEvent once
	// onEvent has had every event read so far, before the stream reads
	// more: with waiting true when the stream has read all the provider
	// had sent, so that the next read will likely wait; with waiting false
	// when more is already there, and when the stream ends, however it
	// ends. A consumer that writes what it was given when waiting is true
	// writes from the goroutine that reads the provider, with no hand-off
	// to another, and what arrived together goes out together; when more
	// is there, handing it off lets it go out while the stream reads on.
	Flush func(waiting bool)
	// OnRetry, if set, is called before each retry of this request, after
	// Options.OnRetry: attempt is the attempt that failed (from 1), wait
	// how long the next waits to start, err why the attempt failed.
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Usage counts the tokens of one reply.
type Usage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
}

// Result is how a completed stream ended.
type Result struct {
	Model      string // the model that answered, as the provider named it
	StopReason string // one of the Stop constants
	Usage      Usage
	// ToolCalls are the reply's tool calls, whole, in order.
	ToolCalls []ToolCall
	// Opaque is data of the provider's own, never shown, that it needs
	// back with this reply in later requests (see Message.Opaque); nil for
	// most replies.
	Opaque []byte
}

// Provider streams replies from one LLM service.
type Provider interface {
	// Name is the provider's name as clients choose it ("openai").
	Name() string
	// DefaultModel is used when a request names no model.
	DefaultModel() string
	// Stream generates a reply to req, calling onEvent with each event in
	// order; empty texts are never given. It returns only once the stream
	// reached its end marker; otherwise it returns an error (an *Error for
	// provider failures, or one wrapping ctx.Err() when ctx is cancelled,
	// in which case the HTTP body is closed at once).
	Stream(ctx context.Context, req *Request, onEvent func(Event)) (*Result, error)
	// Models lists the model ids the provider offers.
	Models(ctx context.Context) ([]string, error)
}

// Error is a failure reported by, or on the way to, a provider.
type Error struct {
	Provider   string        `json:"provider"`
	Status     int           `json:"status"` // HTTP status; 0 where none applies
	Type       string        `json:"type"`   // the provider's error type, or "truncated_stream", "timeout", "connection"
	Message    string        `json:"message"`
	Retryable  bool          `json:"retryable"`
	RetryAfter time.Duration `json:"-"`
}

// Error returns a sentence a person can act on, such as
// "anthropic: 401 authentication_error: invalid x-api-key".
func (e *Error) Error() string {
	s := e.Provider + ":"
	if e.Status != 0 {
		s += fmt.Sprintf(" %d", e.Status)
	}
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// NotConfiguredError reports a provider that has no API key: the
// environment variable that would hold it is not set, or the command that
// prints it (api_key_cmd) failed.
type NotConfiguredError struct {
	Provider string
	Env      string // the environment variable that would hold the key, if any
	// Reason, when not empty, says why the key command gave no key, such as
	// "api_key_cmd exited with status 1". It never holds the command's
	// output.
	Reason string
}

func (e *NotConfiguredError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s: not configured: %s", e.Provider, e.Reason)
	}
	return fmt.Sprintf("%s: not configured: set %s", e.Provider, e.Env)
}

// ErrUnknownProvider is returned (wrapped) for a provider name no one knows.
var ErrUnknownProvider = errors.New("unknown provider")
