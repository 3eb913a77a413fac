package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tinychat/tinychat/chat"
)

func (s *Server) chatSend(ctx context.Context, req *request) (any, error) {
	var p chatSendParams
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if p.Message == "" {
		return nil, invalidParams("message", "message is required and must not be empty")
	}
	for i, c := range p.Context {
		if c.URI == "" {
			return nil, invalidParams("context", "context[%d].uri is required", i)
		}
	}
	switch {
	case p.Provider != "" && !s.opts.Providers.Has(p.Provider):
		return nil, invalidParams("provider", "unknown provider %q: want one of %s", p.Provider, strings.Join(s.opts.Providers.Names(), ", "))
	case p.MaxTokens < 0:
		return nil, invalidParams("maxTokens", "maxTokens must not be negative")
	case p.Temperature != nil && *p.Temperature < 0:
		return nil, invalidParams("temperature", "temperature must not be negative")
	}
	ws, err := s.workspaceOf(p.Workspace)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	settings, canAsk := s.settings, s.canAsk
	s.mu.Unlock()

	r := chat.Request{
		Workspace: ws, SessionID: p.SessionID, Message: p.Message, Context: p.Context,
		Provider: p.Provider, Model: p.Model, Temperature: p.Temperature, MaxTokens: p.MaxTokens, System: p.System,
		Settings: settings,
	}
	var sessionID string // the turn's, once Begin knows it
	var out *relay
	if canAsk {
		r.Permit = func(ctx context.Context, c chat.ToolCall) (string, error) {
			// The call's chat/toolCall, and the text before it, first.
			out.sync()
			return s.askPermission(ctx, req.ID, sessionID, c)
		}
	}
	// The provider's stream writes its deltas itself (relay.streamFlush).
	r.Flush = func(waiting bool) { out.streamFlush(waiting) }
	turn, err := s.chat.Begin(ctx, r)
	if err != nil {
		return nil, err
	}
	sessionID = turn.SessionID
	s.mu.Lock()
	s.streaming[turn.SessionID] = req.ID
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streaming, turn.SessionID)
		s.mu.Unlock()
	}()

	out = newRelay(s.stream, req.ID, turn.SessionID, turn.MessageID)
	res, err := turn.Run(ctx, out.add)
	// Every notification goes out before the response, whatever it is.
	out.flush()
	// The answer repeats the reply's texts, which may not fit the message
	// size limit (escaped, text of 4 MiB may take 24): they are cut to fit.
	head := len(answerHead(req.ID, "result")) + len("}")
	if te := (*chat.TurnError)(nil); errors.As(err, &te) {
		return nil, turnErrorWithin(te, s.stream.limit-len(answerHead(req.ID, "error"))-len("}"))
	}
	if err != nil {
		return nil, err
	}
	result := &chatSendResult{
		SessionID: res.SessionID, MessageID: res.MessageID,
		Provider: res.Provider, Model: res.Model, StopReason: res.StopReason, Usage: res.Usage,
	}
	result.Text, result.Reasoning, result.Truncated = fitTexts(res.Text, res.Reasoning, s.stream.limit-head-encodedSize(result))
	return result, nil
}

// encodedSize is the length of v in JSON.
func encodedSize(v any) int {
	b, _ := json.Marshal(v) // the protocol's types always marshal
	return len(b)
}

// permissionOptions are the answers a client may give.
var permissionOptions = []string{chat.AllowOnce, chat.AllowAlways, chat.RejectOnce, chat.RejectAlways}

// askPermission asks the client whether tool call c of chat/send id may
// run. A cancel of the chat/send ends the wait at once.
func (s *Server) askPermission(ctx context.Context, requestID id, sessionID string, c chat.ToolCall) (string, error) {
	var res permissionResult
	err := s.call(ctx, methodPermission, permissionParams{
		RequestID: requestID, SessionID: sessionID, Options: permissionOptions,
		ToolCall: toolCallInfo{ToolCallID: c.ID, Name: c.Name, Server: c.Server, Arguments: c.Arguments},
	}, &res)
	if err != nil {
		return "", err
	}
	if res.Outcome != chat.Cancelled && !slices.Contains(permissionOptions, res.Outcome) {
		return "", fmt.Errorf("%s answered outcome %q, not one of %v or %q", methodPermission, res.Outcome, permissionOptions, chat.Cancelled)
	}
	return res.Outcome, nil
}

// cancelRequest handles $/cancelRequest {id}.
func (s *Server) cancelRequest(req *request) {
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	if req.Params == nil || json.Unmarshal(req.Params, &p) != nil {
		s.log.Warn("$/cancelRequest without a usable id")
		return
	}
	i, err := parseID(p.ID)
	if err != nil || i == "" {
		s.log.Warn("$/cancelRequest without a usable id")
		return
	}
	s.cancel(i)
}

// chatCancel handles chat/cancel {sessionId}, for scripts that do not track
// request ids.
func (s *Server) chatCancel(req *request) {
	var p struct {
		SessionID string `json:"sessionId"`
	}
	if req.Params == nil || json.Unmarshal(req.Params, &p) != nil || p.SessionID == "" {
		s.log.Warn("chat/cancel without a sessionId")
		return
	}
	s.mu.Lock()
	id, ok := s.streaming[p.SessionID]
	s.mu.Unlock()
	if ok {
		s.cancel(id)
	}
}

func (s *Server) cancel(i id) {
	s.mu.Lock()
	cancel, ok := s.inflight[i]
	s.mu.Unlock()
	if ok {
		cancel()
	}
}
