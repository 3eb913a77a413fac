package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/tinychat/tinychat/acp"
	"github.com/tinychat/tinychat/chat"
)

func (e *env) acpCommand() *cobra.Command {
	var f limitFlags
	cmd := &cobra.Command{
		Use:   "acp [flags]",
		Short: "Run as an ACP agent, for Zed, JetBrains IDEs, CodeCompanion, avante and other ACP clients",
		Long: `Run as an agent of the Agent Client Protocol (ACP, protocol version 1):
newline-delimited JSON-RPC 2.0 on stdin and stdout, which carries nothing
else; the log goes to stderr. Editors that speak ACP (Zed, JetBrains IDEs,
CodeCompanion and avante in Neovim, agent-shell in Emacs) start it as
their agent. Its sessions are tinychat's, in the same store: a chat
started in one editor continues in another, or with 'tinychat ask'.
docs/acp.md describes what it supports.`,
		Example: `acpx --agent "tinychat acp" exec "hello"`,
		Args:    exactArgs(0),
		RunE:    func(cmd *cobra.Command, args []string) error { return e.acp(&f) },
	}
	f.add(cmd.Flags())
	return cmd
}

func (e *env) acp(f *limitFlags) error {
	log, _, err := e.logger(slog.LevelInfo, false)
	if err != nil {
		return err
	}
	b, err := e.startBackend(log, f)
	if err != nil {
		return err
	}
	log.Info("tinychat serving ACP", "version", version, "db", b.store.Path())
	// The ACP connection logs through the default logger: to stderr too,
	// never stdout.
	slog.SetDefault(log)
	engine := &chat.Engine{Store: b.store, Providers: b.reg, Tools: b.tools, Policy: b.policy,
		MaxReplyBytes: b.cfg.MaxReplyBytes, Logger: log}
	serr := acp.Serve(b.ctx, e.stdin, quietStdout(e.stdout), acp.Options{Engine: engine, Settings: b.settings, Tools: b.tools,
		Version: version, Logger: log})
	if err := b.close(); err != nil {
		return err
	}
	return serr
}
