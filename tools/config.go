package tools

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/tinychat/tinychat/providers"
)

// ServerConfig is one [mcp_servers.NAME] table of config.toml: an MCP
// server run as a command, spoken to on its stdin and stdout, or one
// reached at a URL over streamable HTTP.
//
//	[mcp_servers.github]
//	command = "github-mcp-server"
//	args = ["stdio"]
//	env = { GITHUB_PERSONAL_ACCESS_TOKEN = "..." }
//
//	[mcp_servers.docs]
//	url = "https://mcp.example.com/mcp"
//	headers = { Authorization = "Bearer ..." }
//
// Env values and headers often hold secrets: no log line or error of this
// package shows them, nor a URL.
type ServerConfig struct {
	// Command is the program to run (looked up in PATH), with Args.
	Command string   `toml:"command"`
	Args    []string `toml:"args"`
	// Env is added to the few variables a command inherits from tinychat
	// (see NewManager).
	Env map[string]string `toml:"env"`
	// URL is the server's streamable HTTP endpoint; Headers are sent with
	// every request to it.
	URL     string            `toml:"url"`
	Headers map[string]string `toml:"headers"`
}

// ParseConfig reads the [mcp_servers.NAME] and [tools] tables of data, the
// content of the configuration file path (which names it in errors). The
// rest of the file is other packages' business and is not looked at, but
// for its syntax. A key these tables do not know, or a value that cannot be
// used, is an error (a *ConfigError, or several joined) naming its line.
func ParseConfig(path string, data []byte) (map[string]ServerConfig, Policy, error) {
	var c struct {
		MCPServers map[string]ServerConfig `toml:"mcp_servers"`
		Tools      map[string]string       `toml:"tools"`
	}
	fail, err := providers.DecodeConfig(path, data, &c, providers.ConfigTables{
		Owns:   func(top string) bool { return top == "mcp_servers" || top == "tools" },
		Fields: fieldsHint,
		Want:   expected,
	})
	if err != nil {
		return nil, Policy{}, err
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.MCPServers)) {
		if field, err := c.MCPServers[name].check(name); err != nil {
			key := []string{"mcp_servers", name}
			if field != "" {
				key = append(key, field)
			}
			errs = append(errs, fail(err.Error(), key...))
		}
	}
	policy := Policy{Default: Ask}
	for _, key := range slices.Sorted(maps.Keys(c.Tools)) {
		decision := c.Tools[key]
		if err := checkDecision(decision); err != nil {
			errs = append(errs, fail(err.Error(), "tools", key))
			continue
		}
		if key == "policy" {
			policy.Default = decision
			continue
		}
		if err := checkGlob(key); err != nil {
			errs = append(errs, fail(err.Error(), "tools", key))
			continue
		}
		if policy.Rules == nil {
			policy.Rules = map[string]string{}
		}
		policy.Rules[key] = decision
	}
	if len(errs) > 0 {
		return nil, Policy{}, errors.Join(errs...)
	}
	if c.MCPServers == nil {
		c.MCPServers = map[string]ServerConfig{}
	}
	return c.MCPServers, policy, nil
}

// check reports what is wrong with the server called name, and the field
// at fault ("" for the table as a whole). Its messages never quote a value
// that may be a secret: an env value, a header value, a URL.
func (sc ServerConfig) check(name string) (field string, err error) {
	switch {
	case !isName(name):
		return "", errors.New("a server name is the first part of its tools' names: use letters, digits, _ and - only")
	case sc.Command == "" && sc.URL == "":
		return "", errors.New("give command (a server run on stdio) or url (a streamable HTTP server)")
	case sc.Command != "" && sc.URL != "":
		return "url", errors.New("give command or url, not both")
	case sc.URL != "" && len(sc.Args) > 0:
		return "args", errors.New("args are for a command, not a url")
	case sc.URL != "" && len(sc.Env) > 0:
		return "env", errors.New("env is for a command, not a url")
	case sc.Command != "" && len(sc.Headers) > 0:
		return "headers", errors.New("headers are for a url, not a command")
	case sc.Command != "" && strings.TrimSpace(sc.Command) == "":
		return "command", errors.New("the command is empty")
	}
	if sc.URL != "" {
		u, err := url.Parse(sc.URL)
		switch {
		case err != nil:
			// Not err itself: it quotes the URL, which may hold a token.
			return "url", errors.New("not a URL")
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return "url", errors.New("want an http or https URL, such as http://localhost:8080/mcp")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sc.Env)) {
		if !providers.IsEnvName(k) {
			return "env", fmt.Errorf("%q is not the name of an environment variable (letters, digits and _)", k)
		}
		if strings.ContainsRune(sc.Env[k], 0) {
			return "env", fmt.Errorf("the value of %s holds a NUL", k)
		}
	}
	if err := providers.CheckHeaders(sc.Headers); err != nil {
		return "headers", err
	}
	return "", nil
}

func checkDecision(d string) error {
	if d != Ask && d != Allow && d != Deny {
		return fmt.Errorf("want %q, %q or %q, not %q", Ask, Allow, Deny, d)
	}
	return nil
}

// checkGlob reports whether glob is a pattern over tool names.
func checkGlob(glob string) error {
	if _, err := path.Match(glob, ""); err != nil {
		return errors.New("not a glob: want a tool name with *, ? or [...] in it, such as \"github__*\"")
	}
	if strings.ContainsFunc(glob, func(r rune) bool { return !isNameRune(r) && !strings.ContainsRune("*?[]^-", r) }) {
		return errors.New("tool names have only letters, digits, _ and -: this glob matches none")
	}
	return nil
}

// fieldsHint lists the fields that the table of an unknown key may hold.
func fieldsHint(key []string) string {
	if len(key) == 3 && key[0] == "mcp_servers" {
		return "command, args, env, url or headers"
	}
	return ""
}

// expected is what the field key holds, for messages.
func expected(key []string) string {
	switch {
	case key[0] == "tools" && len(key) == 2:
		return fmt.Sprintf("a string: %q, %q or %q", Ask, Allow, Deny)
	case len(key) <= 2:
		return "a table"
	case len(key) == 3 && key[2] == "args":
		return "an array of strings"
	case len(key) == 3 && (key[2] == "env" || key[2] == "headers"):
		return "a table of strings"
	}
	return "a string"
}
