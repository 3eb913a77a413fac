package session

import (
	"context"
	"database/sql"
	"errors"
)

// Permission returns what workspace always does with tool: "allow",
// "reject", or "" when it asks each time.
func (s *Store) Permission(ctx context.Context, workspace, tool string) (string, error) {
	var decision string
	err := s.view(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT decision FROM tool_permissions WHERE workspace = ? AND tool = ?`, workspace, tool).Scan(&decision)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return decision, err
}

// SetPermission remembers that workspace always allows or always rejects
// tool: decision is "allow" or "reject".
func (s *Store) SetPermission(ctx context.Context, workspace, tool, decision string) error {
	return s.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tool_permissions (workspace, tool, decision) VALUES (?, ?, ?)
ON CONFLICT (workspace, tool) DO UPDATE SET decision = excluded.decision`, workspace, tool, decision)
		return err
	})
}
