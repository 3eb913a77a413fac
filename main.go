// Command tinychat is a chat backend for editors and a command line for
// chatting with LLMs: a daemon that speaks JSON-RPC 2.0 on stdio, streams
// replies from LLM providers and keeps every workspace's conversations in
// SQLite, and commands that use the same store. See README.md.
//
// This file builds the command tree and maps errors to exit codes; each
// family of commands has a file of its own beside it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/rpc"
	"github.com/tinychat/tinychat/session"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1 // a runtime failure: a provider error, a missing key, a store that cannot be used
	exitUsage       = 2 // the command line is wrong
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what every command gets: its streams and the flags shared by all.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	db       string
	logLevel string
	config   string
}

// run runs the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	var (
		code   exitError
		usage  *usageError
		signal *interrupted
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &signal):
		return signal.code()
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "tinychat: %v\nRun '%s --help' for usage.\n", usage.err, cmd.CommandPath())
		return exitUsage
	default:
		fmt.Fprintln(stderr, "tinychat:", err)
		return exitFailure
	}
}

// usageError is a command line that is wrong: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError is an exit status with nothing more to say.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const rootLong = `Chat with LLMs from the command line, and from editors.

tinychat keeps every conversation in one store on this machine, shared by
the command line and the editors (Neovim, VS Code), so a chat started in
one can be continued, searched and exported from the others. Replies come
from Anthropic, OpenAI, Mistral, Gemini, any OpenAI-compatible server
(Ollama, vLLM, llama.cpp), or the built-in offline echo. Keys come from
the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, ...) or config.toml.

Ask a question; the reply streams to stdout:

    tinychat ask "Five names for a pet pelican"

Pipe a file in as context, and continue the chat:

    cat main.go | tinychat ask "explain this"
    tinychat ask "and how would you test it?"

With no command, tinychat is the daemon that editors talk to (see
'tinychat help serve').`

// usageTemplate is cobra's, laid out as llm's and click's are: the usage
// line, what the command does, then its flags and commands.
const usageTemplate = `Usage: {{if .HasAvailableSubCommands}}{{.CommandPath}} [COMMAND] [flags] [ARGS]...{{else}}{{.UseLine}}{{end}}
{{with (or .Long .Short)}}
{{. | trimTrailingWhitespaces | indent}}
{{end}}{{if .HasExample}}
Examples:
{{.Example | indent}}
{{end}}{{if .HasAvailableLocalFlags}}
Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableInheritedFlags}}
Global flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableSubCommands}}
Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }}  {{.Short}}{{end}}{{end}}

Run '{{.CommandPath}} help COMMAND' for more about a command.
{{end}}`

func (e *env) rootCommand() *cobra.Command {
	var srv serveFlags
	root := &cobra.Command{
		Use:     "tinychat",
		Short:   "Chat with LLMs from the command line, and from editors",
		Long:    rootLong,
		Version: version,
		// Without a command, tinychat is the daemon: editors start it so.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				return usagef("unknown command %q; did you mean %q?", args[0], s[0])
			}
			return usagef("unknown command %q", args[0])
		},
		RunE:                       func(cmd *cobra.Command, args []string) error { return e.serve(&srv) },
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		// Help is generated from the commands' own text; no completion
		// scripts to list among them.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	cobra.AddTemplateFunc("indent", func(s string) string {
		return "  " + strings.ReplaceAll(s, "\n", "\n  ")
	})
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate(`{{.UsageString}}`)
	root.SetVersionTemplate("tinychat {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return &usageError{err} })
	root.Flags().SortFlags = false

	pf := root.PersistentFlags()
	pf.StringVar(&e.db, "db", "", "the store `file` (default $TINYCHAT_DB, else $XDG_DATA_HOME/tinychat/tinychat.db); :memory: for a throwaway one")
	pf.StringVar(&e.config, "config", "", "the configuration `file` (default $TINYCHAT_CONFIG, else $XDG_CONFIG_HOME/tinychat/config.toml)")
	pf.StringVar(&e.logLevel, "log-level", os.Getenv("TINYCHAT_LOG_LEVEL"), "`level` of the log on stderr: debug, info, warn or error (default $TINYCHAT_LOG_LEVEL, else info for the daemon, warn for other commands)")
	pf.BoolP("help", "h", false, "show this message and exit")
	pf.SortFlags = false
	root.Flags().Bool("version", false, "show the version and exit")

	// The daemon's flags, on the root too, where editors give them; they
	// are shown by 'tinychat help serve'.
	srv.add(root.Flags())
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = f.Name != "version" })

	root.AddCommand(e.askCommand(), e.chatCommand(), e.sessionsCommand(), e.exportCommand(), e.importCommand(),
		e.renameCommand(), e.rmCommand(), e.searchCommand(), e.modelsCommand(), e.configCommand(),
		e.serveCommand(), e.acpCommand(), e.versionCommand())
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		c.Flags().SortFlags = false
		if c.Name() == "help" {
			c.Short = "Show help for a command"
		}
	}
	return root
}

// exactArgs, rangeArgs and minArgs are cobra's argument checks, whose
// errors are usage errors.
func exactArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.ExactArgs(n)) }
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return usageArgs(cobra.RangeArgs(lo, hi))
}
func minArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MinimumNArgs(n)) }

func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(e.stdout, "tinychat", version)
			return nil
		},
	}
}

// logger logs to stderr at the --log-level, else at fallback. The daemon's
// lines are slog's, for its log files; the other commands' are short lines
// for a person (humanHandler).
func (e *env) logger(fallback slog.Level, human bool) (*slog.Logger, *rpc.LogHandler, error) {
	level := fallback
	if e.logLevel != "" {
		if err := level.UnmarshalText([]byte(e.logLevel)); err != nil {
			return nil, nil, usagef("bad log level %q: want debug, info, warn or error", e.logLevel)
		}
	}
	if human {
		return slog.New(&humanHandler{w: e.stderr, level: level}), nil, nil
	}
	h := rpc.NewLogHandler(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	return slog.New(h), h, nil
}

// dbPath is the store the flags name, else the default one, whose
// directory is tinychat's own: that one is made private if it is not.
func (e *env) dbPath() (string, error) {
	if e.db != "" {
		return e.db, nil
	}
	path := session.DefaultPath(os.Getenv)
	if os.Getenv("TINYCHAT_DB") == "" {
		if err := session.PrivateDir(filepath.Dir(path)); err != nil {
			return "", err
		}
	}
	return path, nil
}

func (e *env) open() (*session.Store, error) {
	path, err := e.dbPath()
	if err != nil {
		return nil, err
	}
	return session.Open(path)
}

// registry reads the configuration file and sets up the providers from it
// and the environment. A file that cannot be used is an error: the command
// stops rather than run without it.
func (e *env) registry(log *slog.Logger, limits *limitFlags, onRetry func(provider string, attempt int, wait time.Duration, err error)) (*providers.Registry, *providers.Config, error) {
	cfg, err := providers.LoadConfig(e.config, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	log.Debug("configuration", "file", cfg.Path, "found", cfg.Found)
	// Only a file with a command to run is worth a warning: /dev/null is
	// writable by all and harmless.
	for _, pc := range cfg.Providers {
		if cfg.Unsafe != "" && pc.APIKeyCmd != "" {
			log.Warn("the configuration file's api_key_cmd commands will not run", "reason", cfg.Unsafe)
			break
		}
	}
	opts := providers.Options{Config: cfg, Getenv: os.Getenv, Logger: log, OnRetry: onRetry}
	if limits != nil {
		opts.MaxRetries = limits.retries
		if opts.MaxRetries == 0 {
			opts.MaxRetries = -1 // Options take 0 for the default
		}
		opts.ConnectTimeout, opts.FirstByteTimeout, opts.IdleTimeout = limits.connectTimeout, limits.firstByteTimeout, limits.idleTimeout
	}
	return providers.NewRegistry(opts), cfg, nil
}

// limitFlags bound provider requests: the flags of the commands that call
// providers.
type limitFlags struct {
	retries                                       int
	connectTimeout, firstByteTimeout, idleTimeout time.Duration
}

func (l *limitFlags) add(fs *pflag.FlagSet) {
	fs.IntVar(&l.retries, "retries", 3, "retries of a provider request that failed before any text arrived (connection errors, 429, 5xx); 0 for none")
	fs.DurationVar(&l.connectTimeout, "connect-timeout", 10*time.Second, "limit on connecting to a provider")
	fs.DurationVar(&l.firstByteTimeout, "first-byte-timeout", 60*time.Second, "limit on waiting for the first event of a reply")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", 60*time.Second, "limit on the gap between two events of a reply")
}

// workspace is the workspace of dir, the working directory when it is "".
func workspace(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	if !strings.HasPrefix(dir, "file:") {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		dir = abs
	}
	ws, err := session.NormalizeWorkspace(dir)
	if err != nil {
		return "", usagef("%v", err)
	}
	return ws, nil
}

// resolve finds a session by its id or a unique prefix of it.
func resolve(ctx context.Context, store *session.Store, id string) (*session.Session, error) {
	sess, err := store.Resolve(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return nil, fmt.Errorf("no session has the id %q", id)
	}
	return sess, err
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
