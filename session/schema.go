package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// applicationID marks a database file as a tinychat store ("tcht"), so that
// an unrelated SQLite file is never mistaken for one and migrated.
const applicationID = 0x74636874

// migrations brings the schema from version i to i+1 at index i. Entries are
// only ever appended: a released migration never changes.
var migrations = []string{
	// 1: workspaces, sessions and messages.
	//
	// messages has an INTEGER PRIMARY KEY so that the rowids the FTS index
	// refers to survive VACUUM. A workspace's current_session_id may name a
	// deleted session; readers then fall back to the newest one.
	`
CREATE TABLE workspaces (
	path               TEXT PRIMARY KEY,
	current_session_id TEXT
);

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	workspace  TEXT NOT NULL,
	title      TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_workspace ON sessions (workspace, updated_at);
CREATE INDEX sessions_by_updated ON sessions (updated_at);

CREATE TABLE messages (
	pk            INTEGER PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	seq           INTEGER NOT NULL,
	role          TEXT NOT NULL,
	content       TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	provider      TEXT NOT NULL DEFAULT '',
	model         TEXT NOT NULL DEFAULT '',
	input_tokens  INTEGER,
	output_tokens INTEGER,
	interrupted   INTEGER NOT NULL DEFAULT 0,
	context       TEXT
);
CREATE UNIQUE INDEX messages_by_session ON messages (session_id, seq);
`,
	// 2: the full-text index of message contents, built from the messages
	// already stored.
	`
CREATE VIRTUAL TABLE messages_fts USING fts5 (
	content,
	content = 'messages',
	content_rowid = 'pk',
	tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
	INSERT INTO messages_fts (rowid, content) VALUES (new.pk, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.pk, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.pk, old.content);
	INSERT INTO messages_fts (rowid, content) VALUES (new.pk, new.content);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
`,
	// 3: each session's number of messages, kept by put (the only writer
	// of messages; deleting a session deletes its messages), so that
	// listing a workspace of many long sessions does not count them all.
	`
ALTER TABLE sessions ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET message_count = (SELECT count(*) FROM messages m WHERE m.session_id = sessions.id);
`,
	// 4: typed turns: how each reply ended, the model's reasoning apart
	// from its answer, and the provider's opaque data that goes back with
	// it. Replies stored before have none of them.
	`
ALTER TABLE messages ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN reasoning_data TEXT NOT NULL DEFAULT '';
`,
	// 5: tools: the calls a reply made (JSON), and the tools a workspace
	// always allows or always refuses.
	`
ALTER TABLE messages ADD COLUMN tool_calls TEXT;
CREATE TABLE tool_permissions (
	workspace TEXT NOT NULL,
	tool      TEXT NOT NULL,
	decision  TEXT NOT NULL,
	PRIMARY KEY (workspace, tool)
);
`,
	// 6: search finds what people type: the index reads each message
	// through tinychat_search_text (searchtext.go says why), so that
	// Japanese, Chinese, Thai and emoji are found, and symbols are words.
	// It replaces version 2's index. Its content is a view, so that
	// snippets are taken from the text as the index read it. The view and
	// triggers call a function of tinychat's: other SQLite programs can
	// read the store, but writing a message takes tinychat.
	`
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIEW messages_search_text AS SELECT pk, ` + searchTextFunc + `(content) AS content FROM messages;
CREATE VIRTUAL TABLE messages_search USING fts5 (
	content,
	content = 'messages_search_text',
	content_rowid = 'pk',
	tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co So'"
);
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
	INSERT INTO messages_search (rowid, content) VALUES (new.pk, ` + searchTextFunc + `(new.content));
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
	INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.pk, ` + searchTextFunc + `(old.content));
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
	INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.pk, ` + searchTextFunc + `(old.content));
	INSERT INTO messages_search (rowid, content) VALUES (new.pk, ` + searchTextFunc + `(new.content));
END;
INSERT INTO messages_search (messages_search) VALUES ('rebuild');
`,
	// 7: put keeps the index of the messages it writes itself, instead of
	// triggers: SQLite runs a statement that fires a trigger in a statement
	// transaction of its own, at the start of which FTS5 writes what it
	// has gathered of the index, so each saved message made a segment of
	// its own, and merges. Put's statements that keep the index write one
	// row each and need none. Deleting messages still goes through a
	// trigger, rarely.
	`
DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
`,
	// 8: a reply in progress is saved as parts appended to its message, so
	// that a checkpoint writes only what came since the last one: saving
	// the whole reply each second, and indexing it again, cost in
	// proportion to its length, each time. Readers join the parts to the
	// message's own text (joined, in store.go); the reply's last save writes the
	// whole text to the message, indexes it and deletes its parts; a
	// store opened with parts left (a daemon killed mid-reply) folds them
	// in (foldParts). Parts are not in the full-text index. A message's
	// parts column says whether it has any, so that reading the others
	// costs no lookup.
	`
ALTER TABLE messages ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE message_parts (
	pk         INTEGER PRIMARY KEY,
	message_pk INTEGER NOT NULL REFERENCES messages (pk) ON DELETE CASCADE,
	content    TEXT NOT NULL,
	reasoning  TEXT NOT NULL
);
CREATE INDEX message_parts_by_message ON message_parts (message_pk, pk);
`,
}

// errNotStore is returned by schemaVersion for an SQLite file that some other
// program owns.
var errNotStore = errors.New("not a tinychat database (it has tables but no tinychat schema version); refusing to change it")

// schemaVersion returns the schema version of a tinychat store, 0 for an
// empty database, and fails for a database that is not a tinychat store or
// is one of a newer version than this binary's.
func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var app, version, objects int
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return 0, err
	}
	switch {
	case app != applicationID && (objects > 0 || version != 0):
		return 0, errNotStore
	case version > len(migrations):
		return 0, fmt.Errorf("schema version %d is newer than this tinychat supports (%d); upgrade tinychat", version, len(migrations))
	}
	return version, nil
}

// migrate applies the migrations a store lacks in one transaction, so that
// a daemon opening the file at the same time sees either none or all of
// them.
func migrate(ctx context.Context, tx *sql.Tx) error {
	version, err := schemaVersion(ctx, tx)
	if err != nil || version == len(migrations) {
		return err
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; both values are integers of ours.
	_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", applicationID, len(migrations)))
	return err
}
