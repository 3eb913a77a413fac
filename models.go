package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// The commands that describe the providers: models and config.

func (e *env) modelsCommand() *cobra.Command {
	var (
		provider string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "models [flags]",
		Short: "List a provider's models",
		Long: `List the models of a provider (by default the default provider), from its
own models endpoint or the models its configuration lists, one a line.`,
		Example: `tinychat models
tinychat models -p openai`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, _, err := e.logger(slog.LevelWarn, true)
			if err != nil {
				return err
			}
			reg, cfg, err := e.registry(log, nil, nil)
			if err != nil {
				return err
			}
			if provider == "" {
				provider, _ = chat.Choose(reg, chat.Request{Settings: chat.ConfigSettings(reg, cfg)}, nil)
			}
			p, err := reg.Get(provider)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(context.Background())
			defer stop()
			models, err := p.Models(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, map[string]any{"models": models})
			}
			for _, m := range models {
				fmt.Fprintln(e.stdout, m)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&provider, "provider", "p", "", "the provider (default: the default one; see 'tinychat config')")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as models/list returns it")
	return cmd
}

// providerConfig is one provider as tinychat config --json prints it.
type providerConfig struct {
	providers.Info
	Type    string              `json:"type"`
	Key     providers.KeySource `json:"key"`
	Problem string              `json:"problem,omitempty"`
}

func (e *env) configCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "config [flags]",
		Short: "Print the configuration: file, store, providers and where their keys come from",
		Long: `Print the resolved configuration: the configuration file read (or that there
is none), the store, the default provider and model, and for each provider
its type, default model, base URL, whether it can be used and where its key
comes from. Never a key.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return e.printConfig(asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (e *env) printConfig(asJSON bool) error {
	log, _, err := e.logger(slog.LevelWarn, true)
	if err != nil {
		return err
	}
	reg, cfg, err := e.registry(log, nil, nil)
	if err != nil {
		return err
	}
	db := e.db
	if db == "" {
		db = session.DefaultPath(os.Getenv)
	}
	list := reg.List()
	name, model := chat.Choose(reg, chat.Request{Settings: chat.ConfigSettings(reg, cfg)}, nil)
	servers, policy, err := tools.ParseConfig(cfg.Path, cfg.Data)
	if err != nil {
		return err
	}
	mcp := mcpServersOf(servers)
	maxReply := cmp.Or(cfg.MaxReplyBytes, chat.DefaultMaxReplyBytes)

	if asJSON {
		provs := make([]providerConfig, len(list))
		for i, p := range list {
			provs[i] = providerConfig{Info: p, Type: p.Type, Key: p.Key, Problem: p.Problem}
		}
		return writeJSON(e.stdout, map[string]any{
			"configFile":      map[string]any{"path": cfg.Path, "found": cfg.Found},
			"db":              db,
			"defaultProvider": name,
			"defaultModel":    model,
			"maxReplyBytes":   maxReply,
			"providers":       provs,
			"mcpServers":      mcp,
			"toolPolicy":      map[string]any{"default": cmp.Or(policy.Default, tools.Ask), "rules": policy.Rules},
		})
	}
	stdout := e.stdout
	switch {
	case cfg.Found:
		fmt.Fprintf(stdout, "config file: %s\n", cfg.Path)
	case cfg.Path != "":
		fmt.Fprintf(stdout, "config file: none (no %s)\n", cfg.Path)
	default:
		fmt.Fprintln(stdout, "config file: none (no home directory)")
	}
	fmt.Fprintf(stdout, "db: %s\ndefault provider: %s\ndefault model: %s\nmax reply: %d bytes\n\n", db, name, model, maxReply)
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
