package rpc

import (
	"context"
	"log/slog"
	"sync"

	"go.lsp.dev/protocol"
)

// LogHandler is the daemon's slog.Handler: every record goes to the
// wrapped handler (stderr), and warnings and errors also reach the editor
// as window/logMessage once a connection is attached.
type LogHandler struct {
	slog.Handler
	conn *connRef
}

type connRef struct {
	mu     sync.Mutex
	stream *stream
}

// NewLogHandler wraps h.
func NewLogHandler(h slog.Handler) *LogHandler {
	return &LogHandler{Handler: h, conn: &connRef{}}
}

func (h *LogHandler) attach(s *stream) {
	h.conn.mu.Lock()
	h.conn.stream = s
	h.conn.mu.Unlock()
}

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level < slog.LevelWarn {
		return err
	}
	h.conn.mu.Lock()
	c := h.conn.stream
	h.conn.mu.Unlock()
	if c == nil {
		return err
	}
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	typ := protocol.MessageTypeWarning
	if r.Level >= slog.LevelError {
		typ = protocol.MessageTypeError
	}
	// A closed connection has no one to tell; stderr already has it.
	_ = c.writeJSON(notifyMessage{JSONRPC: "2.0", Method: "window/logMessage", Params: &protocol.LogMessageParams{Type: typ, Message: msg}})
	return err
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{Handler: h.Handler.WithAttrs(attrs), conn: h.conn}
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{Handler: h.Handler.WithGroup(name), conn: h.conn}
}
