package tools

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tinychat/tinychat/providers"
)

func TestParseConfig(t *testing.T) {
	data := `
default_provider = "local" # the providers' keys are not ours to check
[providers.local]
type = "openai"

[mcp_servers.github]
command = "github-mcp-server"
args = ["stdio", "--read-only"]
env = { GITHUB_PERSONAL_ACCESS_TOKEN = "SECRET" }

[mcp_servers.docs]
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer SECRET" }

[tools]
policy = "deny"
"github__*" = "allow"
read_file = "ask"
`
	servers, policy, err := ParseConfig("config.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	wantServers := map[string]ServerConfig{
		"github": {Command: "github-mcp-server", Args: []string{"stdio", "--read-only"}, Env: map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "SECRET"}},
		"docs":   {URL: "https://mcp.example.com/mcp", Headers: map[string]string{"Authorization": "Bearer SECRET"}},
	}
	wantPolicy := Policy{Default: Deny, Rules: map[string]string{"github__*": Allow, "read_file": Ask}}
	if !reflect.DeepEqual(servers, wantServers) || !reflect.DeepEqual(policy, wantPolicy) {
		t.Errorf("ParseConfig gave\n%+v\n%+v\nwant\n%+v\n%+v", servers, policy, wantServers, wantPolicy)
	}

	servers, policy, err = ParseConfig("config.toml", nil)
	if err != nil || len(servers) != 0 || servers == nil || !reflect.DeepEqual(policy, Policy{Default: Ask}) {
		t.Errorf("ParseConfig of an empty file gave %v, %+v, %v; want no servers and the policy ask", servers, policy, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{"[mcp_servers.x]\ncomand = \"a\"",
			"config.toml:2:1: mcp_servers.x.comand: unknown field: want command, args, env, url or headers"},
		{"[mcp_servers.x]\ncommand = 3",
			"config.toml:2:11: mcp_servers.x.command: want a string, not an integer"},
		{"[mcp_servers.x]\ncommand = \"a\"\nargs = \"-v\"",
			"config.toml:3:8: mcp_servers.x.args: want an array of strings, not a string"},
		{"[mcp_servers.x]\ncommand = \"a\"\nenv = [\"K=SECRET\"]",
			"config.toml:3:7: mcp_servers.x.env: want a table of strings, not an array"},
		{"mcp_servers = 3",
			"config.toml:1:15: mcp_servers: want a table, not an integer"},
		{"[mcp_servers.x]\nargs = [\"a\"]",
			"config.toml:1:14: mcp_servers.x: give command (a server run on stdio) or url (a streamable HTTP server)"},
		{"[mcp_servers.x]\ncommand = \"a\"\nurl = \"http://h/SECRET\"",
			"config.toml:3:1: mcp_servers.x.url: give command or url, not both"},
		{"[mcp_servers.x]\nurl = \"http://h/mcp\"\nargs = [\"a\"]",
			"config.toml:3:1: mcp_servers.x.args: args are for a command, not a url"},
		{"[mcp_servers.x]\nurl = \"http://h/mcp\"\nenv = { K = \"SECRET\" }",
			"config.toml:3:1: mcp_servers.x.env: env is for a command, not a url"},
		{"[mcp_servers.x]\ncommand = \"a\"\nheaders = { K = \"SECRET\" }",
			"config.toml:3:1: mcp_servers.x.headers: headers are for a url, not a command"},
		{"[mcp_servers.x]\ncommand = \"  \"",
			"config.toml:2:1: mcp_servers.x.command: the command is empty"},
		{"[mcp_servers.x]\nurl = \"ftp://h/SECRET\"",
			"config.toml:2:1: mcp_servers.x.url: want an http or https URL, such as http://localhost:8080/mcp"},
		{"[mcp_servers.x]\nurl = \"http://u:SECRET@h/%zz\"",
			"config.toml:2:1: mcp_servers.x.url: not a URL"},
		{"[mcp_servers.x]\ncommand = \"a\"\nenv = { 1K = \"SECRET\" }",
			`config.toml:3:1: mcp_servers.x.env: "1K" is not the name of an environment variable (letters, digits and _)`},
		{"[mcp_servers.x]\ncommand = \"a\"\nenv = { K = \"SECRET\\u0000\" }",
			"config.toml:3:1: mcp_servers.x.env: the value of K holds a NUL"},
		{"[mcp_servers.x]\nurl = \"http://h/mcp\"\nheaders = { \"A B\" = \"SECRET\" }",
			`config.toml:3:1: mcp_servers.x.headers: "A B" is not a header name`},
		{"[mcp_servers.x]\nurl = \"http://h/mcp\"\n[mcp_servers.x.headers]\nAuthorization = \"SECRET\\r\\nX: y\"",
			"config.toml:3:16: mcp_servers.x.headers: the value of Authorization holds a line break or a NUL"},
		{"[mcp_servers.\"my server\"]\ncommand = \"a\"",
			"config.toml:1:14: mcp_servers.my server: a server name is the first part of its tools' names: use letters, digits, _ and - only"},
		{"[tools]\npolicy = \"maybe\"",
			`config.toml:2:1: tools.policy: want "ask", "allow" or "deny", not "maybe"`},
		{"[tools]\npolicy = true",
			`config.toml:2:10: tools.policy: want a string: "ask", "allow" or "deny", not a boolean`},
		{"[tools]\n\"gh/*\" = \"allow\"",
			"config.toml:2:1: tools.gh/*: tool names have only letters, digits, _ and -: this glob matches none"},
		{"[tools]\n\"gh[\" = \"allow\"",
			`config.toml:2:1: tools.gh[: not a glob: want a tool name with *, ? or [...] in it, such as "github__*"`},
		{"[tools\npolicy = \"ask\"",
			"config.toml:1:7: expected ']' to close table name"},
		// Every error, not the first alone.
		{"[mcp_servers.a]\n[mcp_servers.b]\nurl = \"x\"\n[tools]\ngrep = \"no\"",
			"config.toml:1:14: mcp_servers.a: give command (a server run on stdio) or url (a streamable HTTP server)\n" +
				"config.toml:3:1: mcp_servers.b.url: want an http or https URL, such as http://localhost:8080/mcp\n" +
				`config.toml:5:1: tools.grep: want "ask", "allow" or "deny", not "no"`},
	} {
		_, _, err := ParseConfig("config.toml", []byte(tt.data))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseConfig(%q) gave error\n%v\nwant\n%s", tt.data, err, tt.want)
			continue
		}
		var ce *providers.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("ParseConfig(%q) gave a %T, want *providers.ConfigError", tt.data, err)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseConfig(%q) gave an error showing a secret: %v", tt.data, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"[mcp_servers.a]\ncommand = \"x\"\nargs = [\"y\"]\nenv = { K = \"v\" }\n[tools]\npolicy = \"allow\"\n\"a__*\" = \"deny\"",
		"[mcp_servers.b]\nurl = \"http://h/mcp\"\nheaders = { A = \"b\" }",
		"mcp_servers = { a = { command = 1 } }", "[mcp_servers]\na = 1", "[[mcp_servers]]", "tools.x.y = 1",
		"mcp_servers.a.env.b.c = 1", "x = [[1], {a = 2}]", "[tools]\n\"[a-\" = \"allow\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		servers, policy, err := ParseConfig("config.toml", []byte(text))
		if err != nil {
			return
		}
		for name, sc := range servers {
			if field, err := sc.check(name); err != nil {
				t.Errorf("server %q was accepted, but %s: %v", name, field, err)
			}
		}
		for glob, d := range policy.Rules {
			if checkGlob(glob) != nil || checkDecision(d) != nil {
				t.Errorf("rule %q = %q was accepted", glob, d)
			}
			policy.Decide(glob)
		}
	})
}
