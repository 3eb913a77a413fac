package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Config is the configuration file (config.toml): the default provider and
// model, and providers of its own or overrides of the built-in ones. Its
// settings come above the environment's: a base_url beats OPENAI_BASE_URL.
//
//	default_provider = "local"
//	[providers.local]
//	type = "openai"
//	base_url = "http://localhost:11434/v1"
//	default_model = "llama3.2"
type Config struct {
	// Path is the file the configuration was read from or, when Found is
	// false, the file that was looked for and does not exist ("" when
	// there was nowhere to look).
	Path  string `toml:"-"`
	Found bool   `toml:"-"`
	// Unsafe, when not empty, says why the file cannot be trusted with
	// commands: it is writable by other users, who could put theirs in an
	// api_key_cmd. Its key commands are then not run.
	Unsafe string `toml:"-"`

	// DefaultProvider is the provider a request uses when it names none,
	// as long as it is usable (see Registry.Default).
	DefaultProvider string `toml:"default_provider"`
	// DefaultModel is the model of the default provider when a request
	// names none.
	DefaultModel string `toml:"default_model"`
	// MaxReplyBytes bounds a reply: past it, its text and reasoning
	// together, the reply stops. 0 means the default (package chat's).
	MaxReplyBytes int `toml:"max_reply_bytes"`
	// Providers are the [providers.NAME] tables, by name.
	Providers map[string]ProviderConfig `toml:"providers"`

	// Data is the file's content, for the tables that other packages read
	// from it: [mcp_servers.NAME] and [tools] (tools.ParseConfig).
	Data       []byte         `toml:"-"`
	MCPServers map[string]any `toml:"mcp_servers"`
	Tools      map[string]any `toml:"tools"`
}

// ProviderConfig is one [providers.NAME] table: a provider of its own, or,
// under a built-in name (openai, anthropic, mistral, gemini), settings that
// override the built-in's.
type ProviderConfig struct {
	// Type is the wire format: openai, anthropic, mistral or gemini.
	// Required but for a built-in name, whose type it must then be.
	Type string `toml:"type"`
	// BaseURL is the API's base URL, as the vendor's SDK takes it (OpenAI's
	// with /v1, the others' without). Empty means the built-in's (which its
	// environment variable, such as OPENAI_BASE_URL, may override).
	BaseURL string `toml:"base_url"`
	// APIKeyEnv names the environment variable that holds the key; for a
	// built-in it replaces the usual one.
	APIKeyEnv string `toml:"api_key_env"`
	// APIKeyCmd is a shell command (run with sh -c) that prints the key.
	// It runs at the provider's first use. At most one of APIKeyEnv and
	// APIKeyCmd is set; with neither, a provider of its own sends no key.
	APIKeyCmd string `toml:"api_key_cmd"`
	// DefaultModel is the model used when a request names none. Empty
	// means the first of Models, else the type's default.
	DefaultModel string `toml:"default_model"`
	// Headers are sent with every request of the provider.
	Headers map[string]string `toml:"headers"`
	// Models, if set, is what models/list returns, without asking the
	// provider.
	Models []string `toml:"models"`
}

// minReplyBytes is the least max_reply_bytes: less would stop replies
// before they say anything.
const minReplyBytes = 1024

// types are the wire formats a [providers.NAME] table may name, by type.
var types = map[string]*spec{
	"openai":    &openAIAPI,
	"anthropic": &anthropicAPI,
	"mistral":   &mistralAPI,
	"gemini":    &geminiAPI,
}

// typeNames lists the types for messages.
const typeNames = "openai, anthropic, mistral or gemini"

// ConfigPath returns the configuration file to read, and whether it was
// named explicitly: flag (the --config flag) if set, else
// $TINYCHAT_CONFIG, else $XDG_CONFIG_HOME/tinychat/config.toml
// (~/.config/tinychat/config.toml by default). It is "" only when no flag,
// no TINYCHAT_CONFIG and no home directory are known.
func ConfigPath(flag string, getenv func(string) string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if p := getenv("TINYCHAT_CONFIG"); p != "" {
		return p, true
	}
	dir := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "tinychat", "config.toml"), false
}

// LoadConfig reads the configuration file that ConfigPath finds. A default
// file that does not exist is no error: the Config is then empty, with
// Found false. A file named explicitly must exist. A file that does not
// parse, has a key or a type that tinychat does not know, or a value it
// cannot use is an error (a *ConfigError, or several joined), never
// ignored.
func LoadConfig(flag string, getenv func(string) string) (*Config, error) {
	path, explicit := ConfigPath(flag, getenv)
	if path == "" {
		return &Config{}, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return &Config{Path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(path, data)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o002 != 0 {
		c.Unsafe = fmt.Sprintf("%s is writable by other users (mode %04o)", path, fi.Mode().Perm())
	}
	return c, nil
}

// ParseConfig parses data, the content of the configuration file path (which
// names it in errors), and checks it as LoadConfig does.
func ParseConfig(path string, data []byte) (*Config, error) {
	c := &Config{Path: path, Found: true, Data: data}
	fail, err := DecodeConfig(path, data, c, ConfigTables{Fields: fieldsHint, Want: expected})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Providers)) {
		pc := c.Providers[name]
		if field, err := pc.check(name); err != nil {
			key := []string{"providers", name}
			if field != "" {
				key = append(key, field)
			}
			errs = append(errs, fail(err.Error(), key...))
		}
	}
	if c.MaxReplyBytes < 0 || c.MaxReplyBytes > 0 && c.MaxReplyBytes < minReplyBytes {
		errs = append(errs, fail(fmt.Sprintf("want a number of bytes of at least %d", minReplyBytes), "max_reply_bytes"))
	}
	if name := c.DefaultProvider; name != "" && name != "echo" && types[name] == nil {
		if _, ok := c.Providers[name]; !ok {
			errs = append(errs, fail(fmt.Sprintf("no provider %q: want a built-in one or a [providers.%s] table", name, name), "default_provider"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// check reports what is wrong with the provider called name, and the field
// at fault ("" for the table as a whole). Its messages never quote a value
// that may be a key.
func (pc *ProviderConfig) check(name string) (field string, err error) {
	builtin := types[name]
	switch {
	case name == "echo":
		return "", errors.New("echo is built in and takes no settings")
	case strings.TrimSpace(name) == "" || strings.ContainsFunc(name, isSpaceOrControl):
		return "", errors.New("a provider name needs at least one character and no spaces")
	case pc.Type == "" && builtin == nil:
		return "", fmt.Errorf("type is required: %s", typeNames)
	case pc.Type != "" && types[pc.Type] == nil:
		return "type", fmt.Errorf("unknown type %q: want %s", pc.Type, typeNames)
	case builtin != nil && pc.Type != "" && pc.Type != name:
		return "type", fmt.Errorf("the built-in provider %s is of type %s; give a provider of type %s a name of its own", name, name, pc.Type)
	}
	if pc.BaseURL != "" {
		u, err := url.Parse(pc.BaseURL)
		switch {
		case err != nil:
			// Not err itself: it quotes the URL, which may hold a password.
			return "base_url", errors.New("not a URL")
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return "base_url", errors.New("want an http or https URL, such as http://localhost:11434/v1")
		}
	}
	switch {
	case pc.APIKeyEnv != "" && pc.APIKeyCmd != "":
		return "api_key_cmd", errors.New("give api_key_env or api_key_cmd, not both")
	case pc.APIKeyEnv != "" && !IsEnvName(pc.APIKeyEnv):
		// Not the value: a key pasted here by mistake must not be shown.
		return "api_key_env", errors.New("want the name of an environment variable (letters, digits and _), not a key")
	case pc.APIKeyCmd != "" && strings.TrimSpace(pc.APIKeyCmd) == "":
		return "api_key_cmd", errors.New("the command is empty")
	}
	if err := CheckHeaders(pc.Headers); err != nil {
		return "headers", err
	}
	if slices.Contains(pc.Models, "") {
		return "models", errors.New("a model id is empty")
	}
	return "", nil
}

// fieldsHint lists the fields that the table of an unknown key may hold.
func fieldsHint(key []string) string {
	switch {
	case len(key) == 1:
		return "default_provider, default_model, max_reply_bytes, [providers.NAME], [tools] or [mcp_servers.NAME]"
	case len(key) == 3 && key[0] == "providers":
		return "type, base_url, api_key_env, api_key_cmd, default_model, headers or models"
	}
	return ""
}

// expected is what the field key holds, for messages.
func expected(key []string) string {
	switch {
	case len(key) == 1 && key[0] == "providers", len(key) == 2:
		return "a table"
	case len(key) == 1 && key[0] == "max_reply_bytes":
		return "an integer"
	case len(key) == 3 && key[2] == "headers":
		return "a table of strings"
	case len(key) >= 3 && key[2] == "models":
		return "an array of strings"
	}
	return "a string"
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// maxKeyOutput bounds what is read of a key command's output.
const maxKeyOutput = 64 << 10

// keyCommand is a provider's api_key_cmd. It runs at the provider's first
// use, and the key it printed serves every later use. A run that failed is
// tried again at the next use: the password manager may have been locked.
type keyCommand struct {
	line     string // the shell command
	timeout  time.Duration
	template *httpProvider // the provider, but for its key
	log      *slog.Logger

	mu     sync.Mutex
	p      *httpProvider // the provider with its key, once a run succeeded
	reason string        // why the last run failed, if it did
}

// provider returns the provider with its key, running the command unless
// a run already succeeded. Uses that come while it runs wait for its
// result.
func (k *keyCommand) provider() (Provider, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.p != nil {
		return k.p, nil
	}
	name := k.template.name
	start := time.Now()
	key, reason := runKeyCommand(k.line, k.timeout)
	if reason != "" {
		k.reason = reason
		k.log.Warn("provider key command failed", "provider", name, "reason", reason)
		return nil, &NotConfiguredError{Provider: name, Reason: reason}
	}
	k.log.Debug("provider key command ran", "provider", name, "elapsed", time.Since(start).Round(time.Millisecond))
	p := *k.template
	p.key = key
	k.p, k.reason = &p, ""
	return k.p, nil
}

// failure returns why the last run of the command failed, or "" if none
// did since the last success (or none ran yet).
func (k *keyCommand) failure() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason
}

// runKeyCommand runs line with sh -c, its stdin empty and its stderr
// discarded, and returns its trimmed output. If that is no usable key, it
// returns why not instead: the reason names the exit status, never the
// output.
func runKeyCommand(line string, timeout time.Duration) (key, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out cappedBuffer
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Stdout = &out
	// A child of the shell may keep stdout open after the shell is gone.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return "", fmt.Sprintf("api_key_cmd timed out after %v", timeout)
	case errors.As(err, &exit) && exit.Exited():
		return "", fmt.Sprintf("api_key_cmd exited with status %d", exit.ExitCode())
	case errors.As(err, &exit):
		return "", fmt.Sprintf("api_key_cmd stopped: %v", exit.ProcessState)
	case err != nil:
		return "", fmt.Sprintf("api_key_cmd failed: %v", err)
	case out.over:
		return "", fmt.Sprintf("api_key_cmd printed more than %d bytes", maxKeyOutput)
	}
	key = strings.TrimSpace(out.String())
	switch {
	case key == "":
		return "", "api_key_cmd printed nothing"
	case strings.ContainsFunc(key, unicode.IsControl):
		// No header may hold it, and the HTTP client's error would say so.
		return "", "api_key_cmd printed more than one line"
	}
	return key, ""
}

// cappedBuffer keeps the first maxKeyOutput bytes written to it.
type cappedBuffer struct {
	bytes.Buffer
	over bool // more was written
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxKeyOutput {
		b.over = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
