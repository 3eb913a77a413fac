// Command tinychat is a chat backend for editors: a daemon that speaks
// JSON-RPC 2.0 on stdio, streams replies from LLM providers and keeps every
// workspace's conversations in SQLite. See README.md.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/rpc"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `usage: tinychat [command] [flags]

commands:
  serve      run the daemon on stdio (the default)
  ask        one turn in a workspace's current session, reply on stdout
  sessions   list a workspace's sessions
  export     print a session as text, markdown or json
  search     full-text search over every stored message
  config     print the resolved configuration
  version    print the version

Run 'tinychat COMMAND -h' for a command's flags.
`

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	commands := map[string]func(args []string, stdin io.Reader, stdout, stderr io.Writer) error{
		"serve":    serve,
		"ask":      ask,
		"sessions": sessions,
		"export":   export,
		"search":   search,
		"config":   config,
		"version": func([]string, io.Reader, io.Writer, io.Writer) error {
			fmt.Fprintln(stdout, "tinychat", version)
			return nil
		},
	}
	f, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "tinychat: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	err := f(args, stdin, stdout, stderr)
	var code exitError
	switch {
	case errors.As(err, &code):
		return int(code)
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "tinychat:", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	default:
		fmt.Fprintln(stderr, "tinychat:", err)
		return 1
	}
}

// common holds the flags every command shares.
type common struct {
	db       string
	logLevel string
	config   string

	// Limits of provider requests, set by providerFlags.
	retries                                       int
	connectTimeout, firstByteTimeout, idleTimeout time.Duration
}

// providerFlags adds the flags of the commands that call providers.
func (c *common) providerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.retries, "retries", c.retries, "retries of a provider request that failed before any text arrived (connection errors, 429, 5xx); 0 for none")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 10*time.Second, "limit on connecting to a provider")
	fs.DurationVar(&c.firstByteTimeout, "first-byte-timeout", 60*time.Second, "limit on waiting for the first event of a reply")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 60*time.Second, "limit on the gap between two events of a reply")
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("tinychat "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{retries: 3}
	fs.StringVar(&c.db, "db", "", "database file (default $TINYCHAT_DB, else $XDG_DATA_HOME/tinychat/tinychat.db); :memory: for a throwaway store")
	fs.StringVar(&c.logLevel, "log-level", os.Getenv("TINYCHAT_LOG_LEVEL"), "debug, info, warn or error (default $TINYCHAT_LOG_LEVEL, else info for serve and warn for other commands)")
	fs.StringVar(&c.config, "config", "", "configuration file (default $TINYCHAT_CONFIG, else $XDG_CONFIG_HOME/tinychat/config.toml)")
	return fs, c
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	return nil
}

func (c *common) logger(stderr io.Writer, fallback slog.Level) (*slog.Logger, *rpc.LogHandler, error) {
	level := fallback
	if c.logLevel != "" {
		if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
			return nil, nil, fmt.Errorf("bad log level %q: %w", c.logLevel, errUsage)
		}
	}
	h := rpc.NewLogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return slog.New(h), h, nil
}

func (c *common) open() (*session.Store, error) {
	return session.Open(c.dbPath())
}

// dbPath is the database the flags name, else the default one.
func (c *common) dbPath() string {
	if c.db != "" {
		return c.db
	}
	return session.DefaultPath(os.Getenv)
}

// registry reads the configuration file and sets up the providers from it
// and the environment. A file that cannot be used is an error: the command
// stops rather than run without it.
func (c *common) registry(log *slog.Logger) (*providers.Registry, *providers.Config, error) {
	cfg, err := providers.LoadConfig(c.config, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	log.Debug("configuration", "file", cfg.Path, "found", cfg.Found)
	retries := c.retries
	if retries == 0 {
		retries = -1 // Options take 0 for the default
	}
	reg := providers.NewRegistry(providers.Options{
		Config:           cfg,
		Getenv:           os.Getenv,
		Logger:           log,
		MaxRetries:       retries,
		ConnectTimeout:   c.connectTimeout,
		FirstByteTimeout: c.firstByteTimeout,
		IdleTimeout:      c.idleTimeout,
		OnRetry: func(provider string, attempt int, wait time.Duration, err error) {
			log.Warn("retrying provider request", "provider", provider, "attempt", attempt, "wait", wait.Round(time.Millisecond), "error", err)
		},
	})
	return reg, cfg, nil
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

func serve(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, c := newFlags("serve", stderr)
	c.providerFlags(fs)
	jsonl := fs.Bool("jsonl", false, "newline-delimited JSON instead of LSP Content-Length framing")
	maxSize := fs.Int("max-message-size", rpc.DefaultMaxMessageSize, "largest message accepted, in bytes")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments: %w", errUsage)
	}
	log, handler, err := c.logger(stderr, slog.LevelInfo)
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
	store := session.Start(c.dbPath())
	defer store.Close()
	reg, cfg, err := c.registry(log)
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
	log.Info("tinychat serving", "version", version, "db", store.Path(), "jsonl", *jsonl)

	code := rpc.Serve(ctx, stdin, stdout, rpc.Options{
		JSONL:          *jsonl,
		MaxMessageSize: *maxSize,
		Store:          store,
		Providers:      reg,
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

// exitError is an exit status with nothing more to say.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// workspaceFlag is the --workspace flag: a directory, the working one by default.
func workspaceFlag(fs *flag.FlagSet) *string {
	return fs.String("workspace", "", "workspace directory (default: the working directory)")
}

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
	return session.NormalizeWorkspace(dir)
}

func ask(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, c := newFlags("ask", stderr)
	c.providerFlags(fs)
	provider := fs.String("provider", "", "provider (default: the session's last, else the first configured)")
	model := fs.String("model", "", "model (default: the session's last, else the provider's default)")
	dir := workspaceFlag(fs)
	cont := fs.String("continue", "", "continue this session instead of the workspace's current one")
	fresh := fs.Bool("new", false, "start a new session")
	noReasoning := fs.Bool("no-reasoning", false, "do not show the model's reasoning (shown dimmed on stderr by default)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tinychat ask [flags] MESSAGE|-")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	msg := strings.Join(fs.Args(), " ")
	if msg == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		msg = strings.TrimRight(string(b), "\n")
	}
	if strings.TrimSpace(msg) == "" {
		fs.Usage()
		return fmt.Errorf("ask needs a message, or - to read it from stdin: %w", errUsage)
	}
	if *cont != "" && *fresh {
		return fmt.Errorf("--continue and --new do not go together: %w", errUsage)
	}
	log, _, err := c.logger(stderr, slog.LevelWarn)
	if err != nil {
		return err
	}
	ws, err := workspace(*dir)
	if err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	reg, cfg, err := c.registry(log)
	if err != nil {
		return err
	}
	store, err := c.open()
	if err != nil {
		return err
	}
	defer store.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sessionID := *cont
	if *fresh {
		s, err := store.New(ctx, ws, "")
		if err != nil {
			return err
		}
		sessionID = s.ID
	}
	engine := &chat.Engine{Store: store, Providers: reg}
	turn, err := engine.Begin(ctx, chat.Request{Workspace: ws, SessionID: sessionID, Message: msg, Provider: *provider, Model: *model,
		Settings: chat.ConfigSettings(reg, cfg)})
	if err != nil {
		return err
	}
	r := newReplyWriter(stdout, stderr, !*noReasoning)
	res, err := turn.Run(ctx, r.event)
	r.end()
	if res != nil {
		if note := stopNotes[res.StopReason]; note != "" {
			fmt.Fprintln(stderr, "tinychat:", note)
		}
	}
	return err
}

// stopNotes say on stderr why a reply ended, where it was not its end.
var stopNotes = map[string]string{
	chat.StopMaxTokens:     "the reply was cut off at the token limit",
	chat.StopRefusal:       "the model refused to answer",
	chat.StopContentFilter: "the reply was stopped by the provider's content filter",
}

// replyWriter writes a reply as it streams: the answer to stdout, the
// reasoning to stderr, dimmed when stderr is a terminal, so that a pipe
// of stdout gets the answer alone.
type replyWriter struct {
	out, errw        *bufio.Writer
	reasoning        bool // show it
	dim              bool
	inReasoning      bool
	lastOut, lastErr byte // the last byte written to each, for the newlines at the end
}

func newReplyWriter(stdout, stderr io.Writer, reasoning bool) *replyWriter {
	return &replyWriter{out: bufio.NewWriter(stdout), errw: bufio.NewWriter(stderr), reasoning: reasoning, dim: isTerminal(stderr)}
}

func (r *replyWriter) event(e chat.Event) {
	if e.Kind == chat.Reasoning {
		if !r.reasoning {
			return
		}
		if r.dim && !r.inReasoning {
			r.errw.WriteString("\x1b[2m")
		}
		r.inReasoning = true
		r.errw.WriteString(e.Text)
		r.lastErr = e.Text[len(e.Text)-1]
		r.errw.Flush()
		return
	}
	r.endReasoning()
	r.out.WriteString(e.Text)
	r.lastOut = e.Text[len(e.Text)-1]
	r.out.Flush()
}

// endReasoning closes the reasoning, on a line of its own, before the
// answer starts or the reply ends.
func (r *replyWriter) endReasoning() {
	if !r.inReasoning {
		return
	}
	r.inReasoning = false
	if r.dim {
		r.errw.WriteString("\x1b[0m")
	}
	if r.lastErr != '\n' {
		r.errw.WriteString("\n")
	}
	r.errw.Flush()
}

// end ends the reply with a newline, if it has none.
func (r *replyWriter) end() {
	r.endReasoning()
	if r.lastOut != 0 && r.lastOut != '\n' {
		r.out.WriteString("\n")
	}
	r.out.Flush()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func sessions(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, c := newFlags("sessions", stderr)
	dir := workspaceFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON, as session/list returns it")
	if err := parse(fs, args); err != nil {
		return err
	}
	ws, err := workspace(*dir)
	if err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	store, err := c.open()
	if err != nil {
		return err
	}
	defer store.Close()
	list, err := store.List(context.Background(), ws)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []session.Session{}
		}
		return writeJSON(stdout, map[string]any{"sessions": list})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tUPDATED\tMESSAGES\tTITLE")
	for _, s := range list {
		mark := ""
		if s.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", mark, s.ID, s.UpdatedAt.Local().Format("2006-01-02 15:04"), s.MessageCount, s.Title)
	}
	return tw.Flush()
}

func export(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, c := newFlags("export", stderr)
	format := fs.String("format", "text", "text, markdown or json")
	dir := workspaceFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("export takes at most one session id: %w", errUsage)
	}
	store, err := c.open()
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	id := fs.Arg(0)
	if id == "" {
		ws, err := workspace(*dir)
		if err != nil {
			return fmt.Errorf("%w: %w", err, errUsage)
		}
		cur, err := store.Current(ctx, ws)
		if err != nil {
			return fmt.Errorf("%s has no sessions yet: %w", ws, err)
		}
		id = cur.ID
	}
	err = store.Export(ctx, stdout, id, *format)
	if errors.Is(err, session.ErrFormat) {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	return err
}

func search(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, c := newFlags("search", stderr)
	dir := fs.String("workspace", "", "only this workspace (default: all)")
	asJSON := fs.Bool("json", false, "print JSON, as session/search returns it")
	if err := parse(fs, args); err != nil {
		return err
	}
	query := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(query) == "" {
		return fmt.Errorf("search needs a query: %w", errUsage)
	}
	ws := ""
	if *dir != "" {
		var err error
		if ws, err = workspace(*dir); err != nil {
			return fmt.Errorf("%w: %w", err, errUsage)
		}
	}
	store, err := c.open()
	if err != nil {
		return err
	}
	defer store.Close()
	hits, err := store.Search(context.Background(), query, ws)
	if err != nil {
		return err
	}
	if *asJSON {
		if hits == nil {
			hits = []session.Hit{}
		}
		return writeJSON(stdout, map[string]any{"hits": hits})
	}
	for _, h := range hits {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", h.SessionID, h.MessageID, strings.ReplaceAll(h.Snippet, "\n", " "))
	}
	return nil
}

// providerConfig is one provider as tinychat config --json prints it.
type providerConfig struct {
	providers.Info
	Type    string              `json:"type"`
	Key     providers.KeySource `json:"key"`
	Problem string              `json:"problem,omitempty"`
}

func config(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, c := newFlags("config", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("config takes no arguments: %w", errUsage)
	}
	log, _, err := c.logger(stderr, slog.LevelWarn)
	if err != nil {
		return err
	}
	reg, cfg, err := c.registry(log)
	if err != nil {
		return err
	}
	db := c.db
	if db == "" {
		db = session.DefaultPath(os.Getenv)
	}
	list := reg.List()
	name, model := chat.Choose(reg, chat.ConfigSettings(reg, cfg))
	servers, policy, err := tools.ParseConfig(cfg.Path, cfg.Data)
	if err != nil {
		return err
	}
	mcp := mcpServersOf(servers)

	if *asJSON {
		provs := make([]providerConfig, len(list))
		for i, p := range list {
			provs[i] = providerConfig{Info: p, Type: p.Type, Key: p.Key, Problem: p.Problem}
		}
		return writeJSON(stdout, map[string]any{
			"configFile":      map[string]any{"path": cfg.Path, "found": cfg.Found},
			"db":              db,
			"defaultProvider": name,
			"defaultModel":    model,
			"providers":       provs,
			"mcpServers":      mcp,
			"toolPolicy":      map[string]any{"default": cmp.Or(policy.Default, tools.Ask), "rules": policy.Rules},
		})
	}
	switch {
	case cfg.Found:
		fmt.Fprintf(stdout, "config file: %s\n", cfg.Path)
	case cfg.Path != "":
		fmt.Fprintf(stdout, "config file: none (no %s)\n", cfg.Path)
	default:
		fmt.Fprintln(stdout, "config file: none (no home directory)")
	}
	fmt.Fprintf(stdout, "db: %s\ndefault provider: %s\ndefault model: %s\n\n", db, name, model)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tTYPE\tCONFIGURED\tDEFAULT MODEL\tBASE URL\tKEY")
	for _, p := range list {
		key := "none"
		switch {
		case p.Key.Command:
			key = "api_key_cmd"
		case p.Key.Env != "" && p.Key.Set:
			key = "$" + p.Key.Env + " (set)"
		case p.Key.Env != "":
			key = "$" + p.Key.Env + " (not set)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", p.Name, p.Type, p.Configured, p.DefaultModel, p.BaseURL, key)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	sep := "\n"
	for _, p := range list {
		if p.Problem != "" {
			fmt.Fprint(stdout, sep+p.Problem+"\n")
			sep = ""
		}
	}
	fmt.Fprintf(stdout, "\ntool policy: %s", cmp.Or(policy.Default, tools.Ask))
	for _, glob := range slices.Sorted(maps.Keys(policy.Rules)) {
		fmt.Fprintf(stdout, ", %s = %s", glob, policy.Rules[glob])
	}
	fmt.Fprintln(stdout)
	if len(mcp) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nMCP SERVER\tRUNS\tENV AND HEADERS")
	for _, s := range mcp {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, cmp.Or(s.URL, strings.Join(append([]string{s.Command}, s.Args...), " ")), strings.Join(append(s.Env, s.Headers...), ", "))
	}
	return tw.Flush()
}

// mcpServer is an MCP server as tinychat config shows it: the names of its
// environment variables and headers, never their values, and its URL
// without a query, which may hold a key.
type mcpServer struct {
	Name    string   `json:"name"`
	Command string   `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	URL     string   `json:"url,omitempty"`
	Env     []string `json:"env,omitempty"`
	Headers []string `json:"headers,omitempty"`
}

func mcpServersOf(servers map[string]tools.ServerConfig) []mcpServer {
	list := []mcpServer{}
	for _, name := range slices.Sorted(maps.Keys(servers)) {
		sc := servers[name]
		s := mcpServer{Name: name, Command: sc.Command, Args: sc.Args,
			Env: slices.Sorted(maps.Keys(sc.Env)), Headers: slices.Sorted(maps.Keys(sc.Headers))}
		if u, err := url.Parse(sc.URL); err == nil && sc.URL != "" {
			u.RawQuery, u.User, u.Fragment = "", nil, ""
			s.URL = u.String()
		}
		list = append(list, s)
	}
	return list
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
