package rpc

import (
	"context"
	"encoding/json"

	"github.com/sourcegraph/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/tinychat/tinychat/session"
)

func (s *Server) initialize(ctx context.Context, req *request) (any, error) {
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
	// Checked before anything is taken: a refused initialize can be sent
	// again, corrected.
	o := p.InitializationOptions
	if o != nil && ((o.Retries != nil && *o.Retries < 0) || o.FirstByteTimeout < 0 || o.IdleTimeout < 0 ||
		o.MaxTokens < 0 || o.Temperature != nil && *o.Temperature < 0) {
		return nil, invalidParams("initializationOptions", "retries, timeouts, maxTokens and temperature must not be negative")
	}
	s.initialized = true
	if ws != "" {
		s.workspace = ws
	}
	if o != nil {
		s.canAsk = o.Permissions
		s.settings = o.Settings.Over(s.settings)
		s.limits = o.limits()
	}

	var res initializeResult
	res.ServerInfo = protocol.ServerInfo{Name: "tinychat", Version: s.opts.Version}
	res.ProtocolVersion = ProtocolVersion
	res.Capabilities.Chat = chatCapabilities{
		Providers:     s.opts.Providers.Names(),
		ExportFormats: session.ExportFormats,
		Cancel:        true,
		Streaming:     "deltas",
		Reasoning:     true,
		Tools:         s.opts.Tools != nil,
	}
	return res, nil
}

// shutdownRequest is a clean stop: replies still streaming are cancelled
// and saved as interrupted before the answer goes out.
func (s *Server) shutdownRequest(ctx context.Context, req *request) (any, error) {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.cancelAll()
	s.wg.Wait()
	return json.RawMessage("null"), nil
}

// exit sets the exit code of a client's exit: 0 after shutdown, else 1.
// The connection then ends, and Serve waits for running requests.
func (s *Server) exit() {
	s.mu.Lock()
	if !s.shutdown {
		s.exitCode = 1
	}
	s.mu.Unlock()
}
