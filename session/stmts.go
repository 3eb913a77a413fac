package session

import (
	"context"
	"database/sql"
)

// writer is what a write in a transaction needs: a *sql.Tx, or a
// *txStmts over one.
type writer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txStmts prepares each statement of a transaction once. Through
// database/sql, modernc.org/sqlite prepares a statement for every
// ExecContext and QueryRowContext, and SQLite parses it each time: saving
// the replies of 1,000 streaming turns in one transaction parsed the same
// eight statements 1,000 times, most of a checkpoint's time. The
// statements are closed with the transaction.
type txStmts struct {
	tx *sql.Tx
	m  map[string]*sql.Stmt
}

func newTxStmts(tx *sql.Tx) *txStmts { return &txStmts{tx: tx, m: map[string]*sql.Stmt{}} }

func (t *txStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.m[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	t.m[query] = st
	return st, nil
}

// ExecContext runs query, a single statement, prepared once.
func (t *txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext runs query, a single statement, prepared once. A
// statement that cannot be prepared is run on the transaction, whose row
// then carries the error.
func (t *txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
