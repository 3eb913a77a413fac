package providers

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Options configures a Registry. The zero value is ready to use: keys and
// base URLs from the environment, the default timeouts and retries.
type Options struct {
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
	// EchoDelay is how long the echo provider waits before each word. 0
	// means the value of TINYCHAT_ECHO_DELAY (a Go duration such as "20ms"),
	// if set, else no wait.
	EchoDelay time.Duration
	// Logger receives a debug line per HTTP request, and a warning for a bad
	// setting. Nil means no logging. Neither keys nor message text are ever
	// logged.
	Logger *slog.Logger
}

// spec describes one built-in HTTP provider.
type spec struct {
	name       string
	keyEnv     string // the environment variable that holds the key
	baseEnv    string // the environment variable that overrides baseURL
	baseURL    string
	model      string // the default model
	chatPath   string // under the base URL
	modelsPath string // under the base URL
	wire       wire
}

// builtins are the HTTP providers, in the order Default tries them.
var builtins = []*spec{&anthropicAPI, &openAIAPI, &mistralAPI}

// Registry knows the providers, each set up from the environment as
// NewRegistry found it. It is safe for concurrent use; its providers share
// one pool of connections.
type Registry struct {
	entries []entry // in Names order
}

// entry is one provider of a Registry.
type entry struct {
	p      Provider
	info   Info
	keyEnv string
	err    error // why the provider cannot be used, key or no key
}

// Info describes a provider for providers/list. Configured means it has a
// key (and a usable base URL). Info never holds a key, nor any part of one.
type Info struct {
	Name         string `json:"name"`
	Configured   bool   `json:"configured"`
	DefaultModel string `json:"defaultModel"`
	BaseURL      string `json:"baseUrl"`
}

// NewRegistry returns a Registry of the built-in providers (anthropic,
// openai, mistral and the offline echo), configured by opts.
func NewRegistry(opts Options) *Registry {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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

	r := &Registry{}
	for _, s := range builtins {
		// Keys pasted from a file often end in a newline, which no header
		// may hold.
		key := strings.TrimSpace(getenv(s.keyEnv))
		base := strings.TrimRight(cmp.Or(getenv(s.baseEnv), s.baseURL), "/")
		e := entry{
			p:      &httpProvider{spec: s, key: key, base: base, c: c},
			info:   Info{Name: s.name, DefaultModel: s.model},
			keyEnv: s.keyEnv,
		}
		u, err := url.Parse(base)
		switch {
		case err != nil:
			// Not err itself: it quotes the URL, which may hold a password.
			e.err = fmt.Errorf("%s: bad %s: not a URL", s.name, s.baseEnv)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			e.err = fmt.Errorf("%s: bad %s %q: want an http or https URL", s.name, s.baseEnv, u.Redacted())
		default:
			e.info.BaseURL = u.Redacted()
		}
		e.info.Configured = key != "" && e.err == nil
		r.entries = append(r.entries, e)
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
		info: Info{Name: "echo", Configured: true, DefaultModel: "echo"},
	})
	return r
}

// newHTTPClient returns the one client a Registry's providers share. It
// has no overall timeout, since a reply may stream for minutes: the
// providers bound each stage of a request themselves.
func newHTTPClient(connect time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: connect,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 10,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// Get returns the provider called name. The error wraps ErrUnknownProvider
// for a name no one knows, and is a *NotConfiguredError for a provider
// without a key.
func (r *Registry) Get(name string) (Provider, error) {
	for _, e := range r.entries {
		switch {
		case e.info.Name != name:
			continue
		case e.err != nil:
			return nil, e.err
		case !e.info.Configured:
			return nil, &NotConfiguredError{Provider: name, Env: e.keyEnv}
		}
		return e.p, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
}

// Default returns the name of the provider a request uses when it names
// none: the first configured of anthropic, openai and mistral, else echo,
// so that a machine with no key still runs end to end.
func (r *Registry) Default() string {
	for _, e := range r.entries {
		if e.info.Configured {
			return e.info.Name
		}
	}
	return "echo"
}

// Names returns the names of all the providers, configured or not, in a
// stable order: anthropic, openai, mistral, echo.
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
	for i, e := range r.entries {
		infos[i] = e.info
	}
	return infos
}
