// Package providers streams chat replies from LLM providers.
//
// Every provider sits behind the small Provider interface: it takes the whole
// conversation, calls back with each piece of reply text as it arrives, and
// returns how the reply ended. The HTTP and SSE plumbing is shared
// (sse.go, retry.go); each adapter owns only its wire format.
package providers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Roles of a Message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Stop reasons reported in Result.StopReason, as on the wire in chat/send.
const (
	StopEnd       = "end"
	StopMaxTokens = "max_tokens"
	StopCancelled = "cancelled"
	StopError     = "error"
)

// Message is one turn of a conversation in provider-neutral form.
type Message struct {
	Role    string
	Content string
}

// Request is one reply to generate: the whole history, ending with the new
// user message.
type Request struct {
	Model       string // empty means the provider's default model
	System      string
	Messages    []Message
	Temperature *float64
	MaxTokens   int // 0 means the provider's default
}

// Usage counts the tokens of one reply.
type Usage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
}

// Result is how a completed stream ended.
type Result struct {
	Model      string // the model that answered, as the provider named it
	StopReason string // StopEnd or StopMaxTokens
	Usage      Usage
}

// Provider streams replies from one LLM service.
type Provider interface {
	// Name is the provider's name as clients choose it ("openai").
	Name() string
	// DefaultModel is used when a request names no model.
	DefaultModel() string
	// Stream generates a reply to req, calling onDelta with each piece of
	// text in order. It returns only once the stream reached its end marker;
	// otherwise it returns an error (an *Error for provider failures, or one
	// wrapping ctx.Err() when ctx is cancelled, in which case the HTTP body
	// is closed at once).
	Stream(ctx context.Context, req *Request, onDelta func(text string)) (*Result, error)
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
