package session

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is a tinychat database: every workspace's sessions and messages.
// It is safe for concurrent use, and several processes may open the same
// file at once.
type Store struct {
	path string
	// ready is closed once the store is open; db, or err if it could not
	// be opened, are set before. Methods reach db only through use.
	ready chan struct{}
	db    *sql.DB
	err   error
	// writing holds a token while this process runs a write transaction, so
	// that its own goroutines queue here instead of polling
	// SQLite's lock; the lock then only arbitrates between processes.
	writing chan struct{}

	// gathering is the SaveAll batch that saves join until a writer takes
	// it; nil when none is waiting.
	gatherMu  sync.Mutex
	gathering *saveBatch
}

type saveBatch struct {
	saves []*Save
	done  chan struct{} // closed when written; err is then set
	err   error
}

// maxConns bounds the connections a Store opens to its file. Readers in
// WAL mode run side by side, and this process writes one at a time, so on
// an editor's machine a few serve as well as many.
const maxConns = 4

// pageCacheKiB bounds each connection's page cache, an eighth of SQLite's
// default of 2,000 KiB. The cache holds pages the kernel's file cache
// already has; in WAL mode a connection drops it whenever another one has
// written since, which in a daemon is between most of its transactions;
// and modernc.org/memory gives each 4 KiB page an 8 KiB slot. With the
// default, RSS after the bench's lists and searches of a 100k-message store
// was 19.1 MB, and 16.1 MB with 256 KiB, with no query measurably slower;
// after a 100k-delta reply, whose 400 kB message passes through the cache,
// 19.2/19.3 MB and 18.6/18.3 MB.
const pageCacheKiB = 256

// Memory is the path of a throwaway store that lives in memory.
const Memory = ":memory:"

// Retrying a write that met SQLITE_BUSY: the busy timeout already waited
// busyTimeout for the lock, so a few more attempts only cover a peer that
// holds it for an unusually long time.
const (
	busyTimeout   = 10 * time.Second
	writeAttempts = 4
	retryPause    = 50 * time.Millisecond
)

// DefaultPath returns where the database lives: $TINYCHAT_DB if set, else
// tinychat/tinychat.db under $XDG_DATA_HOME, else under
// $HOME/.local/share. getenv is os.Getenv outside tests. An $XDG_DATA_HOME
// that is not absolute is ignored, as the XDG specification asks; with no
// $HOME either, the path is relative to the working directory.
func DefaultPath(getenv func(string) string) string {
	if p := getenv("TINYCHAT_DB"); p != "" {
		return p
	}
	data := getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(data) {
		data = filepath.Join(getenv("HOME"), ".local", "share")
	}
	return filepath.Join(data, "tinychat", "tinychat.db")
}

// Open opens the store at path, creating the file (mode 0600) and its
// directory (mode 0700) if needed, and migrates its schema forward. The path
// Memory (":memory:") gives a throwaway store. A file that is not a tinychat
// store, or one written by a newer tinychat, is an error naming the file.
func Open(path string) (*Store, error) {
	s := Start(path)
	if err := s.Ready(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start is Open returning at once, for a caller that has other work to do
// while the store opens: the daemon answers initialize meanwhile. The
// store's methods wait until it is open; if it cannot be, they and Ready
// return the error Open would have.
func Start(path string) *Store {
	s := &Store{path: path, ready: make(chan struct{}), writing: make(chan struct{}, 1)}
	if path == "" {
		s.err = errors.New("session: no database path")
	} else if path != Memory {
		s.path, s.err = filepath.Abs(path)
	}
	if s.err != nil {
		close(s.ready)
		return s
	}
	go func() {
		defer close(s.ready)
		s.db, s.err = open(s.path)
	}()
	return s
}

// Ready waits until the store is open, and returns why it could not be.
func (s *Store) Ready() error {
	<-s.ready
	return s.err
}

// use waits until the store is open and returns its database: every use of
// the database goes through it.
func (s *Store) use(ctx context.Context) (*sql.DB, error) {
	select {
	case <-s.ready:
		return s.db, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// open opens the database at path, absolute or Memory, for Start.
func open(path string) (*sql.DB, error) {
	pragmas := url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"foreign_keys(1)",
			"synchronous(NORMAL)",
			fmt.Sprintf("cache_size(-%d)", pageCacheKiB),
		},
		// Write transactions take the lock up front: a deferred one that
		// read first could not wait for the lock and would fail.
		"_txlock": {"immediate"},
	}
	var dsn string
	if path == Memory {
		dsn = Memory + "?" + pragmas.Encode()
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := danglingLink(path); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		f.Close()
		// A file: URI, so that a path holding '?' or '%' reaches SQLite
		// intact.
		dsn = (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: pragmas.Encode()}).String()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if path == Memory {
		// Every connection to :memory: is a database of its own.
		db.SetMaxOpenConns(1)
	} else {
		// A few connections, kept: with the default pool, 500 turns
		// starting at once opened a connection each (each parsing the
		// schema and filling a page cache of its own), then closed all
		// but two. Nothing here needs a second connection while holding
		// one (the :memory: store runs on a single one).
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
	}
	if err := ensureSchema(context.Background(), db); err != nil {
		db.Close()
		if code(err) == sqlite3.SQLITE_NOTADB {
			return nil, fmt.Errorf("%s: not a tinychat database (not an SQLite file)", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := useWAL(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if path != Memory {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
				db.Close()
				return nil, err
			}
		}
	}
	return db, nil
}

// danglingLink returns an error if path is a symbolic link to a file that
// does not exist. Opening it would create a store wherever the link
// points, which is not where anyone meant one: a link to an existing store
// is followed, a dangling one refused.
func danglingLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	target, _ := os.Readlink(path)
	return fmt.Errorf("%s is a symbolic link to %s, which does not exist: tinychat makes no store through a dangling link", path, target)
}

// PrivateDir makes dir, which must be tinychat's own data directory and
// not one a user named, accessible to its owner alone (mode 0700), as Open
// makes the directories it creates: the store holds every conversation.
// The directory may have been made by hand, or by a program with a looser
// umask. A directory that does not exist yet is left for Open to make.
func PrivateDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// ensureSchema checks the schema and migrates it if it is behind. Nearly every
// open finds it current, which a read transaction can tell without waiting
// for another daemon's write; only a migration takes the write lock, and
// checks again under it, since another daemon may have migrated meanwhile.
// A store with parts of replies left in it has them folded (foldParts).
// Nothing else in this process uses db yet, so it needs no writing token.
func ensureSchema(ctx context.Context, db *sql.DB) error {
	var (
		version int
		parts   bool
	)
	err := inTx(ctx, db, readOnly, func(tx *sql.Tx) (err error) {
		version, err = schemaVersion(ctx, tx)
		if err == nil && version == len(migrations) {
			err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM message_parts)`).Scan(&parts)
		}
		return err
	})
	if err != nil || version == len(migrations) && !parts {
		return err
	}
	return retryBusy(ctx, func() error {
		return inTx(ctx, db, nil, func(tx *sql.Tx) error {
			if err := migrate(ctx, tx); err != nil {
				return err
			}
			return foldParts(ctx, tx)
		})
	})
}

// useWAL puts the database in WAL mode, in which readers work while a
// daemon writes. WAL is a property of the file, so it is set only once the
// file is known to be ours: as a DSN pragma it would convert any database
// it opened, even one Open then refuses. Switching needs the file to itself
// for a moment and does not wait for it as other statements do, so it is
// retried while other daemons that opened the new file at the same time
// finish their first steps.
func useWAL(db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		_, err := db.Exec("PRAGMA journal_mode = WAL")
		if code(err) != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		time.Sleep(retryPause)
	}
}

// Close closes the database, once it has finished opening.
func (s *Store) Close() error {
	if s.Ready() != nil {
		return nil
	}
	return s.db.Close()
}

// Path returns the absolute path of the database file, or Memory.
func (s *Store) Path() string { return s.path }

// IntegrityCheck reports whether the database file and its full-text index
// are intact, as SQLite's own checks find them. An error means the checks
// could not run.
func (s *Store) IntegrityCheck(ctx context.Context) (bool, error) {
	db, err := s.use(ctx)
	if err != nil {
		return false, err
	}
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result); err != nil {
		return false, err
	}
	if result != "ok" {
		return false, nil
	}
	// The FTS5 check compares the index with the messages it indexes. It
	// is written as an INSERT, so it runs as a write.
	err = s.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)`)
		return err
	})
	if code(err) == sqlite3.SQLITE_CORRUPT {
		return false, nil
	}
	return err == nil, err
}

// NewID returns a new random id for a session or a message: 16 hex digits.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// code returns the primary SQLite result code of err, or 0.
func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() & 0xff
	}
	return 0
}

// A WriteError is a write the disk refused: it is full (SQLite's
// SQLITE_FULL, which a database at its size limit gives too), or writing
// failed (SQLITE_IOERR). Nothing of what was being written is stored.
type WriteError struct {
	Full bool // the disk, or the database, is full
	Err  error
}

func (e *WriteError) Error() string {
	if e.Full {
		return "the store is full: " + e.Err.Error()
	}
	return "the store could not be written: " + e.Err.Error()
}

func (e *WriteError) Unwrap() error { return e.Err }

// writeError returns err as a *WriteError if the disk refused the write,
// else err itself.
func writeError(err error) error {
	var we *WriteError
	switch c := code(err); {
	case errors.As(err, &we):
		return err
	case c == sqlite3.SQLITE_FULL:
		return &WriteError{Full: true, Err: err}
	case c == sqlite3.SQLITE_IOERR:
		return &WriteError{Err: err}
	}
	return err
}

// update runs fn in a write transaction and commits it. It retries when
// another process held the database lock for longer than the busy timeout;
// fn must therefore be safe to run again. A write the disk refused is a
// *WriteError.
func (s *Store) update(ctx context.Context, fn func(*sql.Tx) error) error {
	db, err := s.use(ctx)
	if err != nil {
		return err
	}
	select {
	case s.writing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writing }()
	return writeError(retryBusy(ctx, func() error { return inTx(ctx, db, nil, fn) }))
}

// retryBusy runs a write until it does not meet SQLITE_BUSY, at most
// writeAttempts times.
func retryBusy(ctx context.Context, write func() error) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if attempt == writeAttempts || code(err) != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt) * retryPause):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// view runs fn in a read transaction, so that it sees one snapshot of the
// database.
func (s *Store) view(ctx context.Context, fn func(*sql.Tx) error) error {
	db, err := s.use(ctx)
	if err != nil {
		return err
	}
	return inTx(ctx, db, readOnly, fn)
}

var readOnly = &sql.TxOptions{ReadOnly: true}

// inTx runs fn in a transaction of db and commits it.
func inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// querier is what reading a session needs: a *sql.Tx or the *sql.DB.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// selectSessions selects the fields of Session, in their order, from
// sessions s.
var selectSessions = `
SELECT s.id, s.workspace, substr(s.title, 1, ` + strconv.Itoa(MaxTitle) + `), s.created_at, s.updated_at,
	s.message_count,
	s.id IS ` + currentID("s.workspace") + `
FROM sessions s`

// newestFirst orders sessions by their last change, as currentID does.
const newestFirst = ` ORDER BY s.updated_at DESC, s.rowid DESC`

func scanSession(row interface{ Scan(...any) error }) (*Session, error) {
	var (
		s                Session
		created, updated int64
	)
	if err := row.Scan(&s.ID, &s.Workspace, &s.Title, &created, &updated, &s.MessageCount, &s.Current); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = fromMillis(created), fromMillis(updated)
	return &s, nil
}

func getSession(ctx context.Context, q querier, id string) (*Session, error) {
	s, err := scanSession(q.QueryRowContext(ctx, selectSessions+` WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	return s, err
}

func notFound(id string) error { return &NotFoundError{ID: id} }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// New starts a session in workspace and makes it the workspace's current
// one. An empty title is later taken from the first user message.
func (s *Store) New(ctx context.Context, workspace, title string) (*Session, error) {
	ws, err := NormalizeWorkspace(workspace)
	if err != nil {
		return nil, err
	}
	var sess *Session
	err = s.update(ctx, func(tx *sql.Tx) error {
		sess, err = newSession(ctx, tx, ws, title, time.Now())
		return err
	})
	return sess, err
}

// newSession inserts a session created at created and makes it current.
func newSession(ctx context.Context, tx *sql.Tx, ws, title string, created time.Time) (*Session, error) {
	id := NewID()
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, workspace, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		id, ws, cleanTitle(title), created.UnixMilli(), time.Now().UnixMilli()); err != nil {
		return nil, err
	}
	if err := setCurrent(ctx, tx, id); err != nil {
		return nil, err
	}
	return getSession(ctx, tx, id)
}

// List returns the sessions of workspace, or of every workspace when it is
// "", newest first.
func (s *Store) List(ctx context.Context, workspace string) ([]Session, error) {
	query, args := selectSessions+newestFirst, []any(nil)
	if workspace != "" {
		ws, err := NormalizeWorkspace(workspace)
		if err != nil {
			return nil, err
		}
		query, args = selectSessions+` WHERE s.workspace = ?`+newestFirst, []any{ws}
	}
	db, err := s.use(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []Session{}
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, *sess)
	}
	return list, rows.Err()
}

// Session returns the session id, or an error wrapping ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	db, err := s.use(ctx)
	if err != nil {
		return nil, err
	}
	return getSession(ctx, db, id)
}

// Resolve returns the session whose id is id or, failing that, the one
// session, of any workspace, whose id starts with it. No match is an error
// wrapping ErrNotFound; several are an *AmbiguousError.
func (s *Store) Resolve(ctx context.Context, id string) (*Session, error) {
	db, err := s.use(ctx)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, notFound(id)
	}
	rows, err := db.QueryContext(ctx, `SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY id = ? DESC, id LIMIT ?`,
		len(id), id, id, maxCandidates+1)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var found string
		if err := rows.Scan(&found); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, found)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch {
	case len(ids) == 0:
		return nil, notFound(id)
	case len(ids) > 1 && ids[0] != id:
		return nil, &AmbiguousError{Prefix: id, IDs: ids[:min(len(ids), maxCandidates)], More: len(ids) > maxCandidates}
	}
	return getSession(ctx, db, ids[0])
}

// maxCandidates is how many sessions an AmbiguousError names.
const maxCandidates = 5

// AmbiguousError reports an id prefix that several sessions share.
type AmbiguousError struct {
	Prefix string
	IDs    []string // some of the sessions whose id starts with Prefix
	More   bool     // there are more than IDs
}

func (e *AmbiguousError) Error() string {
	more := ""
	if e.More {
		more = ", ..."
	}
	return fmt.Sprintf("session id %q is ambiguous: %s%s", e.Prefix, strings.Join(e.IDs, ", "), more)
}

// Messages returns the messages of session id in order, or an error
// wrapping ErrNotFound.
func (s *Store) Messages(ctx context.Context, id string) ([]Message, error) {
	var msgs []Message
	err := s.view(ctx, func(tx *sql.Tx) error {
		sess, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		msgs, err = messages(ctx, tx, sess)
		return err
	})
	return msgs, err
}

// messages returns the messages of sess, which the caller read in the same
// transaction.
func messages(ctx context.Context, q querier, sess *Session) ([]Message, error) {
	msgs := make([]Message, 0, sess.MessageCount)
	err := eachMessage(ctx, q, sess.ID, messageColumns, func(m *Message) error {
		msgs = append(msgs, *m)
		return nil
	})
	return msgs, err
}

// messageColumns are the columns of messages a Message is read from.
const messageColumns = "id, role, content, created_at, provider, model, input_tokens, output_tokens, interrupted, context, stop_reason, reasoning, reasoning_data, tool_calls"

// eachMessage calls fn with each message of session id in order, read from
// columns (some of messageColumns, in any order); the fields of the others
// are left zero. The message is reused for the next one; what it points to
// (its strings, Usage and Context) is not.
func eachMessage(ctx context.Context, q querier, id, columns string, fn func(*Message) error) error {
	var exprs []string
	for c := range strings.SplitSeq(columns, ", ") {
		exprs = append(exprs, cmp.Or(joined[c], c))
	}
	rows, err := q.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM messages WHERE session_id = ? ORDER BY seq", id)
	if err != nil {
		return err
	}
	defer rows.Close()
	// The scan's destinations are made once for every row: Scan takes
	// their addresses, which would move a set made per row to the heap.
	// A row then costs only what the driver makes of it (its strings) and
	// its usage. items may be the driver's own memory (sql.RawBytes): it
	// is decoded before the next row is read.
	var (
		m       Message
		created sql.NullInt64
		in, out sql.NullInt64
		items   sql.RawBytes
		calls   sql.RawBytes
	)
	fields := map[string]any{
		"id": &m.ID, "role": &m.Role, "content": &m.Content, "created_at": &created, "provider": &m.Provider, "model": &m.Model,
		"input_tokens": &in, "output_tokens": &out, "interrupted": &m.Interrupted, "context": &items,
		"stop_reason": &m.StopReason, "reasoning": &m.Reasoning, "reasoning_data": &m.ReasoningData, "tool_calls": &calls,
	}
	var dest []any
	for c := range strings.SplitSeq(columns, ", ") {
		dest = append(dest, fields[c])
	}
	for n := 0; rows.Next(); n++ {
		m = Message{}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if created.Valid {
			m.CreatedAt = fromMillis(created.Int64)
		}
		if in.Valid || out.Valid {
			m.Usage = &Usage{InputTokens: int(in.Int64), OutputTokens: int(out.Int64)}
		}
		if items != nil {
			if err := json.Unmarshal(items, &m.Context); err != nil {
				return fmt.Errorf("message %d of session %s: context: %w", n, id, err)
			}
		}
		if calls != nil {
			if err := json.Unmarshal(calls, &m.ToolCalls); err != nil {
				return fmt.Errorf("message %d of session %s: tool calls: %w", n, id, err)
			}
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Delete deletes session id and its messages.
func (s *Store) Delete(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound(id)
		}
		return nil
	})
}

// DeleteMessage deletes message id of session sessionID: a user message
// saved ahead of a reply that never came, say. A title the session took
// from it, its first user message, is taken again from the first one left,
// if any. A message that is not there is no error.
func (s *Store) DeleteMessage(ctx context.Context, sessionID, id string) error {
	return s.update(ctx, func(tx *sql.Tx) error {
		was, err := firstUserTitle(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = ? AND session_id = ?`, id, sessionID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		now, err := firstUserTitle(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET message_count = message_count - ?,
	title = CASE WHEN title = ? THEN ? ELSE title END WHERE id = ?`, n, was, now, sessionID)
		return err
	})
}

// Rename sets the title of session id and returns the session. An empty
// title is taken from the first user message again. Renaming does not change
// UpdatedAt, which follows the conversation.
func (s *Store) Rename(ctx context.Context, id, title string) (*Session, error) {
	var sess *Session
	err := s.update(ctx, func(tx *sql.Tx) error {
		if title == "" {
			var err error
			if title, err = firstUserTitle(ctx, tx, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET title = ? WHERE id = ?`, cleanTitle(title), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound(id)
		}
		sess, err = getSession(ctx, tx, id)
		return err
	})
	return sess, err
}

// titleRunes is how much of the first user message makes a session's title.
const titleRunes = 60

// MaxTitle is the most characters a session's title keeps: every
// session/list carries every title of a workspace.
const MaxTitle = 1024

// cleanTitle is title as the store keeps it: each control character (a
// NUL, a line break, a tab) a space, no space at either end, at most
// MaxTitle characters.
func cleanTitle(title string) string {
	title = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, title)
	title = strings.TrimSpace(title)
	if utf8.RuneCountInString(title) > MaxTitle {
		title = strings.TrimSpace(string([]rune(title)[:MaxTitle]))
	}
	return title
}

// firstUserTitle returns the title made of the first user message of
// session id, or "" if it has none.
func firstUserTitle(ctx context.Context, tx writer, id string) (string, error) {
	var content string
	err := tx.QueryRowContext(ctx, `SELECT content FROM messages WHERE session_id = ? AND role = ? ORDER BY seq LIMIT 1`,
		id, RoleUser).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	title := []rune(strings.Join(strings.Fields(cleanTitle(content)), " "))
	if len(title) > titleRunes {
		title = title[:titleRunes]
	}
	return strings.TrimSpace(string(title)), nil
}

// Put stores msgs in session sessionID, in one transaction. A message whose
// ID is new is appended after the session's last message; one already in
// the session keeps its place and takes the new content, usage,
// interrupted flag, provider, model, stop reason, reasoning and tool calls,
// which is how a reply is saved while it streams. Put fills in an empty ID with NewID and a zero CreatedAt with
// the current time, in msgs themselves. The session's UpdatedAt becomes now,
// and a session without a title gets the first user message as its title.
//
// Put gives up when ctx is done: to save a reply whose request was
// cancelled, pass context.WithoutCancel of the request's context.
func (s *Store) Put(ctx context.Context, sessionID string, msgs ...*Message) error {
	if err := checkMessages(msgs); err != nil {
		return err
	}
	now := time.Now()
	prepare(msgs, now)
	return s.update(ctx, func(tx *sql.Tx) error { return put(ctx, tx, sessionID, now, msgs, false) })
}

// A Save is messages of one session to store, after which the session is
// its workspace's current one, unless the save is Appended: a reply in
// progress, saved each second, does not take its workspace back from a
// session made meanwhile. Err is what became of it.
type Save struct {
	SessionID string
	Messages  []*Message
	// Appended says that the messages' Content and Reasoning are what came
	// of them since their last save, to be added to what is stored: a
	// reply in progress saved at a checkpoint. A later save without it
	// stores their whole text again.
	Appended bool
	Err      error
}

// SaveAll stores each save as Put does and makes its session current. A
// save that fails (its session deleted, say) is undone alone and gets its
// error in Err; SaveAll's own error is the transaction's, in which case no
// save was stored.
//
// Saves are written together, in one transaction: those of one call, and
// those of calls made while another's are being written, which gather for
// the next transaction. So 500 turns streaming at once cost one write at
// each checkpoint, and their last saves a few. SaveAll therefore does not
// give up when ctx is done: what it was given is saved.
func (s *Store) SaveAll(ctx context.Context, saves []Save) error {
	now := time.Now()
	s.gatherMu.Lock()
	b := s.gathering
	first := b == nil
	if first {
		b = &saveBatch{done: make(chan struct{})}
		s.gathering = b
	}
	for i := range saves {
		sv := &saves[i]
		if sv.Err = checkMessages(sv.Messages); sv.Err == nil {
			prepare(sv.Messages, now)
			b.saves = append(b.saves, sv)
		}
	}
	s.gatherMu.Unlock()
	if !first {
		<-b.done
		return b.err
	}
	// The batch is taken as it is once this process may write (or cannot):
	// saves from then on gather for the next one.
	take := func() {
		s.gatherMu.Lock()
		if s.gathering == b {
			s.gathering = nil
		}
		s.gatherMu.Unlock()
	}
	ctx = context.WithoutCancel(ctx)
	// First all the saves at once. SQLite's full-text index writes what
	// it gathered at every savepoint, so a savepoint for each save made
	// the index write a segment for each and then merge them (a third of
	// a checkpoint of 1,000 replies). Only if a save fails are they all
	// undone and written again one by one, each in a savepoint of its own,
	// so that the failed one is undone alone: in the same transaction, so
	// that no later batch is written in between.
	b.err = s.update(ctx, func(tx *sql.Tx) error {
		take()
		st := newTxStmts(tx)
		if _, err := st.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
			return err
		}
		now := time.Now()
		var err error
		for _, sv := range b.saves {
			if err = saveOne(ctx, st, now, sv); err != nil {
				break
			}
		}
		if err == nil {
			_, err = st.ExecContext(ctx, "RELEASE batch")
			return err
		}
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO batch; RELEASE batch"); rerr != nil {
			// SQLite rolled the whole transaction back (a full disk, a
			// failed write): that failure is the transaction's.
			return writeError(err)
		}
		return saveOneByOne(ctx, st, b.saves)
	})
	take()
	close(b.done)
	return b.err
}

// saveOne writes sv and makes its session current, unless it is Appended
// (see Save).
func saveOne(ctx context.Context, st *txStmts, now time.Time, sv *Save) error {
	err := put(ctx, st, sv.SessionID, now, sv.Messages, sv.Appended)
	if err == nil && !sv.Appended {
		err = setCurrent(ctx, st, sv.SessionID)
	}
	return err
}

// saveOneByOne writes saves in one transaction, each in a savepoint: a save
// that fails is undone alone and gets its error in Err.
func saveOneByOne(ctx context.Context, st *txStmts, saves []*Save) error {
	now := time.Now()
	for _, sv := range saves {
		if _, err := st.ExecContext(ctx, "SAVEPOINT save"); err != nil {
			return err
		}
		sv.Err = writeError(saveOne(ctx, st, now, sv))
		var err error
		if sv.Err == nil {
			_, err = st.ExecContext(ctx, "RELEASE save")
		} else {
			_, err = st.tx.ExecContext(ctx, "ROLLBACK TO save; RELEASE save")
		}
		if err != nil {
			// SQLite rolls back the whole transaction on some
			// errors (a full disk, a failed write), and the savepoint
			// with it: the save's own error is what went wrong.
			if sv.Err != nil {
				return sv.Err
			}
			return err
		}
	}
	return nil
}

// index adds content, which put has just written as message pk's, to the
// full-text index, and unindex takes message pk's out, as it stands in the
// store: put calls them around writing a message's content (schema version
// 7 says why not a trigger). Each writes one row, so SQLite runs it without
// a statement transaction. index is given the text rather than reading it
// back: for a reply of 4 MB, reading it passed three more copies of it
// between SQLite and Go.
func index(ctx context.Context, tx writer, pk int64, content string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO messages_search (rowid, content) VALUES (?, ?)`, pk, searchText(content))
	return err
}

func unindex(ctx context.Context, tx writer, pk int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO messages_search (messages_search, rowid, content)
VALUES ('delete', ?1, `+searchTextFunc+`((SELECT content FROM messages WHERE pk = ?1)))`, pk)
	return err
}

// addPart appends m's Content and Reasoning to message pk as a part, when
// there is any.
func addPart(ctx context.Context, tx writer, pk int64, m *Message) error {
	if m.Content == "" && m.Reasoning == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO message_parts (message_pk, content, reasoning) VALUES (?, ?, ?)`, pk, m.Content, m.Reasoning)
	return err
}

// joined are the columns of messages that parts add to (schema version 8),
// as SQL that reads them whole: the message's own text, then its parts'.
var joined = map[string]string{
	"content":   `iif(parts, content || coalesce((SELECT group_concat(p.content, '' ORDER BY p.pk) FROM message_parts p WHERE p.message_pk = messages.pk), ''), content)`,
	"reasoning": `iif(parts, reasoning || coalesce((SELECT group_concat(p.reasoning, '' ORDER BY p.pk) FROM message_parts p WHERE p.message_pk = messages.pk), ''), reasoning)`,
}

// foldParts writes the parts of each message that has some into the
// message itself, and indexes it: the parts of a reply whose daemon
// stopped before the reply's last save. A reply another daemon is still
// streaming is folded too, which is harmless: its next parts add to the
// folded text, and its last save writes the whole text again.
func foldParts(ctx context.Context, tx *sql.Tx) error {
	var pks []int64
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT message_pk FROM message_parts`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pk int64
		if err := rows.Scan(&pk); err != nil {
			rows.Close()
			return err
		}
		pks = append(pks, pk)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, pk := range pks {
		if err := unindex(ctx, tx, pk); err != nil {
			return err
		}
		var content string
		if err := tx.QueryRowContext(ctx, `UPDATE messages SET content = `+joined["content"]+`, reasoning = `+joined["reasoning"]+`, parts = 0 WHERE pk = ? RETURNING content`, pk).Scan(&content); err != nil {
			return err
		}
		if err := index(ctx, tx, pk, content); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM message_parts`)
	return err
}

// checkMessages is what Put requires of the messages it is given.
func checkMessages(msgs []*Message) error {
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("session: message %d is nil", i)
		}
		if err := checkRole(m); err != nil {
			return fmt.Errorf("session: message %d: %w", i, err)
		}
	}
	return nil
}

func checkRole(m *Message) error {
	if m.Role != RoleUser && m.Role != RoleAssistant {
		return fmt.Errorf("role %q is neither %q nor %q", m.Role, RoleUser, RoleAssistant)
	}
	return nil
}

// prepare gives msgs an ID and a CreatedAt where they have none, before a
// write transaction that may run more than once, and rounds CreatedAt to
// what the store keeps.
func prepare(msgs []*Message, now time.Time) {
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = NewID()
		}
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		// Written only when it changes, so that saving a message again
		// does not write to it while its owner may be reading it.
		if t := fromMillis(m.CreatedAt.UnixMilli()); t != m.CreatedAt {
			m.CreatedAt = t
		}
	}
}

// put stores msgs in session sessionID: a message not stored yet is added
// at its end, one stored is written again. With appended, the messages'
// Content and Reasoning are added to what is stored, as a part (see Save).
func put(ctx context.Context, tx writer, sessionID string, now time.Time, msgs []*Message, appended bool) error {
	var title string
	var next, added int
	err := tx.QueryRowContext(ctx, `SELECT title, (SELECT coalesce(max(seq) + 1, 0) FROM messages WHERE session_id = s.id) FROM sessions s WHERE id = ?`,
		sessionID).Scan(&title, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(sessionID)
	}
	if err != nil {
		return err
	}
	for _, m := range msgs {
		var in, out sql.NullInt64
		if m.Usage != nil {
			in = sql.NullInt64{Int64: int64(m.Usage.InputTokens), Valid: true}
			out = sql.NullInt64{Int64: int64(m.Usage.OutputTokens), Valid: true}
		}
		var calls []byte
		if len(m.ToolCalls) > 0 {
			if calls, err = json.Marshal(m.ToolCalls); err != nil {
				return err
			}
		}
		var (
			owner string
			pk    int64
			size  int
			parts bool
		)
		err := tx.QueryRowContext(ctx, `SELECT session_id, pk, octet_length(content), parts FROM messages WHERE id = ?`, m.ID).Scan(&owner, &pk, &size, &parts)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var items []byte
			if len(m.Context) > 0 {
				if items, err = json.Marshal(m.Context); err != nil {
					return err
				}
			}
			content, reasoning := m.Content, m.Reasoning
			if appended {
				content, reasoning = "", ""
			}
			var res sql.Result
			res, err = tx.ExecContext(ctx, `
INSERT INTO messages (id, session_id, seq, role, content, created_at, provider, model, input_tokens, output_tokens, interrupted, context,
	stop_reason, reasoning, reasoning_data, tool_calls, parts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				m.ID, sessionID, next, m.Role, content, m.CreatedAt.UnixMilli(), m.Provider, m.Model, in, out, m.Interrupted, items,
				m.StopReason, reasoning, m.ReasoningData, calls, appended)
			if err == nil {
				if pk, err = res.LastInsertId(); err == nil {
					err = index(ctx, tx, pk, content)
				}
			}
			if err == nil && appended {
				err = addPart(ctx, tx, pk, m)
			}
			next++
			added++
		case err != nil:
		case owner != sessionID:
			err = fmt.Errorf("session: message %s belongs to session %s, not %s", m.ID, owner, sessionID)
		case appended:
			// The stored text stays as it is, and is not indexed again.
			_, err = tx.ExecContext(ctx, `
UPDATE messages SET provider = ?, model = ?, input_tokens = ?, output_tokens = ?, interrupted = ?,
	stop_reason = ?, reasoning_data = ?, tool_calls = ?, parts = 1
WHERE pk = ?`,
				m.Provider, m.Model, in, out, m.Interrupted, m.StopReason, m.ReasoningData, calls, pk)
			if err == nil {
				err = addPart(ctx, tx, pk, m)
			}
		default:
			changed := size != len(m.Content)
			if !changed {
				err = tx.QueryRowContext(ctx, `SELECT content IS NOT ? FROM messages WHERE pk = ?`, m.Content, pk).Scan(&changed)
			}
			if err == nil && changed {
				err = unindex(ctx, tx, pk)
			}
			if err == nil {
				_, err = tx.ExecContext(ctx, `
UPDATE messages SET content = ?, provider = ?, model = ?, input_tokens = ?, output_tokens = ?, interrupted = ?,
	stop_reason = ?, reasoning = ?, reasoning_data = ?, tool_calls = ?, parts = 0
WHERE pk = ?`,
					m.Content, m.Provider, m.Model, in, out, m.Interrupted, m.StopReason, m.Reasoning, m.ReasoningData, calls, pk)
			}
			if err == nil && changed {
				err = index(ctx, tx, pk, m.Content)
			}
			if err == nil && parts {
				// The whole text is the message's own now.
				_, err = tx.ExecContext(ctx, `DELETE FROM message_parts WHERE message_pk = ?`, pk)
			}
		}
		if err != nil {
			return err
		}
	}
	if title == "" {
		if title, err = firstUserTitle(ctx, tx, sessionID); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE sessions SET title = ?, updated_at = ?, message_count = message_count + ? WHERE id = ?`,
		title, now.UnixMilli(), added, sessionID)
	return err
}
