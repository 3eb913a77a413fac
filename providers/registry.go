package providers

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Options configures a Registry. The zero value is ready to use: no
// configuration file, keys and base URLs from the environment, the default
// timeouts and retries.
type Options struct {
	// Config is the configuration file, as LoadConfig returns it. Nil
	// means none.
	Config *Config
	// Getenv reads the environment: API keys, base URLs and
	// TINYCHAT_ECHO_DELAY. Nil means os.Getenv.
	Getenv func(string) string
	// OnRetry, if not nil, is called before each retry of a failed request,
	// with the retry's number (1 for the first), the wait before it and the
	// error that caused it.
	OnRetry func(provider string, attempt int, wait time.Duration, err error)
	// MaxRetries is how many times a failed request may be retried. 0 means
	// 3; a negative value means none.
	MaxRetries int
	// RetryBase is the wait before the first retry, jittered; each later
	// wait doubles. 0 means 500ms.
	RetryBase time.Duration
	// MaxRetryWait caps each wait between retries. A provider that asks,
	// with Retry-After, for a longer one gets no retry. 0 means 30s.
	MaxRetryWait time.Duration
	// ConnectTimeout bounds each TCP connect and TLS handshake. 0 means 10s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the time from sending a request to the first
	// event of its reply (or, for a models list, to the whole list). 0 means
	// 60s.
	FirstByteTimeout time.Duration
	// IdleTimeout bounds the gap between two events of a stream. 0 means 60s.
	IdleTimeout time.Duration
	// KeyCommandTimeout bounds each run of a key command (api_key_cmd). 0
	// means 10s.
	KeyCommandTimeout time.Duration
	// EchoDelay is how long the echo provider waits before each word. 0
	// means the value of TINYCHAT_ECHO_DELAY (a Go duration such as "20ms"),
	// if set, else no wait.
	EchoDelay time.Duration
	// Logger receives a debug line per HTTP request, and a warning for a bad
	// setting or a key command that failed. Nil means no logging. Neither keys nor message text are ever
	// logged.
	Logger *slog.Logger
}

// spec describes one HTTP provider: a built-in one, or one of the
// configuration file made from the spec of its type.
type spec struct {
	name       string
	keyEnv     string // the environment variable that holds the key
	baseEnv    string // the environment variable that overrides baseURL
	baseURL    string
	model      string // the default model
	chatPath   string // under the base URL; {model} stands for the model
	modelsPath string // under the base URL
	wire       wire
}

// builtins are the HTTP providers, in the order Default tries them.
var builtins = []*spec{&anthropicAPI, &openAIAPI, &mistralAPI, &geminiAPI}

// Registry knows the providers, each set up from the configuration file
// and the environment as NewRegistry found them. It is safe for concurrent
// use; its providers share one pool of connections.
type Registry struct {
	entries     []entry // in Names order
	defaultName string  // the configuration file's default_provider
}

// entry is one provider of a Registry.
type entry struct {
	p       Provider
	info    Info
	builtin bool        // one that Default tries
	cmd     *keyCommand // what prints the key, if a command does
	err     error       // why the provider cannot be used, key or no key
}

// Info describes a provider for providers/list and tinychat config.
// Configured means it has a key, or a command to print one, or needs none
// (and has a usable base URL). Info never holds a key, nor any part of one.
type Info struct {
	Name         string `json:"name"`
	Configured   bool   `json:"configured"`
	DefaultModel string `json:"defaultModel"`
	BaseURL      string `json:"baseUrl"`

	// Type is the wire format: openai, anthropic, mistral, gemini, or echo.
	Type string `json:"-"`
	// Key tells where the key comes from.
	Key KeySource `json:"-"`
	// Problem says why the provider cannot be used, when that is not a
	// missing key: a bad base URL, a key command that failed.
	Problem string `json:"-"`
}

// KeySource tells where a provider's key comes from, never the key. The
// zero KeySource is a provider that takes no key.
type KeySource struct {
	Env     string `json:"env,omitempty"`     // the environment variable that holds the key
	Set     bool   `json:"set,omitempty"`     // Env is set
	Command bool   `json:"command,omitempty"` // a command (api_key_cmd) prints the key
}

// NewRegistry returns a Registry of the built-in providers (anthropic,
// openai, mistral, gemini and the offline echo) and those of
// opts.Config, configured by opts.
func NewRegistry(opts Options) *Registry {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Logger = log
	retries := cmp.Or(opts.MaxRetries, 3)
	if retries < 0 {
		retries = 0
	}
	c := &client{
		http: newHTTPClient(cmp.Or(opts.ConnectTimeout, 10*time.Second)),
		retry: retryPolicy{
			max:     retries,
			base:    cmp.Or(opts.RetryBase, 500*time.Millisecond),
			maxWait: cmp.Or(opts.MaxRetryWait, 30*time.Second),
			onRetry: opts.OnRetry,
			sleep:   sleep,
		},
		firstByte: cmp.Or(opts.FirstByteTimeout, 60*time.Second),
		idle:      cmp.Or(opts.IdleTimeout, 60*time.Second),
		log:       log,
	}

	cfg := opts.Config
	if cfg == nil {
		cfg = &Config{}
	}
	r := &Registry{defaultName: cfg.DefaultProvider}
	for _, s := range builtins {
		r.entries = append(r.entries, newEntry(s.name, cfg.Providers[s.name], cfg.Unsafe, getenv, c, &opts))
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Providers)) {
		if types[name] == nil && name != "echo" {
			r.entries = append(r.entries, newEntry(name, cfg.Providers[name], cfg.Unsafe, getenv, c, &opts))
		}
	}

	delay := opts.EchoDelay
	if v := getenv("TINYCHAT_ECHO_DELAY"); delay == 0 && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Warn("ignoring TINYCHAT_ECHO_DELAY", "value", v, "err", err)
		}
		delay = d
	}
	r.entries = append(r.entries, entry{
		p:    echoProvider{delay: delay},
		info: Info{Name: "echo", Configured: true, DefaultModel: "echo", Type: "echo"},
	})
	return r
}

// newEntry sets up the provider called name from its settings in the
// configuration file (pc, empty for a built-in with none) and the
// environment. The file comes first: its base_url beats the environment's
// OPENAI_BASE_URL, its api_key_env or api_key_cmd the usual variable. A
// file that is unsafe (Config.Unsafe) gets its api_key_cmd refused.
func newEntry(name string, pc ProviderConfig, unsafe string, getenv func(string) string, c *client, opts *Options) entry {
	builtin := types[name]
	e := entry{builtin: builtin != nil, info: Info{Name: name, Type: cmp.Or(pc.Type, name)}}
	if _, err := pc.check(name); err != nil {
		// LoadConfig reports this with its line; a Config made in code
		// gets it here.
		e.err = fmt.Errorf("%s: %w", name, err)
		e.info.Problem = e.err.Error()
		return e
	}
	typ := types[e.info.Type]
	s := *typ
	s.name = name
	s.model = cmp.Or(pc.DefaultModel, first(pc.Models), typ.model)
	s.keyEnv = pc.APIKeyEnv
	if builtin == nil {
		s.baseEnv = ""
	} else if pc.APIKeyCmd == "" {
		s.keyEnv = cmp.Or(s.keyEnv, typ.keyEnv)
	}
	base, from := pc.BaseURL, "base_url"
	if base == "" && s.baseEnv != "" && getenv(s.baseEnv) != "" {
		base, from = getenv(s.baseEnv), s.baseEnv
	}
	base = strings.TrimRight(cmp.Or(base, typ.baseURL), "/")

	p := &httpProvider{spec: &s, base: base, c: c, fixedModels: slices.Clone(pc.Models)}
	for k, v := range pc.Headers {
		if p.headers == nil {
			p.headers = http.Header{}
		}
		p.headers.Set(k, v)
	}
	e.p = p
	e.info.DefaultModel = s.model
	e.info.Key.Env = s.keyEnv
	var refused error // the key command's, when the file is unsafe
	switch {
	case pc.APIKeyCmd != "" && unsafe != "":
		e.info.Key.Command = true
		refused = &NotConfiguredError{Provider: name, Reason: "api_key_cmd refused: " + unsafe + "; make it writable by its owner alone (chmod o-w)"}
	case pc.APIKeyCmd != "":
		e.info.Key.Command = true
		e.cmd = &keyCommand{line: pc.APIKeyCmd, timeout: cmp.Or(opts.KeyCommandTimeout, 10*time.Second), template: p, log: opts.Logger}
	case s.keyEnv != "":
		// Keys pasted from a file often end in a newline, which no header
		// may hold.
		p.key = strings.TrimSpace(getenv(s.keyEnv))
		e.info.Key.Set = p.key != ""
	}

	u, err := url.Parse(base)
	switch {
	case err != nil:
		// Not err itself: it quotes the URL, which may hold a password.
		e.err = fmt.Errorf("%s: bad %s: not a URL", name, from)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		e.err = fmt.Errorf("%s: bad %s %q: want an http or https URL", name, from, u.Redacted())
	default:
		e.info.BaseURL = u.Redacted()
	}
	if e.err == nil && refused != nil {
		e.err = refused
	}
	if e.err != nil {
		e.info.Problem = e.err.Error()
	}
	e.info.Configured = e.usable()
	return e
}

// first returns the first of s, or "".
func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// usable reports whether a request could use the provider: its settings
// are good, and it has a key, a command to print one, or needs none. A key
// command counts as usable until it runs, and after it failed too: the next
// use runs it again.
func (e *entry) usable() bool {
	if e.err != nil {
		return false
	}
	if p, ok := e.p.(*httpProvider); ok && e.cmd == nil && e.info.Key.Env != "" {
		return p.key != ""
	}
	return true
}

// describe is the entry's Info as of now: a key command that failed makes
// the provider unconfigured until a run succeeds.
func (e *entry) describe() Info {
	info := e.info
	if e.cmd != nil && e.err == nil {
		if reason := e.cmd.failure(); reason != "" {
			info.Configured = false
			info.Problem = e.info.Name + ": " + reason
		}
	}
	return info
}

// newHTTPClient returns the one client a Registry's providers share. It
// has no overall timeout, since a reply may stream for minutes: the
// providers bound each stage of a request themselves.
func newHTTPClient(connect time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         rawDial(dialer.DialContext),
		TLSHandshakeTimeout: connect,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 10,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// Get returns the provider called name. The error wraps ErrUnknownProvider
// for a name no one knows, and is a *NotConfiguredError for a provider
// without a key. A provider whose key comes from a command runs it at its
// first Get, and at each later one until a run succeeds.
func (r *Registry) Get(name string) (Provider, error) {
	for i := range r.entries {
		e := &r.entries[i]
		switch {
		case e.info.Name != name:
			continue
		case e.err != nil:
			return nil, e.err
		case e.cmd != nil:
			return e.cmd.provider()
		case !e.usable():
			return nil, &NotConfiguredError{Provider: name, Env: e.info.Key.Env}
		}
		return e.p, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
}

// Has reports whether a provider called name exists, configured or not.
// Unlike Get, it runs no key command.
func (r *Registry) Has(name string) bool {
	for i := range r.entries {
		if r.entries[i].info.Name == name {
			return true
		}
	}
	return false
}

// Default returns the name of the provider a request uses when it names
// none: the configuration file's default_provider if it is usable (it has
// a key, or a command to print one, or needs none), else the first
// configured of anthropic, openai, mistral and gemini, else echo, so that a
// machine with no key still runs end to end.
func (r *Registry) Default() string {
	for i := range r.entries {
		if e := &r.entries[i]; e.info.Name == r.defaultName && e.usable() {
			return e.info.Name
		}
	}
	for i := range r.entries {
		if e := &r.entries[i]; e.builtin && e.usable() {
			return e.info.Name
		}
	}
	return "echo"
}

// Names returns the names of all the providers, configured or not, in a
// stable order: anthropic, openai, mistral, gemini, those of the
// configuration file by name, echo.
func (r *Registry) Names() []string {
	names := make([]string, len(r.entries))
	for i, e := range r.entries {
		names[i] = e.info.Name
	}
	return names
}

// List describes all the providers, in the order of Names.
func (r *Registry) List() []Info {
	infos := make([]Info, len(r.entries))
	for i := range r.entries {
		infos[i] = r.entries[i].describe()
	}
	return infos
}
