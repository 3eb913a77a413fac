package rpc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
)

// ProtocolVersion is bumped by a breaking protocol change; additive ones
// keep it.
const ProtocolVersion = 1

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
	session.Defaults
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
}

func (s *Server) initialize(ctx context.Context, req *jsonrpc2.Request) (any, error) {
	var p initializeParams
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	ws := string(p.RootURI)
	if len(p.WorkspaceFolders) > 0 {
		ws = p.WorkspaceFolders[0].URI
	}
	if ws == "" {
		ws = p.RootPath
	}
	if ws != "" {
		var err error
		if ws, err = session.NormalizeWorkspace(ws); err != nil {
			return nil, invalidParams("rootUri", "%v", err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initialized {
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: "initialize was already called on this connection"}
	}
	s.initialized = true
	if ws != "" {
		s.workspace = ws
	}
	if o := p.InitializationOptions; o != nil {
		if (o.Retries != nil && *o.Retries < 0) || o.FirstByteTimeout < 0 || o.IdleTimeout < 0 {
			return nil, invalidParams("initializationOptions", "retries and timeouts must not be negative")
		}
		s.defaults = mergeDefaults(o.Defaults, s.defaults)
		s.limits = o.limits()
	}

	var res initializeResult
	res.ServerInfo = protocol.ServerInfo{Name: "tinychat", Version: s.opts.Version}
	res.ProtocolVersion = ProtocolVersion
	res.Capabilities.Chat = chatCapabilities{
		Providers:     s.opts.Providers.Names(),
		ExportFormats: []string{"text", "markdown", "json"},
		Cancel:        true,
		Streaming:     "deltas",
	}
	return res, nil
}

// mergeDefaults fills the empty fields of d from fallback.
func mergeDefaults(d, fallback session.Defaults) session.Defaults {
	if d.Provider == "" {
		d.Provider = fallback.Provider
		if d.Model == "" {
			d.Model = fallback.Model
		}
	}
	if d.Temperature == nil {
		d.Temperature = fallback.Temperature
	}
	if d.MaxTokens == 0 {
		d.MaxTokens = fallback.MaxTokens
	}
	if d.System == "" {
		d.System = fallback.System
	}
	return d
}

// shutdownRequest is a clean stop: replies still streaming are cancelled
// and saved as interrupted before the answer goes out.
func (s *Server) shutdownRequest(ctx context.Context, req *jsonrpc2.Request) (any, error) {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.cancelAll()
	s.wg.Wait()
	return json.RawMessage("null"), nil
}

// exit ends the connection; Serve then waits for running requests.
func (s *Server) exit(conn *jsonrpc2.Conn) {
	s.mu.Lock()
	if !s.shutdown {
		s.exitCode = 1
	}
	s.mu.Unlock()
	conn.Close()
}
