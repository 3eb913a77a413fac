package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
)

// Manager runs the tools of a daemon: the built-in ones and those of its
// MCP servers. It starts each stdio server once, on first use, and stops
// it in Close; a server that died is started again at its next use, and
// why it died is reported (an error naming the server, with the last lines
// it wrote on stderr), never waited for. It connects to HTTP servers on
// first use too. It lists a server's tools (every page) once, and again
// after the server says that they changed (notifications/tools/list_changed).
//
// A Manager's methods may be called concurrently.
type Manager struct {
	log     *slog.Logger
	servers []*server // by name
	// own are the servers this Manager started and Close stops: all of
	// servers, but for a Manager made by With.
	own []*server
	// stop is done when Close is called; it cancels starts under way.
	stop   context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// names maps the names of MCP tools as the model sees them, as the last
	// Tools call gave them, to the tools.
	names map[string]mcpTool
}

// mcpTool is the tool called name on a server.
type mcpTool struct {
	server *server
	name   string
}

// NewManager returns a Manager of the MCP servers given by name, which it
// does not start until they are used. A server's command gets the
// variables of tinychat's environment that programs need to run (PATH,
// HOME, USER, locale, temporary folder, proxies: see inherited) and its env
// table, and not the rest, which holds the keys of tinychat's providers.
// log may be nil.
func NewManager(servers map[string]ServerConfig, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{log: log, names: map[string]mcpTool{}}
	m.stop, m.cancel = context.WithCancel(context.Background())
	for _, name := range slices.Sorted(maps.Keys(servers)) {
		m.servers = append(m.servers, &server{name: name, cfg: servers[name], log: log, stop: m.stop, lock: make(chan struct{}, 1)})
	}
	m.own = m.servers
	return m
}

// Close stops the stdio servers that m started (closing their stdin, then,
// if they do not exit within seconds, signalling them) and disconnects from
// the HTTP ones; those a Manager made by With shares are left to the
// Manager it was made from. It returns the failures of servers that did not exit cleanly.
// After Close, the MCP servers are reported as problems by Tools, and
// calls of their tools fail.
func (m *Manager) Close() error {
	m.cancel()
	errs := make([]error, len(m.own))
	var wg sync.WaitGroup
	for i, s := range m.own {
		wg.Go(func() { errs[i] = s.close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Tools lists the built-in tools, unless workspace is "", then the tools
// of every MCP server in the order of the servers' names. A server that
// cannot be started or reached is left out, and why is one of problems
// (a *ServerError, or ctx's error): that is no failure of the whole list.
// The servers are asked at the same time, so the slowest one sets the time
// Tools takes.
//
// An MCP tool is named <server>__<tool>, but for names that would be
// longer than 64 bytes, hold characters other than letters, digits, _ and -
// (each replaced by _), or repeat another's: those are cut and end with _
// and hex digits of a hash of the server's and tool's names, which keeps
// them the same from one call to the next.
func (m *Manager) Tools(ctx context.Context, workspace string) (tools []Tool, problems []error) {
	if workspace != "" {
		for _, b := range builtins {
			tools = append(tools, b.Tool)
		}
	}
	lists := make([][]Tool, len(m.servers))
	errs := make([]error, len(m.servers))
	var wg sync.WaitGroup
	for i, s := range m.servers {
		wg.Go(func() { lists[i], errs[i] = s.tools(ctx) })
	}
	wg.Wait()

	n := namer{taken: map[string]bool{}}
	for _, b := range builtins {
		n.taken[b.Name] = true
	}
	names := map[string]mcpTool{}
	for i, s := range m.servers {
		if errs[i] != nil {
			problems = append(problems, errs[i])
			continue
		}
		for _, t := range lists[i] {
			mcpName := t.Name
			t.Name = n.name(s.name, mcpName)
			names[t.Name] = mcpTool{server: s, name: mcpName}
			tools = append(tools, t)
		}
	}
	m.mu.Lock()
	m.names = names
	m.mu.Unlock()
	return tools, problems
}

// Call runs the tool called name, as Tools named it, with args (a JSON
// object; empty means {}), in workspace, an absolute folder, which confines
// the built-in tools.
//
// Result.IsError reports a tool that ran and failed: a missing file, a
// path outside the workspace, arguments it cannot use, an MCP result with
// isError or an error the MCP server answered. Call returns an error when
// the tool could not be run: ctx was done (then the error is ctx.Err()), the
// workspace is not a folder, or the MCP server could not be started or
// reached, or stopped during the call (a *ServerError). Cancelling ctx ends
// a call at once: an MCP server is told the request is cancelled, and is
// not stopped for it.
//
// Result.Content is at most MaxOutput (64 KiB): longer output is cut, with
// a note saying so.
func (m *Manager) Call(ctx context.Context, workspace, name string, args json.RawMessage) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if args = bytes.TrimSpace(args); len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	if !json.Valid(args) || args[0] != '{' {
		return failure("the arguments must be a JSON object"), nil
	}
	if b := findBuiltin(name); b != nil {
		w, err := openWorkspace(workspace)
		if err != nil {
			return Result{}, err
		}
		defer w.Close()
		r, err := b.run(ctx, w, args)
		return bound(r), err
	}
	t, ok := m.lookup(name)
	var problems []error
	if !ok {
		// The servers' tools may have changed since the last listing, or
		// this is the Manager of another process than the one that listed.
		_, problems = m.Tools(ctx, "")
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		t, ok = m.lookup(name)
	}
	if !ok {
		msg := fmt.Sprintf("there is no tool called %q", name)
		if len(problems) > 0 {
			msg += fmt.Sprintf("; these MCP servers could not be asked for theirs: %v", errors.Join(problems...))
		}
		return failure("%s", msg), nil
	}
	r, err := t.server.call(ctx, t.name, args)
	return bound(r), err
}

func (m *Manager) lookup(name string) (mcpTool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.names[name]
	return t, ok
}
