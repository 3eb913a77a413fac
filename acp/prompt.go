package acp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	acp "github.com/coder/acp-go-sdk"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/session"

	"github.com/tinychat/tinychat/internal/textcut"
)

// maxLinkBytes bounds what is read of a file a resource_link names.
const maxLinkBytes = 256 << 10

// permissionOptions are the answers offered for a tool call; each id is
// its kind, and tinychat's answer.
var permissionOptions = []acp.PermissionOption{
	{OptionId: chat.AllowOnce, Name: "Allow once", Kind: acp.PermissionOptionKindAllowOnce},
	{OptionId: chat.AllowAlways, Name: "Always allow in this folder", Kind: acp.PermissionOptionKindAllowAlways},
	{OptionId: chat.RejectOnce, Name: "Reject", Kind: acp.PermissionOptionKindRejectOnce},
	{OptionId: chat.RejectAlways, Name: "Always reject in this folder", Kind: acp.PermissionOptionKindRejectAlways},
}

// Prompt runs one turn of the session, streaming its reply as
// session/updates: agent_message_chunk, agent_thought_chunk, tool_call and
// tool_call_update, then usage_update and, when the turn gave the session
// its title, session_info_update. A turn the client cancels answers
// stopReason "cancelled", as ACP wants, not an error.
func (a *agent) Prompt(ctx context.Context, p acp.PromptRequest) (acp.PromptResponse, error) {
	s, err := a.session(ctx, string(p.SessionId))
	if err != nil {
		return acp.PromptResponse{}, err
	}
	a.mu.Lock()
	ws := s.workspace
	a.mu.Unlock()
	msg, items, err := promptOf(ws, p.Prompt)
	if err != nil {
		return acp.PromptResponse{}, err
	}

	// One turn at a time per session: a prompt sent while one runs (the
	// SDK has cancelled that one) waits for it to be saved.
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return acp.PromptResponse{StopReason: acp.StopReasonCancelled}, nil
	}
	defer func() { <-s.turn }()
	if err := a.enter(); err != nil {
		return acp.PromptResponse{}, err
	}
	defer a.leave()
	a.mu.Lock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancel = cancel
	r := chat.Request{SessionID: s.id, Message: msg, Context: items, Provider: s.provider, Model: s.model,
		Settings: a.opts.Settings, Permit: a.permit(s.id)}
	if s.tools != nil {
		r.Tools = s.tools
	}
	a.mu.Unlock()

	store := a.opts.Engine.Store
	var title string
	if sess, err := store.Session(ctx, s.id); err == nil {
		title = sess.Title
	}
	turn, err := a.opts.Engine.Begin(ctx, r)
	if err != nil {
		return acp.PromptResponse{}, toRequestError(err)
	}
	res, err := turn.Run(ctx, func(e chat.Event) {
		if e.Kind == chat.RetryEvent {
			return // ACP has no update for it: the client sees the wait
		}
		if err := a.update(ctx, s.id, eventUpdate(e)); err != nil {
			a.log.Debug("the client is gone", "session", s.id, "error", err)
		}
	})
	a.afterTurn(ctx, s.id, title, res)
	if te := (*chat.TurnError)(nil); errors.As(err, &te) && te.StopReason == chat.StopCancelled {
		return acp.PromptResponse{StopReason: acp.StopReasonCancelled}, nil
	}
	if err != nil {
		return acp.PromptResponse{}, toRequestError(err)
	}
	return acp.PromptResponse{StopReason: stopReason(res.StopReason)}, nil
}

// afterTurn tells the client the tokens the turn used, and the session's
// title when the turn changed it (the first message of a session titles
// it).
func (a *agent) afterTurn(ctx context.Context, id, title string, res *chat.Result) {
	if res != nil {
		u := res.Usage
		// Size is the model's context window, which tinychat does not
		// know: 0, and the counts of the turn in _meta.
		a.update(ctx, id, acp.SessionUpdate{UsageUpdate: &acp.SessionUsageUpdate{SessionUpdate: "usage_update",
			Used: u.InputTokens + u.OutputTokens,
			Meta: map[string]any{"tinychat": map[string]any{"inputTokens": u.InputTokens, "outputTokens": u.OutputTokens}}}})
	}
	sess, err := a.opts.Engine.Store.Session(context.WithoutCancel(ctx), id)
	if err != nil || sess.Title == title {
		return
	}
	a.update(ctx, id, acp.SessionUpdate{SessionInfoUpdate: &acp.SessionSessionInfoUpdate{SessionUpdate: "session_info_update",
		Title: acp.Ptr(sess.Title), UpdatedAt: acp.Ptr(sess.UpdatedAt.UTC().Format(time.RFC3339Nano))}})
}

// eventUpdate is the session/update of one event of a turn.
func eventUpdate(e chat.Event) acp.SessionUpdate {
	switch e.Kind {
	case chat.Reasoning:
		return acp.UpdateAgentThoughtText(e.Text)
	case chat.ToolCallEvent:
		c := *e.Call
		switch c.Status {
		case chat.CallPending:
			return startCall(c, false)
		case chat.CallRunning:
			return acp.UpdateToolCall(acp.ToolCallId(c.ID), acp.WithUpdateStatus(acp.ToolCallStatusInProgress))
		}
		opts := []acp.ToolCallUpdateOpt{acp.WithUpdateStatus(callStatus(c.Status))}
		if c.Output != "" {
			opts = append(opts, acp.WithUpdateContent([]acp.ToolCallContent{acp.ToolContent(acp.TextBlock(c.Output))}))
		}
		return acp.UpdateToolCall(acp.ToolCallId(c.ID), opts...)
	}
	return acp.UpdateAgentMessageText(e.Text)
}

// permit asks the client, through session/request_permission, whether a
// tool call may run.
func (a *agent) permit(sessionID string) chat.Permit {
	return func(ctx context.Context, c chat.ToolCall) (string, error) {
		kind := toolKind(c.Name)
		resp, err := a.conn.RequestPermission(ctx, acp.RequestPermissionRequest{
			SessionId: acp.SessionId(sessionID),
			ToolCall: acp.ToolCallUpdate{ToolCallId: acp.ToolCallId(c.ID), Title: acp.Ptr(callTitle(c)), Kind: &kind,
				Status: acp.Ptr(acp.ToolCallStatusPending), RawInput: rawInput(c.Arguments)},
			Options: permissionOptions,
		})
		switch {
		case err != nil:
			return "", err
		case resp.Outcome.Cancelled != nil:
			return chat.Cancelled, nil
		case resp.Outcome.Selected != nil:
			id := string(resp.Outcome.Selected.OptionId)
			for _, o := range permissionOptions {
				if string(o.OptionId) == id {
					return id, nil
				}
			}
			return "", fmt.Errorf("session/request_permission answered optionId %q, not one of those offered", id)
		}
		return "", errors.New("session/request_permission answered no outcome")
	}
}

// stopReason maps tinychat's stop reasons to ACP's: a reply cut by the
// provider's filter was refused; one cut at tinychat's size limit, like
// one cut at the provider's token limit, is max_tokens.
func stopReason(r string) acp.StopReason {
	switch r {
	case chat.StopMaxTokens, chat.StopMaxSize:
		return acp.StopReasonMaxTokens
	case chat.StopRefusal, chat.StopContentFilter:
		return acp.StopReasonRefusal
	case chat.StopMaxToolSteps:
		return acp.StopReasonMaxTurnRequests
	case chat.StopCancelled:
		return acp.StopReasonCancelled
	}
	return acp.StopReasonEndTurn
}

// promptOf turns a prompt's blocks into a message and its context items.
// Text is the message; a resource_link to a file of the workspace is read
// (up to maxLinkBytes) and an embedded text resource taken, each as a
// context item, and both mentioned in the message where they stand, as
// [name](uri). A link that cannot be read passes its name and URI only.
func promptOf(ws string, blocks []acp.ContentBlock) (string, []session.ContextItem, error) {
	var msg strings.Builder
	var items []session.ContextItem
	for i, b := range blocks {
		switch {
		case b.Text != nil:
			msg.WriteString(b.Text.Text)
		case b.ResourceLink != nil:
			l := b.ResourceLink
			fmt.Fprintf(&msg, "[%s](%s)", l.Name, l.Uri)
			if text, ok := readLink(ws, l.Uri); ok {
				items = append(items, session.ContextItem{URI: l.Uri, Text: text})
			}
		case b.Resource != nil && b.Resource.Resource.TextResourceContents != nil:
			r := b.Resource.Resource.TextResourceContents
			fmt.Fprintf(&msg, "[%s](%s)", path(r.Uri), r.Uri)
			items = append(items, session.ContextItem{URI: r.Uri, Text: r.Text})
		case b.Resource != nil && b.Resource.Resource.BlobResourceContents != nil:
			r := b.Resource.Resource.BlobResourceContents
			fmt.Fprintf(&msg, "[%s](%s) (binary, not included)", path(r.Uri), r.Uri)
		case b.Image != nil, b.Audio != nil:
			return "", nil, invalidParams("prompt", "prompt[%d]: tinychat's providers take text only, not images or audio", i)
		default:
			return "", nil, invalidParams("prompt", "prompt[%d]: an unknown kind of content block", i)
		}
	}
	if strings.TrimSpace(msg.String()) == "" && len(items) == 0 {
		return "", nil, invalidParams("prompt", "the prompt is empty")
	}
	return msg.String(), items, nil
}

// path is the last part of a URI's path, to name it.
func path(uri string) string {
	if u, err := url.Parse(uri); err == nil && u.Path != "" {
		return filepath.Base(u.Path)
	}
	return uri
}

// readLink reads the file a file:// URI names, if it is inside the
// workspace ws (symbolic links that leave it are not followed) and is
// text, up to maxLinkBytes.
func readLink(ws, uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || u.Host != "" && u.Host != "localhost" {
		return "", false
	}
	rel, err := filepath.Rel(ws, filepath.FromSlash(u.Path))
	if err != nil || !filepath.IsLocal(rel) {
		return "", false
	}
	root, err := os.OpenRoot(ws)
	if err != nil {
		return "", false
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLinkBytes+1))
	if err != nil {
		return "", false
	}
	cut := len(b) > maxLinkBytes
	if cut {
		b = b[:textcut.Len(b, maxLinkBytes)]
	}
	if !utf8.Valid(b) || strings.ContainsRune(string(b), 0) {
		return "", false
	}
	text := string(b)
	if cut {
		text += fmt.Sprintf("\n[cut: only the first %d bytes of the file are given]", len(b))
	}
	return text, true
}
