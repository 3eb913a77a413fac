// Package session keeps conversations in an SQLite store: workspaces,
// sessions, messages, their export and import formats, and search. It is
// storage only: running a turn is package chat's.
package session

import (
	"errors"
	"time"
)

// Roles of a Message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Session is one conversation in a workspace. It is what session/list
// returns for each item, and what every method that returns a session gives.
type Session struct {
	ID           string    `json:"id"`
	Workspace    string    `json:"workspace"`
	Title        string    `json:"title"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	MessageCount int       `json:"messageCount"`
	Current      bool      `json:"current"`
}

// Message is one stored message of a session.
type Message struct {
	ID          string        `json:"id"`
	Role        string        `json:"role"` // RoleUser or RoleAssistant
	Content     string        `json:"content"`
	CreatedAt   time.Time     `json:"createdAt"`
	Provider    string        `json:"provider,omitempty"`
	Model       string        `json:"model,omitempty"`
	Usage       *Usage        `json:"usage,omitempty"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Context     []ContextItem `json:"context,omitempty"` // user messages only

	// StopReason is how an assistant message ended: "end", "max_tokens",
	// "max_size", "refusal", "content_filter", or for an interrupted one
	// "cancelled" or "error". Messages stored before tinychat kept it have none.
	StopReason string `json:"stopReason,omitempty"`
	// Reasoning is the model's thinking before its answer, apart from it.
	Reasoning string `json:"reasoning,omitempty"`
	// ReasoningData is opaque data of the provider that wrote the reply
	// (signed thinking blocks, thought signatures), which it needs back
	// with the reply in later requests. Never shown.
	ReasoningData string `json:"reasoningData,omitempty"`
	// ToolCalls are the tools the reply called, in order.
	ToolCalls []ToolCall `json:"toolCalls,omitempty"`
}

// ToolCall is a call of a tool that a reply made, and what came of it.
type ToolCall struct {
	// ID is the provider's id of the call; Gemini's may be empty.
	ID        string `json:"id"`
	Name      string `json:"name"`
	Server    string `json:"server,omitempty"` // the MCP server, or "" for a built-in tool
	Arguments string `json:"arguments"`        // JSON, as the model wrote it
	// Status is "completed", "failed" (the tool errored), "rejected" (by
	// the user or the policy) or, for a reply cut short, "pending" or
	// "running".
	Status string `json:"status"`
	// Output is what went back to the model.
	Output string `json:"output,omitempty"`
	// TextOffset is how much of the message's content (in bytes) came
	// before the call: where the reply stopped to make it.
	TextOffset int `json:"textOffset"`
}

// Usage counts the tokens of one reply.
type Usage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
}

// ContextItem is quoted material an editor sent along with a user message:
// a file or a part of one.
type ContextItem struct {
	URI        string `json:"uri"`
	Text       string `json:"text"`
	LanguageID string `json:"languageId,omitempty"`
	Range      *Range `json:"range,omitempty"`
}

// Range is an LSP range: zero-based lines and characters, end exclusive.
type Range struct {
	Start Position `json:"start"`
	End   Position `json:"end"`
}

// Position is an LSP position.
type Position struct {
	Line      int `json:"line"`
	Character int `json:"character"`
}

// Hit is one search result: a message, where it is, and a snippet of it
// around what matched.
type Hit struct {
	SessionID string    `json:"sessionId"`
	MessageID string    `json:"messageId"`
	Title     string    `json:"title"`     // the session's
	Workspace string    `json:"workspace"` // the session's
	Role      string    `json:"role"`      // the message's
	CreatedAt time.Time `json:"createdAt"` // the message's
	// Snippet is about a dozen words of the message around the match,
	// matched words between HitStart and HitEnd, cuts marked "…".
	Snippet string `json:"snippet"`
}

// ErrNotFound is returned (wrapped) when a session does not exist.
var ErrNotFound = errors.New("no such session")

// NotFoundError is ErrNotFound for one session id.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return "no such session: " + e.ID }

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
