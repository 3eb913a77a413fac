// Package acp is tinychat's face for clients of the Agent Client Protocol
// (agentclientprotocol.com, protocol version 1): Zed, JetBrains IDEs,
// CodeCompanion and avante in Neovim, agent-shell in Emacs, acpx. It
// speaks newline-delimited JSON-RPC 2.0 through github.com/coder/acp-go-sdk
// and runs turns through package chat, over the same store as every other
// tinychat process: an ACP session is a tinychat session, with the same id.
//
// One file per family of methods: agent.go (the connection, initialize),
// session.go (session/new, load, list, set_config_option), prompt.go
// (session/prompt and the updates of a turn), errors.go.
package acp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	acp "github.com/coder/acp-go-sdk"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// Options configure an ACP agent.
type Options struct {
	// Engine runs the turns; its Store and Providers are the agent's.
	Engine *chat.Engine
	// Settings are the configuration file's defaults of a turn.
	Settings chat.Settings
	// Tools are the tools of the configuration file; a session's MCP
	// servers are added to them. Nil for none but the built-in ones.
	Tools   *tools.Manager
	Version string
	Logger  *slog.Logger // nil: discard
}

// Serve speaks ACP on in and out until in ends or ctx is done. Turns still
// running are then cancelled, and saved as interrupted, before it returns.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Tools == nil {
		opts.Tools = tools.NewManager(nil, opts.Logger)
		defer opts.Tools.Close()
	}
	a := &agent{opts: opts, log: opts.Logger, sessions: map[string]*acpSession{}, models: map[string][]string{}}
	a.idle.L = &a.mu
	// The connection logs through slog's default logger (its SetLogger
	// would race with the reader it has started): the command sets that
	// one to its stderr log. Its reader starts before the constructor
	// returns, so the first read waits until the connection is assigned:
	// a request handled at once would read it unset.
	ready := make(chan struct{})
	a.conn = acp.NewAgentSideConnection(a, out, &waitReader{r: in, ready: ready})
	close(ready)
	select {
	case <-a.conn.Done():
	case <-ctx.Done():
	}
	// The SDK cancels the requests in flight when its input ends; a ctx
	// that ended first cancels the turns here. Then the requests are let
	// finish: a cancelled turn is saved as interrupted.
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for _, s := range a.sessions {
		if s.cancel != nil {
			s.cancel()
		}
	}
	for a.active > 0 {
		a.idle.Wait()
	}
	var errs []error
	for _, s := range a.sessions {
		if s.tools != nil {
			errs = append(errs, s.tools.Close())
		}
		if s.made {
			a.dropIfEmpty(s.id)
		}
	}
	return errors.Join(errs...)
}

// dropIfEmpty removes a session that session/new made and no turn used:
// clients make one for every chat panel they open, and an empty session
// would stand in the lists of every editor.
func (a *agent) dropIfEmpty(id string) {
	ctx := context.Background()
	sess, err := a.opts.Engine.Store.Session(ctx, id)
	if err == nil && sess.MessageCount == 0 {
		err = a.opts.Engine.Store.Delete(ctx, id)
	}
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		a.log.Warn("removing an empty session", "session", id, "error", err)
	}
}

// agent implements acp.Agent and acp.AgentLoader.
type agent struct {
	opts Options
	log  *slog.Logger
	conn *acp.AgentSideConnection

	mu       sync.Mutex
	active   int                    // requests being handled
	idle     sync.Cond              // signalled when active falls to 0
	closed   bool                   // Serve is returning: no new request is handled
	sessions map[string]*acpSession // those made or loaded on this connection
	models   map[string][]string    // each provider's models, once asked
}

var (
	_ acp.Agent       = (*agent)(nil)
	_ acp.AgentLoader = (*agent)(nil)
)

// Initialize answers with what tinychat can do: load and list sessions,
// take embedded context, connect to the client's MCP servers over stdio
// and HTTP. It needs no authentication: keys come from the environment or
// the configuration file.
func (a *agent) Initialize(ctx context.Context, p acp.InitializeRequest) (acp.InitializeResponse, error) {
	version := min(p.ProtocolVersion, acp.ProtocolVersionNumber)
	if version < 1 {
		version = acp.ProtocolVersionNumber
	}
	return acp.InitializeResponse{
		ProtocolVersion: version,
		AgentCapabilities: acp.AgentCapabilities{
			LoadSession: true,
			// No images: tinychat's providers take text.
			PromptCapabilities:  acp.PromptCapabilities{EmbeddedContext: true},
			McpCapabilities:     acp.McpCapabilities{Http: true},
			SessionCapabilities: acp.SessionCapabilities{List: &acp.SessionListCapabilities{}},
		},
		AgentInfo:   &acp.Implementation{Name: "tinychat", Title: acp.Ptr("tinychat"), Version: a.opts.Version},
		AuthMethods: []acp.AuthMethod{},
	}, nil
}

// Authenticate is refused: tinychat offers no authentication method.
func (a *agent) Authenticate(ctx context.Context, p acp.AuthenticateRequest) (acp.AuthenticateResponse, error) {
	return acp.AuthenticateResponse{}, acp.NewInvalidParams(map[string]any{
		"methodId": p.MethodId, "error": "tinychat has no authentication methods: set the provider's key in the environment or config.toml"})
}

// Cancel ends the session's turn: the SDK has cancelled the context of its
// session/prompt, whose turn then answers stopReason "cancelled".
func (a *agent) Cancel(ctx context.Context, p acp.CancelNotification) error {
	return nil
}

// SetSessionMode is not offered: tinychat has no modes.
func (a *agent) SetSessionMode(ctx context.Context, p acp.SetSessionModeRequest) (acp.SetSessionModeResponse, error) {
	return acp.SetSessionModeResponse{}, acp.NewMethodNotFound(acp.AgentMethodSessionSetMode)
}

// CloseSession is not offered (no sessionCapabilities.close).
func (a *agent) CloseSession(ctx context.Context, p acp.CloseSessionRequest) (acp.CloseSessionResponse, error) {
	return acp.CloseSessionResponse{}, acp.NewMethodNotFound(acp.AgentMethodSessionClose)
}

// ResumeSession is not offered (no sessionCapabilities.resume): session/load
// does it, with the history.
func (a *agent) ResumeSession(ctx context.Context, p acp.ResumeSessionRequest) (acp.ResumeSessionResponse, error) {
	return acp.ResumeSessionResponse{}, acp.NewMethodNotFound(acp.AgentMethodSessionResume)
}

// enter counts a request in, unless Serve is returning: then the request
// gets an error.
func (a *agent) enter() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return &acp.RequestError{Code: -32603, Message: "tinychat is stopping"}
	}
	a.active++
	return nil
}

// leave counts a request out.
func (a *agent) leave() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active--; a.active == 0 {
		a.idle.Broadcast()
	}
}

// waitReader reads r once ready is closed.
type waitReader struct {
	r     io.Reader
	ready <-chan struct{}
}

func (w *waitReader) Read(p []byte) (int, error) {
	<-w.ready
	return w.r.Read(p)
}
