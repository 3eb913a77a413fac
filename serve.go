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

func (e *env) serve(f *serveFlags) error {
	log, handler, err := e.logger(slog.LevelInfo, false)
	if err != nil {
		return err
	}
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
		return err
	}
	store := session.Start(path)
	defer store.Close()
	reg, cfg, err := e.registry(log, &f.limitFlags, func(provider string, attempt int, wait time.Duration, err error) {
		log.Warn("retrying provider request", "provider", provider, "attempt", attempt, "wait", wait.Round(time.Millisecond), "error", err)
	})
	if err != nil {
		return err
	}
	toolbox, policy, err := toolsOf(cfg, log)
	if err != nil {
		return err
	}
	defer toolbox.Close()
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	go func() {
		if err := store.Ready(); err != nil {
			stop(err)
		}
	}()
	log.Info("tinychat serving", "version", version, "db", store.Path(), "jsonl", f.jsonl)

	code := rpc.Serve(ctx, e.stdin, e.stdout, rpc.Options{
		JSONL:          f.jsonl,
		MaxMessageSize: f.maxSize,
		Store:          store,
		Providers:      reg,
		MaxReplyBytes:  cfg.MaxReplyBytes,
		Settings:       chat.ConfigSettings(reg, cfg),
		Tools:          toolbox,
		Policy:         policy,
		Version:        version,
		Logger:         log,
		LogHandler:     handler,
	})
	if err := store.Ready(); err != nil {
		return err
	}
	if code != 0 {
		return exitError(code)
	}
	return nil
}
