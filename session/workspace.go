package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// MaxWorkspace is the longest workspace path the store takes, in bytes:
// Linux's PATH_MAX.
const MaxWorkspace = 4096

// NormalizeWorkspace returns the canonical name of a workspace given as a
// file:// URI or an absolute path: the cleaned absolute path, without a
// trailing slash. "file:///a/b/", "/a/b" and "/a/./b/" all give "/a/b".
// A URI is percent-decoded; a plain path is taken literally. Relative paths,
// other URI schemes, file URIs naming another host, and paths longer than
// MaxWorkspace or holding a NUL or a line break are errors.
func NormalizeWorkspace(ws string) (string, error) {
	p := ws
	if strings.HasPrefix(strings.ToLower(ws), "file:") {
		u, err := url.Parse(ws)
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // without the URL, which the message quotes cut
		}
		if err != nil {
			return "", fmt.Errorf("workspace %q: %w", clipped(ws), err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("workspace %q: file URI on another host", clipped(ws))
		}
		// A '?' or '#' in a folder name is percent-encoded in its URI, so
		// a query or fragment means the URI is malformed.
		if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return "", fmt.Errorf("workspace %q: not a file URI of a folder", clipped(ws))
		}
		p = filepath.FromSlash(u.Path)
	} else if i := strings.Index(ws, "://"); i > 0 {
		return "", fmt.Errorf("workspace %q: unsupported URI scheme %q", clipped(ws), clipped(ws[:i]))
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("workspace %q: not an absolute path or file:// URI", clipped(ws))
	}
	p = filepath.Clean(p)
	switch {
	case strings.ContainsAny(p, "\x00\n\r"):
		return "", fmt.Errorf("workspace %q: a folder name holds a NUL or a line break", clipped(ws))
	case len(p) > MaxWorkspace:
		return "", fmt.Errorf("workspace %q: %d bytes, longer than %d", clipped(ws), len(p), MaxWorkspace)
	}
	return p, nil
}

// clipped is ws cut short for an error message.
func clipped(ws string) string {
	if len(ws) <= 80 {
		return ws
	}
	return ws[:80] + "…"
}

// Current returns the current session of workspace: the one New or
// SetCurrent made current if it still exists, else the most recently
// updated. It returns an error wrapping ErrNotFound when the workspace has
// no session.
func (s *Store) Current(ctx context.Context, workspace string) (*Session, error) {
	ws, err := NormalizeWorkspace(workspace)
	if err != nil {
		return nil, err
	}
	db, err := s.use(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := scanSession(db.QueryRowContext(ctx, selectSessions+` WHERE s.id = `+currentID("?1"), ws))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workspace %s has no session: %w", ws, ErrNotFound)
	}
	return sess, err
}

// currentID is an SQL expression for the id of the current session of the
// workspace that the SQL expression ws names: the session the workspace row
// names if it still exists, else the newest. Sessions changed in the same
// millisecond are told apart by rowid, which grows with each new session.
func currentID(ws string) string {
	return `coalesce(
	(SELECT c.id FROM workspaces w JOIN sessions c ON c.id = w.current_session_id WHERE w.path = ` + ws + `),
	(SELECT n.id FROM sessions n WHERE n.workspace = ` + ws + ` ORDER BY n.updated_at DESC, n.rowid DESC LIMIT 1))`
}

// SetCurrent makes session id the current session of its workspace.
func (s *Store) SetCurrent(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *sql.Tx) error { return setCurrent(ctx, tx, id) })
}

func setCurrent(ctx context.Context, tx writer, id string) error {
	res, err := tx.ExecContext(ctx, `
INSERT INTO workspaces (path, current_session_id) SELECT workspace, id FROM sessions WHERE id = ?
ON CONFLICT (path) DO UPDATE SET current_session_id = excluded.current_session_id`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(id)
	}
	return nil
}
