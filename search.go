package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tinychat/tinychat/session"
)

func (e *env) searchCommand() *cobra.Command {
	var (
		dir    string
		all    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "search [flags] QUERY...",
		Short: "Search the stored messages",
		Long: `Search the messages of the workspace's sessions (the working directory, or
--workspace), or of every workspace with --all. Best matches first.

Words are matched whole, in any case and without accents, and all must be
there. "a phrase" keeps its words in order; word* matches the start of
words; OR and NOT (in capitals) combine terms. Japanese, Chinese, Korean,
Thai and emoji are found anywhere in a text.`,
		Example: `tinychat search goroutine leak
tinychat search '"lifetimes Rust"' --all
tinychat search 'gorout*' OR channel NOT rust
tinychat search 東京`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := scope(all, dir)
			if err != nil {
				return err
			}
			store, err := e.open()
			if err != nil {
				return err
			}
			defer store.Close()
			hits, err := store.Search(context.Background(), strings.Join(args, " "), ws)
			if errors.Is(err, session.ErrQuery) {
				return usagef("%v", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, map[string]any{"hits": hits})
			}
			if len(hits) == 0 && !all {
				fmt.Fprintf(e.stderr, "tinychat: nothing found in %s; --all searches every workspace\n", ws)
			}
			e.printHits(hits, all)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&dir, "workspace", "w", "", "search this workspace `dir`ectory (default: the working directory)")
	fs.BoolVarP(&all, "all", "a", false, "search every workspace")
	fs.BoolVar(&asJSON, "json", false, "print JSON, as session/search returns it")
	return cmd
}

// printHits prints each hit on two lines: where it is (session, date,
// role, title, and with every workspace, the workspace), then its snippet,
// the match in bold on a terminal.
func (e *env) printHits(hits []session.Hit, withWorkspace bool) {
	color := isTerminal(e.stdout)
	mark := func(s string) string { return s }
	if color {
		mark = strings.NewReplacer(session.HitStart, sgrBold+sgrCode, session.HitEnd, sgrReset).Replace
	}
	var b strings.Builder
	for _, h := range hits {
		where := fmt.Sprintf("%s  %s  %-9s  %s", h.SessionID, h.CreatedAt.Local().Format("2006-01-02 15:04"), h.Role, oneLine(h.Title))
		if withWorkspace {
			where += "  (" + h.Workspace + ")"
		}
		if color {
			where = sgrDim + where + sgrReset
		}
		b.WriteString(where + "\n    " + mark(oneLine(h.Snippet)) + "\n")
	}
	fmt.Fprint(e.stdout, b.String())
}
