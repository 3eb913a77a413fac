package session

import (
	"context"
	"errors"
	"strings"
)

// maxHits bounds what one search returns.
const maxHits = 50

// Search finds the messages that contain every word of query, best match
// first, in workspace or in all workspaces when it is "". Words are matched
// whole and without regard to case or accents; characters that mean
// something to SQLite's full-text syntax are plain text here. Each hit's
// snippet is about a dozen words around the match, with the matched words
// in « ».
func (s *Store) Search(ctx context.Context, query, workspace string) ([]Hit, error) {
	words := strings.Fields(query)
	if len(words) == 0 {
		return nil, errors.New("session: empty search query")
	}
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	q := `
SELECT m.session_id, m.id, snippet(messages_fts, 0, '«', '»', '…', 12)
FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid`
	args := []any{strings.Join(words, " ")}
	if workspace != "" {
		ws, err := NormalizeWorkspace(workspace)
		if err != nil {
			return nil, err
		}
		q += ` JOIN sessions s ON s.id = m.session_id WHERE messages_fts MATCH ? AND s.workspace = ?`
		args = append(args, ws)
	} else {
		q += ` WHERE messages_fts MATCH ?`
	}
	q += ` ORDER BY rank LIMIT ?`
	args = append(args, maxHits)
	db, err := s.use(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hits := []Hit{}
	for rows.Next() {
		var h Hit
		if err := rows.Scan(&h.SessionID, &h.MessageID, &h.Snippet); err != nil {
			return nil, err
		}
		hits = append(hits, h)
	}
	return hits, rows.Err()
}
