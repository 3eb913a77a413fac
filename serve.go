package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/rpc"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// serveFlags are the daemon's flags.
type serveFlags struct {
	limitFlags
	jsonl   bool
	maxSize int
}

func (f *serveFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&f.jsonl, "jsonl", false, "newline-delimited JSON instead of LSP Content-Length framing")
	fs.IntVar(&f.maxSize, "max-message-size", rpc.DefaultMaxMessageSize, "the largest message accepted, in `bytes`")
	f.limitFlags.add(fs)
}

func (e *env) serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the daemon that editors talk to, on stdin and stdout (the default)",
		Long: `Run the daemon that editors talk to: JSON-RPC 2.0 on stdin and stdout,
with LSP Content-Length framing, or one JSON value per line with --jsonl.
'tinychat' alone does the same. docs/protocol.md describes the protocol.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return e.serve(&f) },
	}
	f.add(cmd.Flags())
	return cmd
}

// toolsOf reads the [mcp_servers] and [tools] tables of the configuration
// file and returns the tools a turn may offer: the built-in workspace
// tools and those of the MCP servers, started when first used.
func toolsOf(cfg *providers.Config, log *slog.Logger) (*tools.Manager, tools.Policy, error) {
	servers, policy, err := tools.ParseConfig(cfg.Path, cfg.Data)
	if err != nil {
		return nil, tools.Policy{}, err
	}
	return tools.NewManager(servers, log), policy, nil
}

// gcPercent is the daemon's GOGC unless the environment sets one. One
// daemon runs per open editor, mostly waiting, and its live heap is small,
// so memory counts for more than the CPU of collecting twice as often: with
// Go's default of 100, a 100k-delta reply peaked at 18.6/19.1 MB and 500
// streams at once at 54.8/55.1 MB; with 50, 17.5/17.8 MB and 47.2/47.4 MB,
// for 3.46/3.15 µs of CPU a delta instead of 2.90/2.95 (the bench, three
// iterations a run, alternating).
const gcPercent = 50

// backend is what the long-running faces, the daemon and the ACP agent,
// run turns on: the store, the providers, the tools and their policy, as
// the flags, the configuration file and the environment set them.
type backend struct {
	store    *session.Store
	reg      *providers.Registry
	cfg      *providers.Config
	tools    *tools.Manager
	policy   tools.Policy
	settings chat.Settings
	// ctx ends, with the store's error as its cause, when the store cannot
	// be opened.
	ctx  context.Context
	stop context.CancelCauseFunc
}

// startBackend opens the store, on another thread (requests that need it
// wait for it), and reads the configuration. Close the backend when done.
func (e *env) startBackend(log *slog.Logger, limits *limitFlags) (*backend, error) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// The store opens on another thread while the configuration is read
	// and initialize answered: a first SQLite connection, the schema's
	// parse and check, the switch to WAL. Waiting for it put about 1 ms on
	// the 5-6 ms to the answer. Requests that need it wait for it; one that
	// cannot be opened stops the daemon (below).
	path, err := e.dbPath()
	if err != nil {
		return nil, err
	}
	b := &backend{store: session.Start(path)}
	b.reg, b.cfg, err = e.registry(log, limits, func(provider string, attempt int, wait time.Duration, err error) {
		log.Warn("retrying provider request", "provider", provider, "attempt", attempt, "wait", wait.Round(time.Millisecond), "error", err)
	})
	if err == nil {
		b.tools, b.policy, err = toolsOf(b.cfg, log)
	}
	if err != nil {
		b.store.Close()
		return nil, err
	}
	b.settings = chat.ConfigSettings(b.reg, b.cfg)
	b.ctx, b.stop = context.WithCancelCause(context.Background())
	go func() {
		if err := b.store.Ready(); err != nil {
			b.stop(err)
		}
	}()
	return b, nil
}

// close stops the MCP servers and closes the store. It returns the store's
// error if it could not be opened.
func (b *backend) close() error {
	b.stop(nil)
	b.tools.Close()
	err := b.store.Ready()
	b.store.Close()
	return err
}

func (e *env) serve(f *serveFlags) error {
	log, handler, err := e.logger(slog.LevelInfo, false)
	if err != nil {
		return err
	}
	b, err := e.startBackend(log, &f.limitFlags)
	if err != nil {
		return err
	}
	log.Info("tinychat serving", "version", version, "db", b.store.Path(), "jsonl", f.jsonl)

	code := rpc.Serve(b.ctx, e.stdin, quietStdout(e.stdout), rpc.Options{
		JSONL:          f.jsonl,
		MaxMessageSize: f.maxSize,
		Store:          b.store,
		Providers:      b.reg,
		MaxReplyBytes:  b.cfg.MaxReplyBytes,
		Settings:       b.settings,
		Tools:          b.tools,
		Policy:         b.policy,
		Version:        version,
		Logger:         log,
		LogHandler:     handler,
	})
	if err := b.close(); err != nil {
		return err
	}
	if code != 0 {
		return exitError(code)
	}
	return nil
}
