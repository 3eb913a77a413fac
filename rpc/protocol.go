package rpc

import (
	"time"

	"go.lsp.dev/protocol"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
)

// The editor protocol's wire types, in one place: docs/protocol.md is
// their reference. Sessions and messages go out as session.Session and
// session.Message, which the store keeps.

// ProtocolVersion is bumped by a breaking protocol change; additive ones
// keep it.
const ProtocolVersion = 1

// Notifications the daemon sends while a chat/send streams. Both carry
// {requestId, sessionId, messageId, seq, text}, each kind its own seq;
// they are encoded by hand (delta.go).
const (
	methodDelta     = "chat/delta"     // answer text only
	methodReasoning = "chat/reasoning" // the model's reasoning, apart
)

// initializeParams are the members of LSP's InitializeParams that tinychat
// reads. The client's capabilities, which it does not, are left undecoded:
// decoding into the whole protocol.InitializeParams took half a
// millisecond or more of a fresh daemon's answer, even for "{}".
type initializeParams struct {
	RootURI               protocol.DocumentURI       `json:"rootUri"`
	RootPath              string                     `json:"rootPath"`
	WorkspaceFolders      []protocol.WorkspaceFolder `json:"workspaceFolders"`
	InitializationOptions *initOptions               `json:"initializationOptions"`
}

// initOptions are an editor's defaults for its connection.
type initOptions struct {
	chat.Settings
	// Retries of a failed provider request; 0 means none.
	Retries *int `json:"retries"`
	// Timeouts, in seconds, for a provider's first byte and for the gap
	// between two events of a stream.
	FirstByteTimeout float64 `json:"firstByteTimeout"`
	IdleTimeout      float64 `json:"idleTimeout"`
}

func (o *initOptions) limits() providers.Limits {
	l := providers.Limits{
		FirstByteTimeout: time.Duration(o.FirstByteTimeout * float64(time.Second)),
		IdleTimeout:      time.Duration(o.IdleTimeout * float64(time.Second)),
	}
	if o.Retries != nil {
		l.MaxRetries = *o.Retries
		if l.MaxRetries == 0 {
			l.MaxRetries = -1
		}
	}
	return l
}

type initializeResult struct {
	ServerInfo      protocol.ServerInfo `json:"serverInfo"`
	ProtocolVersion int                 `json:"protocolVersion"`
	Capabilities    struct {
		Chat chatCapabilities `json:"chat"`
	} `json:"capabilities"`
}

type chatCapabilities struct {
	Providers     []string `json:"providers"`
	ExportFormats []string `json:"exportFormats"`
	Cancel        bool     `json:"cancel"`
	Streaming     string   `json:"streaming"`
	// Reasoning says that replies' reasoning comes as chat/reasoning.
	Reasoning bool `json:"reasoning"`
}

type chatSendParams struct {
	Message     string                `json:"message"`
	Workspace   string                `json:"workspace"`
	SessionID   string                `json:"sessionId"`
	Provider    string                `json:"provider"`
	Model       string                `json:"model"`
	Temperature *float64              `json:"temperature"`
	MaxTokens   int                   `json:"maxTokens"`
	System      string                `json:"system"`
	Context     []session.ContextItem `json:"context"`
}

type chatSendResult struct {
	SessionID  string          `json:"sessionId"`
	MessageID  string          `json:"messageId"`
	Text       string          `json:"text"`
	Reasoning  string          `json:"reasoning,omitempty"`
	Provider   string          `json:"provider"`
	Model      string          `json:"model"`
	StopReason string          `json:"stopReason"`
	Usage      providers.Usage `json:"usage"`
}

// turnErrorData is the data of the error that answers a chat/send that
// failed or was cancelled, beside the provider's error fields for -32001:
// the partial reply when something had arrived, else the user's message,
// for the editor to offer again.
type turnErrorData struct {
	SessionID   string `json:"sessionId"`
	MessageID   string `json:"messageId"`
	Text        string `json:"text"`
	Reasoning   string `json:"reasoning,omitempty"`
	UserMessage string `json:"userMessage,omitempty"`
	*providerErrorData
}

// providerErrorData is the data of -32001: the provider's own error.
type providerErrorData struct {
	Provider   string  `json:"provider"`
	Status     int     `json:"status"` // HTTP status; 0 where none applies
	Type       string  `json:"type"`
	Message    string  `json:"message"`
	Retryable  bool    `json:"retryable"`
	RetryAfter float64 `json:"retryAfter,omitempty"` // seconds
}
