package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startTimeout bounds starting a server and asking it for its tools, so
// that a server that never answers holds up no turn for long. Tool calls
// have no such bound: a tool may take its time, and the user can cancel.
const startTimeout = 30 * time.Second

// inherited are the variables of tinychat's environment that a server's
// command gets, beside its env table: what programs need to run, and not
// the keys of tinychat's providers.
var inherited = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TMPDIR", "TZ",
	"LANG", "LC_ALL", "LC_CTYPE",
	"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	// Windows
	"SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "TEMP", "TMP", "USERPROFILE", "APPDATA", "LOCALAPPDATA",
}

// ServerError is an MCP server that could not be started or reached, or
// that stopped during a call. Its message names the server and never shows
// its env, headers or URL.
type ServerError struct {
	Server string
	Err    error
	// Stderr is the last lines a stdio server wrote on its stderr, if any.
	Stderr string
}

func (e *ServerError) Error() string {
	msg := fmt.Sprintf("mcp server %s: %v", e.Server, e.Err)
	if e.Stderr != "" {
		msg += "; the last lines of its stderr:\n" + e.Stderr
	}
	return msg
}

func (e *ServerError) Unwrap() error { return e.Err }

// errClosed is the failure of a server used after Manager.Close.
var errClosed = errors.New("stopped: tinychat's tools are closed")

// server is one MCP server of a Manager.
type server struct {
	name string
	cfg  ServerConfig
	log  *slog.Logger
	stop context.Context // done when the Manager closes

	// lock is held while starting, replacing or stopping conn: a channel,
	// so that waiting for it can end with the caller's ctx.
	lock   chan struct{}
	conn   *conn // nil until started, and after Close
	closed bool
}

// conn is a session with a server: one run of a stdio server's process.
type conn struct {
	session *mcp.ClientSession
	stderr  *tail // nil for an HTTP server
	closing atomic.Bool
	// done is closed when the session ended, unasked or by close, and the
	// process was reaped; exit then says how it ended (nil: cleanly).
	done chan struct{}
	exit error

	mu sync.Mutex
	// changes counts the server's list_changed notifications; tools is its
	// tool list as of listed changes (listed is -1 before the first).
	changes int
	listed  int
	tools   []Tool
}

// connection returns the live session with the server, starting it if it
// was not yet started or has stopped since its last use.
func (s *server) connection(ctx context.Context) (*conn, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()
	if s.closed {
		return nil, &ServerError{Server: s.name, Err: errClosed}
	}
	if c := s.conn; c != nil {
		select {
		case <-c.done:
			s.log.Info("starting mcp server again", "server", s.name)
		default:
			return c, nil
		}
	}
	c, err := s.start(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = c
	return c, nil
}

// start starts the server, or connects to it, and initializes a session.
func (s *server) start(ctx context.Context) (*conn, error) {
	c := &conn{done: make(chan struct{}), listed: -1}
	version := "(devel)"
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "tinychat", Version: version}, &mcp.ClientOptions{
		// No roots: one server serves every workspace of the daemon.
		Capabilities: &mcp.ClientCapabilities{},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			c.mu.Lock()
			c.changes++
			c.mu.Unlock()
			s.log.Debug("mcp server's tools changed", "server", s.name)
		},
	})
	var transport mcp.Transport
	if s.cfg.URL != "" {
		transport = &mcp.StreamableClientTransport{
			Endpoint:   s.cfg.URL,
			HTTPClient: &http.Client{Transport: headerTransport{s.cfg.Headers, http.DefaultTransport}},
		}
	} else {
		cmd := exec.Command(s.cfg.Command, s.cfg.Args...)
		for _, k := range inherited {
			if v, ok := os.LookupEnv(k); ok {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		for k, v := range s.cfg.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		c.stderr = &tail{}
		cmd.Stderr = c.stderr
		// A child of the server may keep its stderr open after it exited.
		cmd.WaitDelay = time.Second
		transport = &mcp.CommandTransport{Command: cmd}
	}
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	defer context.AfterFunc(s.stop, cancel)()
	session, err := client.Connect(startCtx, transport, nil)
	if err != nil {
		// Connect stopped the process, if it started: its stderr is whole.
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case s.stop.Err() != nil:
			return nil, &ServerError{Server: s.name, Err: errClosed}
		case startCtx.Err() != nil:
			return nil, s.failure(fmt.Errorf("did not answer within %v of its start", startTimeout), c)
		case s.cfg.URL != "":
			return nil, s.failure(fmt.Errorf("could not connect: %w", err), c)
		}
		return nil, s.failure(fmt.Errorf("could not start: %w", err), c)
	}
	c.session = session
	go func() {
		session.Wait()
		// Close reaps the process, so that its exit status and stderr are
		// whole, before done says it ended.
		c.exit = session.Close()
		close(c.done)
		if !c.closing.Load() {
			s.log.Warn("mcp server stopped", "server", s.name, "error", s.stopped(c))
		}
	}()
	s.log.Info("mcp server started", "server", s.name)
	return c, nil
}

// tools returns the server's tools, listing them unless they were listed
// since the server last said that they changed.
func (s *server) tools(ctx context.Context) ([]Tool, error) {
	c, err := s.connection(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	changes := c.changes
	if c.listed == changes {
		defer c.mu.Unlock()
		return c.tools, nil
	}
	c.mu.Unlock()

	listCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var tools []Tool
	seen := map[string]bool{}
	for t, err := range c.session.Tools(listCtx, nil) {
		if err != nil {
			if ctx.Err() == nil && listCtx.Err() != nil {
				return nil, s.failure(fmt.Errorf("did not list its tools within %v", startTimeout), c)
			}
			return nil, s.failed(ctx, c, err)
		}
		if seen[t.Name] {
			continue // a server's mistake; its call could not tell them apart
		}
		seen[t.Name] = true
		schema, err := json.Marshal(t.InputSchema)
		if err != nil || t.InputSchema == nil {
			schema = json.RawMessage(`{"type":"object"}`)
		}
		tools = append(tools, Tool{Name: t.Name, Description: t.Description, Schema: schema, Server: s.name})
	}
	s.log.Debug("mcp server's tools listed", "server", s.name, "tools", len(tools))
	c.mu.Lock()
	defer c.mu.Unlock()
	// A notification that came during the listing leaves it stale.
	if c.changes == changes {
		c.tools, c.listed = tools, changes
	}
	return tools, nil
}

// call calls the server's tool name with args.
func (s *server) call(ctx context.Context, name string, args json.RawMessage) (Result, error) {
	c, err := s.connection(ctx)
	if err != nil {
		return Result{}, err
	}
	res, err := c.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	var wire *jsonrpc.Error
	switch {
	case errors.As(err, &wire):
		// The server answered with an error, about the arguments or the
		// tool: the model can do something about it.
		return failure("%s", wire.Message), nil
	case err != nil:
		return Result{}, s.failed(ctx, c, err)
	}
	return Result{Content: content(res), IsError: res.IsError}, nil
}

// failed is the error of a request to the server that failed with err,
// ctx being the caller's.
func (s *server) failed(ctx context.Context, c *conn, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, mcp.ErrConnectionClosed):
		return s.stopped(c)
	case c.stderr != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)):
		// A stdio server's pipes broke: the process is ending, if not gone.
		return s.stopped(c)
	}
	return s.failure(err, c)
}

// stopped is the error of a server whose session ended unasked. It waits
// for the session to end, if it is ending, and its process to be reaped;
// the next use then starts the server again.
func (s *server) stopped(c *conn) error {
	<-c.done
	if c.exit == nil {
		return s.failure(errors.New("stopped"), c)
	}
	return s.failure(fmt.Errorf("stopped: %w", c.exit), c)
}

// failure is err as a *ServerError, with the URL of an HTTP server, which
// may hold a token, taken out of its message.
func (s *server) failure(err error, c *conn) error {
	e := &ServerError{Server: s.name, Err: err}
	if c.stderr != nil {
		e.Stderr = c.stderr.String()
	}
	if s.cfg.URL != "" {
		msg := err.Error()
		if u, perr := url.Parse(s.cfg.URL); perr == nil {
			msg = strings.ReplaceAll(msg, s.cfg.URL, u.Scheme+"://"+u.Host+"/...")
		}
		e.Err = hidden{msg, err}
	}
	return e
}

// hidden is an error with another message, which leaves out a secret.
type hidden struct {
	msg string
	err error
}

func (h hidden) Error() string { return h.msg }
func (h hidden) Unwrap() error { return h.err }

// close ends the session with the server, stopping a stdio server.
func (s *server) close() error {
	s.lock <- struct{}{}
	defer func() { <-s.lock }()
	s.closed = true
	c := s.conn
	s.conn = nil
	if c == nil {
		return nil
	}
	select {
	case <-c.done:
		return nil // it had stopped, and that was logged
	default:
	}
	c.closing.Store(true)
	c.session.Close()
	<-c.done
	if c.exit != nil {
		return s.failure(fmt.Errorf("stopping: %w", c.exit), c)
	}
	return nil
}

// headerTransport adds a server's headers to every request to it.
type headerTransport struct {
	headers map[string]string
	base    http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		r.Header.Set(k, v)
	}
	return t.base.RoundTrip(r)
}

// content is the text of a tool's result given to the model: its content
// blocks joined, those that are not text described; or, when it has none,
// its structured content as JSON.
func content(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			parts = append(parts, c.Text)
		case *mcp.ImageContent:
			parts = append(parts, fmt.Sprintf("[%s, %d bytes]", c.MIMEType, len(c.Data)))
		case *mcp.AudioContent:
			parts = append(parts, fmt.Sprintf("[%s, %d bytes]", c.MIMEType, len(c.Data)))
		case *mcp.ResourceLink:
			parts = append(parts, fmt.Sprintf("[resource %s: %s]", c.Name, c.URI))
		case *mcp.EmbeddedResource:
			if r := c.Resource; r == nil {
				parts = append(parts, "[resource]")
			} else if r.Blob == nil {
				parts = append(parts, fmt.Sprintf("[resource %s]\n%s", r.URI, r.Text))
			} else {
				parts = append(parts, fmt.Sprintf("[resource %s: %s, %d bytes]", r.URI, r.MIMEType, len(r.Blob)))
			}
		default:
			parts = append(parts, fmt.Sprintf("[%T content]", c))
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if data, err := json.Marshal(res.StructuredContent); err == nil {
			return string(data)
		}
	}
	return strings.Join(parts, "\n")
}

// tail keeps the last lines written to it: a server's stderr, for the
// reports of its failures.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

// Bounds of what a tail keeps and shows.
const (
	tailBytes = 4 << 10
	tailLines = 10
)

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

// String returns the last lines written, each indented by two spaces.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	text := string(t.buf)
	if len(text) > tailBytes {
		// Starting at a line's beginning.
		text = text[len(text)-tailBytes:]
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return "  " + strings.Join(lines, "\n  ")
}
