package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxHits bounds what one search returns.
const maxHits = 50

// rankWindow is how many of the newest matches of a query are ranked.
const rankWindow = 500

// searchTime bounds a search. The limits of a query keep searches of what
// people type far below it (BenchmarkSearch100k); a query made to be slow,
// such as many prefixes of two letters in a large store, is stopped here
// and refused.
const searchTime = 2 * time.Second

// Snippet markers: the matched words of a hit's snippet are between
// HitStart and HitEnd, and an ellipsis marks where the snippet cuts the
// message.
const (
	HitStart = "«"
	HitEnd   = "»"
)

// Search finds messages by query, best match first, in workspace or in all
// workspaces when it is "". A query is words, each matched whole and
// without regard to case or accents, all of which a message must contain;
// "a phrase" in quotes, whose words must follow each other in that order;
// word* for words that start with it; OR between two of those for either;
// NOT before one to leave out the messages that have it. In scripts
// written without spaces (Chinese, Japanese, Korean, Thai...) and for
// emoji, each character is a word, so any part of a text is found. A query
// Search will not run is an error wrapping ErrQuery; one with nothing to
// find (only punctuation) finds nothing.
//
// Best matches come first, of the newest 500 messages that match: a
// word that most messages hold would otherwise have every one of them
// ranked. Each hit's snippet is about a dozen words around the match, the matched
// words between HitStart and HitEnd.
func (s *Store) Search(ctx context.Context, query, workspace string) ([]Hit, error) {
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("%w: the query is empty", ErrQuery)
	}
	p, err := parseQuery(query)
	if err != nil {
		return nil, err
	}
	match := p.fts5()
	if match == "" {
		return []Hit{}, nil
	}
	// The matches to rank are the newest rankWindow, which FTS5 finds
	// reading its lists backwards, as far as the window goes: ranking
	// every match of a word that most messages hold took 130 ms in a
	// store of 100,000 (BenchmarkSearch100k); 1,000 took 6.7 ms at the
	// median and 500 took 5.1, and in one workspace of four, 19 and 9 ms.
	from := `
FROM messages_search
JOIN messages m ON m.pk = messages_search.rowid
JOIN sessions s ON s.id = m.session_id
WHERE messages_search MATCH ?`
	args := []any{match}
	if workspace != "" {
		ws, err := NormalizeWorkspace(workspace)
		if err != nil {
			return nil, err
		}
		from += ` AND s.workspace = ?`
		args = append(args, ws)
	}
	q := `
SELECT m.session_id, m.id, m.role, m.created_at, s.title, s.workspace,
	snippet(messages_search, 0, '` + HitStart + `', '` + HitEnd + `', '…', 12)` + from + `
	AND messages_search.rowid >= coalesce((SELECT messages_search.rowid` + from + `
		ORDER BY messages_search.rowid DESC LIMIT 1 OFFSET ?), 0)
ORDER BY rank LIMIT ?`
	args = append(append(args, args...), rankWindow-1, maxHits)
	db, err := s.use(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, searchTime, errSlowQuery)
	defer cancel()
	hits, err := searchRows(ctx, db, q, args)
	if errors.Is(context.Cause(ctx), errSlowQuery) {
		return nil, errSlowQuery
	}
	return hits, err
}

var errSlowQuery = fmt.Errorf("%w: the query took longer than %v; make it narrower", ErrQuery, searchTime)

func searchRows(ctx context.Context, db *sql.DB, q string, args []any) ([]Hit, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hits := []Hit{}
	for rows.Next() {
		var (
			h       Hit
			created int64
		)
		if err := rows.Scan(&h.SessionID, &h.MessageID, &h.Role, &created, &h.Title, &h.Workspace, &h.Snippet); err != nil {
			return nil, err
		}
		h.CreatedAt = fromMillis(created)
		// A phrase of characters that the index reads one by one is
		// marked one character at a time: marked as one again.
		h.Snippet = displayText(strings.ReplaceAll(h.Snippet, HitEnd+wordBreak+HitStart, ""))
		hits = append(hits, h)
	}
	return hits, rows.Err()
}
