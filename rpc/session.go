package rpc

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/tinychat/tinychat/session"
)

// workspaceOf normalises a workspace param, defaulting to the connection's.
func (s *Server) workspaceOf(ws string) (string, error) {
	if ws == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.workspace, nil
	}
	norm, err := session.NormalizeWorkspace(ws)
	if err != nil {
		return "", invalidParams("workspace", "%v", err)
	}
	return norm, nil
}

type sessionIDParams struct {
	SessionID string `json:"sessionId"`
}

func (p *sessionIDParams) require() error {
	if p.SessionID == "" {
		return invalidParams("sessionId", "sessionId is required")
	}
	return nil
}

func (s *Server) sessionList(ctx context.Context, req *request) (any, error) {
	var p struct {
		Workspace string `json:"workspace"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	ws, err := s.workspaceOf(p.Workspace)
	if err != nil {
		return nil, err
	}
	list, err := s.opts.Store.List(ctx, ws)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []session.Session{}
	}
	return map[string]any{"sessions": list}, nil
}

func (s *Server) sessionNew(ctx context.Context, req *request) (any, error) {
	var p struct {
		Workspace string `json:"workspace"`
		Title     string `json:"title"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	ws, err := s.workspaceOf(p.Workspace)
	if err != nil {
		return nil, err
	}
	return s.opts.Store.New(ctx, ws, p.Title)
}

func (s *Server) sessionGet(ctx context.Context, req *request) (any, error) {
	var p sessionIDParams
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := p.require(); err != nil {
		return nil, err
	}
	sess, err := s.opts.Store.Session(ctx, p.SessionID)
	if err != nil {
		return nil, err
	}
	msgs, err := s.opts.Store.Messages(ctx, p.SessionID)
	if err != nil {
		return nil, err
	}
	if msgs == nil {
		msgs = []session.Message{}
	}
	return map[string]any{"session": sess, "messages": msgs}, nil
}

func (s *Server) sessionDelete(ctx context.Context, req *request) (any, error) {
	var p sessionIDParams
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := p.require(); err != nil {
		return nil, err
	}
	if err := s.opts.Store.Delete(ctx, p.SessionID); err != nil {
		return nil, err
	}
	return map[string]bool{"deleted": true}, nil
}

func (s *Server) sessionRename(ctx context.Context, req *request) (any, error) {
	var p struct {
		sessionIDParams
		Title string `json:"title"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := p.require(); err != nil {
		return nil, err
	}
	if p.Title == "" {
		return nil, invalidParams("title", "title is required")
	}
	return s.opts.Store.Rename(ctx, p.SessionID, p.Title)
}

func (s *Server) sessionExport(ctx context.Context, req *request) (any, error) {
	var p struct {
		SessionID string `json:"sessionId"`
		Workspace string `json:"workspace"`
		Format    string `json:"format"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if p.Format == "" {
		return nil, invalidParams("format", `format is required: "text", "markdown" or "json"`)
	}
	if err := session.CheckFormat(p.Format); err != nil {
		return nil, err
	}
	ws, err := s.workspaceOf(p.Workspace)
	if err != nil {
		return nil, err
	}
	id := p.SessionID
	if id == "" {
		cur, err := s.opts.Store.Current(ctx, ws)
		if err != nil {
			return nil, err
		}
		id = cur.ID
	}
	w := &jsonStringWriter{}
	w.b = append(w.b, `{"format":"`...)
	w.b = session.AppendJSONEscaped(w.b, p.Format, true)
	w.b = append(w.b, `","content":"`...)
	if err := s.opts.Store.Export(ctx, w, id, p.Format); err != nil {
		return nil, err
	}
	return rawResult(append(w.close(), []byte(`"}`))), nil
}

// jsonStringWriter keeps what is written to it, escaped as the inside of a
// JSON string, in pieces: a long session's export is megabytes, which one
// slice would copy again and again as it grew. A UTF-8 sequence cut by the
// end of a write waits for the rest in the next one, so that it is not
// taken for invalid UTF-8.
type jsonStringWriter struct {
	pieces [][]byte
	b      []byte // the piece being filled
	held   []byte
}

func (w *jsonStringWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(w.held) > 0 {
		p, w.held = append(w.held, p...), nil
	}
	cut := len(p) - incompleteRune(p)
	// Room for the write and its escapes, mostly; a piece that must grow
	// anyway is copied once.
	if room := cut + cut/8; cap(w.b)-len(w.b) < room {
		if len(w.b) > 0 {
			w.pieces = append(w.pieces, w.b)
		}
		w.b = make([]byte, 0, max(room, 64<<10))
	}
	w.b = session.AppendJSONEscaped(w.b, p[:cut], true)
	w.held = append(w.held, p[cut:]...)
	return n, nil
}

// close returns the pieces, with what was held back, which no write
// completed.
func (w *jsonStringWriter) close() [][]byte {
	return append(w.pieces, session.AppendJSONEscaped(w.b, w.held, true))
}

// incompleteRune is the length of the start of a UTF-8 sequence at the
// end of p that more bytes could complete, or 0.
func incompleteRune(p []byte) int {
	for i := 1; i < utf8.UTFMax && i <= len(p); i++ {
		c := p[len(p)-i]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(p[len(p)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}

func (s *Server) sessionImport(ctx context.Context, req *request) (any, error) {
	var p struct {
		Workspace string `json:"workspace"`
		Content   string `json:"content"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if p.Content == "" {
		return nil, invalidParams("content", "content is required: a session in the json export format")
	}
	ws, err := s.workspaceOf(p.Workspace)
	if err != nil {
		return nil, err
	}
	return s.opts.Store.Import(ctx, ws, p.Content)
}

func (s *Server) sessionSearch(ctx context.Context, req *request) (any, error) {
	var p struct {
		Query     string `json:"query"`
		Workspace string `json:"workspace"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Query) == "" {
		return nil, invalidParams("query", "query is required")
	}
	ws := ""
	if p.Workspace != "" {
		var err error
		if ws, err = s.workspaceOf(p.Workspace); err != nil {
			return nil, err
		}
	}
	hits, err := s.opts.Store.Search(ctx, p.Query, ws)
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []session.Hit{}
	}
	return map[string]any{"hits": hits}, nil
}
