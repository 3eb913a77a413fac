package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tinychat/tinychat/session"
)

// The commands that manage stored sessions: sessions, export, import,
// rename and rm. A session is named by its id or the start of it.

func (e *env) sessionsCommand() *cobra.Command {
	var (
		dir    string
		all    bool
		n      int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "sessions [flags]",
		Short: "List the workspace's sessions, newest first",
		Long: `List the sessions of the workspace (the working directory, or --workspace),
newest first; * marks the current one, which ask continues. --all lists
every workspace's.`,
		Example: `tinychat sessions -n 5
tinychat sessions --all --json | jq -r '.sessions[].title'`,
		Args: exactArgs(0),
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
			list, err := store.List(context.Background(), ws)
			if err != nil {
				return err
			}
			if n > 0 && len(list) > n {
				list = list[:n]
			}
			if asJSON {
				return writeJSON(e.stdout, map[string]any{"sessions": list})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			head := "\tID\tUPDATED\tMESSAGES\tTITLE"
			if all {
				head += "\tWORKSPACE"
			}
			fmt.Fprintln(tw, head)
			for _, s := range list {
				mark := ""
				if s.Current {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s", mark, s.ID, s.UpdatedAt.Local().Format("2006-01-02 15:04"), s.MessageCount, oneLine(s.Title))
				if all {
					fmt.Fprintf(tw, "\t%s", s.Workspace)
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&dir, "workspace", "w", "", "the workspace `dir`ectory (default: the working directory)")
	fs.BoolVarP(&all, "all", "a", false, "every workspace's sessions")
	fs.IntVarP(&n, "number", "n", 0, "only the `N` newest")
	fs.BoolVar(&asJSON, "json", false, "print JSON, as session/list returns it")
	return cmd
}

func (e *env) exportCommand() *cobra.Command {
	var dir, format, output string
	cmd := &cobra.Command{
		Use:   "export [flags] [SESSION]",
		Short: "Print a session as text, Markdown or JSON",
		Long: `Print a session (by default the workspace's current one) as text, Markdown
or JSON. The JSON export is the whole session, which 'tinychat import'
reads back.`,
		Example: `tinychat export --format markdown -o chat.md
tinychat export 3f2a --format json > chat.json`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(session.ExportFormats, format) {
				return usagef("unknown format %q: want %s", format, strings.Join(session.ExportFormats, ", "))
			}
			store, err := e.open()
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := context.Background()
			var id string
			if len(args) == 1 {
				sess, err := resolve(ctx, store, args[0])
				if err != nil {
					return err
				}
				id = sess.ID
			} else {
				ws, err := workspace(dir)
				if err != nil {
					return err
				}
				cur, err := store.Current(ctx, ws)
				if err != nil {
					return fmt.Errorf("%s has no sessions yet", ws)
				}
				id = cur.ID
			}
			if output == "" || output == "-" {
				return store.Export(ctx, e.stdout, id, format)
			}
			f, err := os.Create(output)
			if err != nil {
				return err
			}
			if err := store.Export(ctx, f, id, format); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "text", "text, markdown or json")
	fs.StringVarP(&output, "output", "o", "", "write to this `file` instead of stdout")
	fs.StringVarP(&dir, "workspace", "w", "", "the workspace `dir`ectory whose current session to export (default: the working directory)")
	return cmd
}

func (e *env) importCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "import [flags] FILE|-",
		Short: "Import a session exported as JSON",
		Long: `Import a session from a JSON export ('-' reads stdin) into the workspace
(the working directory, or --workspace), where it becomes the current
session. Its id is printed.`,
		Example: `tinychat export --format json > chat.json && tinychat import -w ~/other chat.json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				b   []byte
				err error
			)
			if args[0] == "-" {
				b, err = io.ReadAll(e.stdin)
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			ws, err := workspace(dir)
			if err != nil {
				return err
			}
			store, err := e.open()
			if err != nil {
				return err
			}
			defer store.Close()
			sess, err := store.Import(context.Background(), ws, string(b))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintln(e.stdout, sess.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "workspace", "w", "", "the workspace `dir`ectory to import into (default: the working directory)")
	return cmd
}

func (e *env) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rename SESSION TITLE...",
		Short:   "Give a session a title",
		Example: `tinychat rename 3f2a "Goroutine leaks"`,
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := e.open()
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := context.Background()
			sess, err := resolve(ctx, store, args[0])
			if err != nil {
				return err
			}
			title := strings.Join(args[1:], " ")
			if strings.TrimSpace(title) == "" {
				return usagef("the title is empty")
			}
			_, err = store.Rename(ctx, sess.ID, title)
			return err
		},
	}
}

func (e *env) rmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm SESSION...",
		Short:   "Delete sessions",
		Long:    `Delete sessions and their messages, for good. Each deleted session is named on stdout.`,
		Example: `tinychat rm 3f2a 9c1d`,
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := e.open()
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := context.Background()
			// Every id is resolved before any is deleted: one that is
			// wrong deletes nothing.
			var list []*session.Session
			for _, id := range args {
				sess, err := resolve(ctx, store, id)
				if err != nil {
					return err
				}
				list = append(list, sess)
			}
			for _, sess := range list {
				if err := store.Delete(ctx, sess.ID); err != nil && !errors.Is(err, session.ErrNotFound) {
					return err
				}
				fmt.Fprintf(e.stdout, "deleted %s  %s\n", sess.ID, oneLine(sess.Title))
			}
			return nil
		},
	}
}

// oneLine puts s on one line, for a table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// scope is the workspace that --all and --workspace name: "" for every
// workspace, else dir's (the working directory by default).
func scope(all bool, dir string) (string, error) {
	if all && dir != "" {
		return "", usagef("--all and --workspace do not go together")
	}
	if all {
		return "", nil
	}
	return workspace(dir)
}
