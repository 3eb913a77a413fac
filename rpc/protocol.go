package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// Notifications the daemon sends while a chat/send streams. The first two
// carry {requestId, sessionId, messageId, seq, text}, each kind its own
// seq, and are encoded by hand (delta.go).
const (
	methodDelta     = "chat/delta"     // answer text only
	methodReasoning = "chat/reasoning" // the model's reasoning, apart
	methodToolCall  = "chat/toolCall"  // a tool call, at each change of its status
	methodRetry     = "chat/retry"     // a provider request made again, before any of the reply came
)

// retryParams are chat/retry's params.
type retryParams struct {
	RequestID id      `json:"requestId"`
	SessionID string  `json:"sessionId"`
	MessageID string  `json:"messageId"`
	Provider  string  `json:"provider"`
	Attempt   int     `json:"attempt"` // the attempt that failed, from 1
	Wait      float64 `json:"wait"`    // seconds before the next
	Error     string  `json:"error"`   // why the attempt failed
}

// methodPermission is the request the daemon sends a client that declared
// initializationOptions.permissions, before a tool runs.
const methodPermission = "chat/requestPermission"

// toolCallInfo is a tool call, as a permission request and chat/toolCall
// give it.
type toolCallInfo struct {
	ToolCallID string `json:"toolCallId"`
	Name       string `json:"name"`
	Server     string `json:"server,omitempty"`
	Arguments  string `json:"arguments"` // JSON, as the model wrote it
}

// toolCallParams are chat/toolCall's params. Output is cut to what an
// editor shows.
type toolCallParams struct {
	RequestID id     `json:"requestId"`
	SessionID string `json:"sessionId"`
	MessageID string `json:"messageId"`
	toolCallInfo
	Status string `json:"status"`
	Output string `json:"output,omitempty"`
}

// permissionParams are chat/requestPermission's params; the client
// answers permissionResult.
type permissionParams struct {
	RequestID id           `json:"requestId"`
	SessionID string       `json:"sessionId"`
	ToolCall  toolCallInfo `json:"toolCall"`
	Options   []string     `json:"options"`
}

type permissionResult struct {
	Outcome string `json:"outcome"`
}

// notifyMessage is a notification the daemon sends, but for the chat/delta
// and chat/reasoning of a reply.
type notifyMessage struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

// requestMessage is a request the daemon sends.
type requestMessage struct {
	JSONRPC string `json:"jsonrpc"`
	ID      id     `json:"id"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

// initializeParams are the members of LSP's InitializeParams that tinychat
// reads. The client's capabilities, which it does not, are left undecoded:
// decoding into the whole protocol.InitializeParams took half a
// millisecond or more of a fresh daemon's answer, even for "{}".
type initializeParams struct {
	RootURI               protocol.DocumentURI `json:"rootUri"`
	RootPath              string               `json:"rootPath"`
	WorkspaceFolders      firstFolder          `json:"workspaceFolders"`
	InitializationOptions *initOptions         `json:"initializationOptions"`
}

// initOptions are an editor's defaults for its connection.
type initOptions struct {
	chat.Settings
	// Permissions says that the client answers chat/requestPermission.
	Permissions bool `json:"permissions"`
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
	// Tools says that models may call tools (chat/toolCall), and that a
	// client that declares permissions is asked before each runs.
	Tools bool `json:"tools"`
}

type chatSendParams struct {
	Message     string       `json:"message"`
	Workspace   string       `json:"workspace"`
	SessionID   string       `json:"sessionId"`
	Provider    string       `json:"provider"`
	Model       string       `json:"model"`
	Temperature *float64     `json:"temperature"`
	MaxTokens   int          `json:"maxTokens"`
	System      string       `json:"system"`
	Context     contextItems `json:"context"`
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
	// Truncated says that Text and Reasoning hold only their starts, cut
	// so that the answer fits the message size limit; the notifications
	// carried all of them.
	Truncated bool `json:"truncated,omitempty"`
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
	StopReason  string `json:"stopReason,omitempty"` // how the reply ended: "error", "cancelled", or its own for -32006
	UserMessage string `json:"userMessage,omitempty"`
	Truncated   bool   `json:"truncated,omitempty"` // as in chatSendResult
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

// maxContextItems bounds the context items of a chat/send.
const maxContextItems = 1000

// contextItems is chat/send's context param.
type contextItems []session.ContextItem

func (c *contextItems) UnmarshalJSON(b []byte) error {
	list, more, err := decodeArray[session.ContextItem](b, "context", maxContextItems)
	if more {
		return &fieldError{"context", fmt.Sprintf("context holds more than %d items", maxContextItems)}
	}
	*c = list
	return err
}

// firstFolder is initialize's workspaceFolders, of which tinychat reads
// the first.
type firstFolder []protocol.WorkspaceFolder

func (f *firstFolder) UnmarshalJSON(b []byte) error {
	list, _, err := decodeArray[protocol.WorkspaceFolder](b, "workspaceFolders", 1)
	*f = list
	return err
}

// decodeArray decodes the JSON array b one element at a time, and stops at
// the first element it cannot decode, or once it has limit elements (more
// then reports whether there were more). encoding/json decodes the whole
// of an array, growing the slice for every element, before it reports an
// element of the wrong type: 8 MB of small numbers took 300 MB.
func decodeArray[T any](b []byte, field string, limit int) (list []T, more bool, err error) {
	if string(b) == "null" {
		return nil, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, false, &fieldError{field, field + " must be an array"}
	}
	for dec.More() {
		if len(list) == limit {
			return list, true, nil
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			at := fmt.Sprintf("%s[%d]", field, len(list))
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				if te.Field != "" {
					at += "." + te.Field
				}
				return nil, false, &fieldError{field, fmt.Sprintf("%s must be %s, not %s", at, jsonKind(te.Type.Kind().String()), te.Value)}
			}
			return nil, false, &fieldError{field, at + ": " + err.Error()}
		}
		list = append(list, v)
	}
	return list, false, nil
}
