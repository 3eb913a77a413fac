// Package rpc is tinychat's JSON-RPC 2.0 server: framing, lifecycle, and one
// file per method family. Handlers decode params, call the chat, session
// and providers packages, and return their results; the work lives there.
// The protocol's wire types are in protocol.go.
package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// Options configure a Server.
type Options struct {
	JSONL          bool // newline-delimited JSON instead of LSP framing
	MaxMessageSize int  // 0 means DefaultMaxMessageSize
	Store          *session.Store
	Providers      *providers.Registry
	Workspace      string // the default workspace until initialize names one; "" means the working directory
	Version        string
	Settings       chat.Settings // from the config file; initializationOptions override them
	// Tools, when set, are offered to models under Policy, for at most
	// MaxToolSteps rounds of calls a turn (0: chat.DefaultMaxToolSteps).
	Tools        chat.Toolbox
	Policy       tools.Policy
	MaxToolSteps int
	Logger       *slog.Logger // nil: discard
	// LogHandler, when it is the handler behind Logger, also sends warnings to
	// the editor as window/logMessage.
	LogHandler *LogHandler
}

// Server serves one connection.
type Server struct {
	opts    Options
	log     *slog.Logger
	chat    *chat.Engine
	stream  *stream
	conn    *jsonrpc2.Conn
	methods map[string]method

	wg sync.WaitGroup // requests running in their own goroutine

	mu          sync.Mutex
	workspace   string
	settings    chat.Settings
	limits      providers.Limits // retries and timeouts from initializationOptions
	initialized bool
	canAsk      bool // the client answers chat/requestPermission
	shutdown    bool
	exitCode    int
	inflight    map[jsonrpc2.ID]context.CancelFunc
	streaming   map[string]jsonrpc2.ID // session id -> its chat/send
}

// method is a request handler. Async ones run in their own goroutine with
// their own context, so that a slow provider or a search of a large store
// never blocks the connection, and can be cancelled; the rest run in order
// on the reading goroutine, which keeps a script's session/new before its
// session/list.
type method struct {
	handle func(ctx context.Context, req *jsonrpc2.Request) (any, error)
	async  bool
}

// Serve reads requests from in and writes to out until the input ends, the
// client sends exit or ctx is done (jsonrpc2 then closes the connection),
// and returns the process exit code: 0 after shutdown and exit, at the end
// of the input or when ctx is done, 1 for exit without shutdown. Replies
// still streaming when it stops are cancelled and saved first.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts Options) int {
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		chat:      &chat.Engine{Store: opts.Store, Providers: opts.Providers, Tools: opts.Tools, Policy: opts.Policy, MaxToolSteps: opts.MaxToolSteps, Logger: opts.Logger},
		workspace: opts.Workspace,
		settings:  opts.Settings,
		inflight:  map[jsonrpc2.ID]context.CancelFunc{},
		streaming: map[string]jsonrpc2.ID{},
	}
	s.methods = s.methodTable()
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.workspace == "" {
		s.workspace, _ = os.Getwd()
	}
	if ws, err := session.NormalizeWorkspace(s.workspace); err == nil {
		s.workspace = ws
	}
	closer, _ := in.(io.Closer)
	s.stream = newStream(in, out, closer, opts.JSONL, opts.MaxMessageSize, s.log)
	conn := jsonrpc2.NewConn(ctx, s.stream, s, jsonrpc2.SetLogger(slogAdapter{s.log}))
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	if opts.LogHandler != nil {
		opts.LogHandler.attach(conn)
		defer opts.LogHandler.attach(nil)
	}
	<-conn.DisconnectNotify()
	s.cancelAll()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitCode
}

// methodTable is the methods of s by name, made once per connection.
func (s *Server) methodTable() map[string]method {
	return map[string]method{
		"initialize":     {handle: s.initialize},
		"shutdown":       {handle: s.shutdownRequest},
		"chat/send":      {handle: s.chatSend, async: true},
		"session/list":   {handle: s.sessionList},
		"session/new":    {handle: s.sessionNew},
		"session/get":    {handle: s.sessionGet},
		"session/delete": {handle: s.sessionDelete},
		"session/rename": {handle: s.sessionRename},
		"session/export": {handle: s.sessionExport},
		"session/import": {handle: s.sessionImport},
		"session/search": {handle: s.sessionSearch, async: true},
		"providers/list": {handle: s.providersList},
		"models/list":    {handle: s.modelsList, async: true},
	}
}

// Handle implements jsonrpc2.Handler. It runs on the reading goroutine.
func (s *Server) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	switch req.Method {
	case "$/cancelRequest":
		s.cancelRequest(req)
		return
	case "chat/cancel":
		s.chatCancel(req)
		return
	case "initialized":
		return
	case "exit":
		s.exit(conn)
		return
	}
	if req.Notif {
		s.log.Debug("ignored notification", "method", req.Method)
		return
	}
	m, ok := s.methods[req.Method]
	if !ok {
		s.reply(ctx, conn, req, nil, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "method not found: " + req.Method})
		return
	}
	s.mu.Lock()
	down := s.shutdown
	s.mu.Unlock()
	if down {
		s.reply(ctx, conn, req, nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: "the server is shutting down"})
		return
	}
	if !m.async {
		res, err := m.handle(ctx, req)
		s.reply(ctx, conn, req, res, err)
		return
	}
	// Registered before the goroutine starts, so that a $/cancelRequest read
	// right after this request always finds it.
	rctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.inflight[req.ID] = cancel
	rctx = providers.WithLimits(rctx, s.limits)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.inflight, req.ID)
			s.mu.Unlock()
			cancel()
		}()
		res, err := m.handle(rctx, req)
		s.reply(ctx, conn, req, res, err)
	}()
}

// rawResult is a result already encoded as JSON, in pieces, which go out
// as they are.
type rawResult [][]byte

// reply answers req. A result is encoded once and written as it is:
// jsonrpc2's Reply would marshal it, then compact it twice more (once in
// Response.MarshalJSON, once around the message), which for a list of a
// thousand sessions took several times reading them from the store.
func (s *Server) reply(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request, res any, err error) {
	if err == nil {
		raw, ok := res.(rawResult)
		if !ok {
			var b []byte
			b, err = json.Marshal(res)
			raw = rawResult{b}
		}
		if err == nil {
			id, _ := req.ID.MarshalJSON()
			head := append(append([]byte(`{"jsonrpc":"2.0","id":`), id...), `,"result":`...)
			frame := append(append([][]byte{head}, raw...), []byte("}"))
			if err := s.stream.writeFrame(frame...); err != nil {
				s.log.Debug("could not send a response", "method", req.Method, "error", err)
			}
			return
		}
	}
	rerr := toError(err)
	if rerr.Code == jsonrpc2.CodeInternalError {
		s.log.Error("request failed", "method", req.Method, "error", err)
	}
	if err := conn.ReplyWithError(ctx, req.ID, rerr); err != nil {
		s.log.Debug("could not send a response", "method", req.Method, "error", err)
	}
}

func (s *Server) cancelAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.inflight {
		cancel()
	}
}

// slogAdapter gives jsonrpc2's own complaints to slog.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.log.Debug("jsonrpc2", "message", trimNewline(format, v...))
}

func trimNewline(format string, v ...any) string {
	return strings.TrimSpace(fmt.Sprintf(format, v...))
}
