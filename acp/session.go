package acp

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	acp "github.com/coder/acp-go-sdk"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// Ids of the session's config options.
const (
	optionProvider = "provider"
	optionModel    = "model"
)

// modelsTimeout bounds asking a provider for its models, which session/new
// and session/load do to fill the model option: a slow or unreachable
// provider leaves the option with the current model only.
const modelsTimeout = 3 * time.Second

// acpSession is a tinychat session as this connection uses it.
type acpSession struct {
	id        string
	workspace string
	// provider and model are those the client chose through
	// session/set_config_option; "" leaves them to chat's precedence.
	provider, model string
	// made is set for a session made by session/new on this connection:
	// one still empty when the connection ends is removed.
	made bool
	// tools are the configuration's with the MCP servers the client gave
	// for the session; nil when it gave none.
	tools *tools.Manager

	// turn holds one value while a prompt runs: prompts of one session
	// take turns.
	turn   chan struct{}
	cancel context.CancelFunc // of the running turn, under agent.mu
}

// NewSession starts a tinychat session in the workspace cwd, with the MCP
// servers the client gives beside those of the configuration file.
func (a *agent) NewSession(ctx context.Context, p acp.NewSessionRequest) (acp.NewSessionResponse, error) {
	// Short work, answered even if the client closed its end meanwhile.
	ctx = context.WithoutCancel(ctx)
	if err := a.enter(); err != nil {
		return acp.NewSessionResponse{}, err
	}
	defer a.leave()
	ws, err := workspaceOf(p.Cwd)
	if err != nil {
		return acp.NewSessionResponse{}, err
	}
	box, err := a.toolsOf(p.McpServers)
	if err != nil {
		return acp.NewSessionResponse{}, err
	}
	sess, err := a.opts.Engine.Store.New(ctx, ws, "")
	if err != nil {
		closeTools(box)
		return acp.NewSessionResponse{}, toRequestError(err)
	}
	s := a.add(sess, box)
	a.mu.Lock()
	s.made = true
	a.mu.Unlock()
	return acp.NewSessionResponse{SessionId: acp.SessionId(s.id), ConfigOptions: a.configOptions(ctx, s)}, nil
}

// LoadSession replays a stored session's whole history, reasoning and
// tool calls included, as session/updates, then answers.
func (a *agent) LoadSession(ctx context.Context, p acp.LoadSessionRequest) (acp.LoadSessionResponse, error) {
	// Short work, answered even if the client closed its end meanwhile.
	ctx = context.WithoutCancel(ctx)
	if err := a.enter(); err != nil {
		return acp.LoadSessionResponse{}, err
	}
	defer a.leave()
	if _, err := workspaceOf(p.Cwd); err != nil {
		return acp.LoadSessionResponse{}, err
	}
	sess, err := a.opts.Engine.Store.Session(ctx, string(p.SessionId))
	if err != nil {
		return acp.LoadSessionResponse{}, toRequestError(err)
	}
	msgs, err := a.opts.Engine.Store.Messages(ctx, sess.ID)
	if err != nil {
		return acp.LoadSessionResponse{}, toRequestError(err)
	}
	box, err := a.toolsOf(p.McpServers)
	if err != nil {
		return acp.LoadSessionResponse{}, err
	}
	s := a.add(sess, box)
	for _, m := range msgs {
		for _, u := range replay(m) {
			if err := a.update(ctx, s.id, u); err != nil {
				return acp.LoadSessionResponse{}, toRequestError(err)
			}
		}
	}
	return acp.LoadSessionResponse{ConfigOptions: a.configOptions(ctx, s)}, nil
}

// ListSessions lists the sessions of the workspace cwd, or of every
// workspace without one, newest first, in one page.
func (a *agent) ListSessions(ctx context.Context, p acp.ListSessionsRequest) (acp.ListSessionsResponse, error) {
	// Short work, answered even if the client closed its end meanwhile.
	ctx = context.WithoutCancel(ctx)
	if err := a.enter(); err != nil {
		return acp.ListSessionsResponse{}, err
	}
	defer a.leave()
	ws := ""
	if p.Cwd != nil {
		var err error
		if ws, err = workspaceOf(*p.Cwd); err != nil {
			return acp.ListSessionsResponse{}, err
		}
	}
	list, err := a.opts.Engine.Store.List(ctx, ws)
	if err != nil {
		return acp.ListSessionsResponse{}, toRequestError(err)
	}
	out := acp.ListSessionsResponse{Sessions: make([]acp.SessionInfo, 0, len(list))}
	for _, sess := range list {
		info := acp.SessionInfo{SessionId: acp.SessionId(sess.ID), Cwd: sess.Workspace,
			UpdatedAt: acp.Ptr(sess.UpdatedAt.UTC().Format(time.RFC3339Nano))}
		if sess.Title != "" {
			info.Title = acp.Ptr(sess.Title)
		}
		out.Sessions = append(out.Sessions, info)
	}
	return out, nil
}

// SetSessionConfigOption sets the session's provider or model, and
// answers with every option as it now is. A new provider comes with its
// default model.
func (a *agent) SetSessionConfigOption(ctx context.Context, p acp.SetSessionConfigOptionRequest) (acp.SetSessionConfigOptionResponse, error) {
	// Short work, answered even if the client closed its end meanwhile.
	ctx = context.WithoutCancel(ctx)
	if err := a.enter(); err != nil {
		return acp.SetSessionConfigOptionResponse{}, err
	}
	defer a.leave()
	v := p.ValueId
	if v == nil {
		return acp.SetSessionConfigOptionResponse{}, invalidParams("value", "tinychat's options take a value id, not a boolean")
	}
	s, err := a.session(ctx, string(v.SessionId))
	if err != nil {
		return acp.SetSessionConfigOptionResponse{}, err
	}
	value := string(v.Value)
	switch v.ConfigId {
	case optionProvider:
		if !a.opts.Engine.Providers.Has(value) {
			return acp.SetSessionConfigOptionResponse{}, invalidParams("value", "unknown provider %q: want one of %s",
				value, strings.Join(a.opts.Engine.Providers.Names(), ", "))
		}
		// The provider's default model, said outright: left empty, a turn
		// would take the model the session last used with that provider.
		model := ""
		if p, err := a.opts.Engine.Providers.Get(value); err == nil {
			model = p.DefaultModel()
		}
		a.mu.Lock()
		s.provider, s.model = value, model
		a.mu.Unlock()
	case optionModel:
		if value == "" {
			return acp.SetSessionConfigOptionResponse{}, invalidParams("value", "the model must not be empty")
		}
		provider, _ := a.current(ctx, s)
		a.mu.Lock()
		s.provider, s.model = provider, value
		a.mu.Unlock()
	default:
		return acp.SetSessionConfigOptionResponse{}, invalidParams("configId", "unknown option %q: want %q or %q", v.ConfigId, optionProvider, optionModel)
	}
	return acp.SetSessionConfigOptionResponse{ConfigOptions: a.configOptions(ctx, s)}, nil
}

// add makes sess one of the connection's sessions, with the tools box
// (nil for the configuration's). A session made or loaded again keeps the
// provider and model chosen for it, and takes the new tools.
func (a *agent) add(sess *session.Session, box *tools.Manager) *acpSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[sess.ID]
	if !ok {
		s = &acpSession{id: sess.ID, turn: make(chan struct{}, 1)}
		a.sessions[sess.ID] = s
	}
	s.workspace = sess.Workspace
	if box != nil || s.tools != nil {
		closeTools(s.tools)
		s.tools = box
	}
	return s
}

// session returns the connection's session id; a stored session that the
// client did not load is taken as it is, without replay.
func (a *agent) session(ctx context.Context, id string) (*acpSession, error) {
	a.mu.Lock()
	s, ok := a.sessions[id]
	a.mu.Unlock()
	if ok {
		return s, nil
	}
	sess, err := a.opts.Engine.Store.Session(ctx, id)
	if err != nil {
		return nil, toRequestError(err)
	}
	return a.add(sess, nil), nil
}

// toolsOf returns the configuration's tools with the session's MCP
// servers, or nil when the client gave none. SSE servers (not offered in
// mcpCapabilities) are refused.
func (a *agent) toolsOf(servers []acp.McpServer) (*tools.Manager, error) {
	if len(servers) == 0 {
		return nil, nil
	}
	cfgs := map[string]tools.ServerConfig{}
	for i, srv := range servers {
		var name string
		var cfg tools.ServerConfig
		switch {
		case srv.Stdio != nil:
			name, cfg.Command, cfg.Args = srv.Stdio.Name, srv.Stdio.Command, srv.Stdio.Args
			if len(srv.Stdio.Env) > 0 {
				cfg.Env = map[string]string{}
				for _, e := range srv.Stdio.Env {
					cfg.Env[e.Name] = e.Value
				}
			}
		case srv.Http != nil:
			name, cfg.URL = srv.Http.Name, srv.Http.Url
			if len(srv.Http.Headers) > 0 {
				cfg.Headers = map[string]string{}
				for _, h := range srv.Http.Headers {
					cfg.Headers[h.Name] = h.Value
				}
			}
		default:
			return nil, invalidParams("mcpServers", "mcpServers[%d]: tinychat connects to MCP servers over stdio and http only", i)
		}
		if _, dup := cfgs[name]; dup {
			return nil, invalidParams("mcpServers", "mcpServers[%d]: two servers are called %q", i, name)
		}
		cfgs[name] = cfg
	}
	box, err := a.opts.Tools.With(cfgs)
	if err != nil {
		return nil, invalidParams("mcpServers", "%v", err)
	}
	return box, nil
}

func closeTools(box *tools.Manager) {
	if box != nil {
		go box.Close() // a stdio server may take seconds to stop
	}
}

// current returns the provider and model the session's next turn uses,
// as the turn will pick them: the client's choice, else the provider and
// model the session last used, else the configuration's, else the default
// provider's. The history is read only when the client chose no provider.
func (a *agent) current(ctx context.Context, s *acpSession) (provider, model string) {
	a.mu.Lock()
	r := chat.Request{Provider: s.provider, Model: s.model, Settings: a.opts.Settings}
	a.mu.Unlock()
	var history []session.Message
	if r.Provider == "" {
		var err error
		if history, err = a.opts.Engine.Store.Messages(ctx, s.id); err != nil {
			a.log.Warn("reading the session for its provider", "session", s.id, "error", err)
		}
	}
	return chat.Choose(a.opts.Engine.Providers, r, history)
}

// configOptions are the session's options: its provider, among those
// configured, and its model, among the provider's.
func (a *agent) configOptions(ctx context.Context, s *acpSession) []acp.SessionConfigOption {
	provider, model := a.current(ctx, s)
	var providers acp.SessionConfigSelectOptionsUngrouped
	for _, info := range a.opts.Engine.Providers.List() {
		if info.Configured || info.Name == provider {
			providers = append(providers, acp.SessionConfigSelectOption{Name: info.Name, Value: acp.SessionConfigValueId(info.Name)})
		}
	}
	var models acp.SessionConfigSelectOptionsUngrouped
	for _, m := range a.modelsOf(ctx, provider, model) {
		models = append(models, acp.SessionConfigSelectOption{Name: m, Value: acp.SessionConfigValueId(m)})
	}
	return []acp.SessionConfigOption{
		{Select: &acp.SessionConfigOptionSelect{Type: "select", Id: optionProvider, Name: "Provider",
			Description:  acp.Ptr("Where replies come from"),
			CurrentValue: acp.SessionConfigValueId(provider),
			Options:      acp.SessionConfigSelectOptions{Ungrouped: &providers}}},
		{Select: &acp.SessionConfigOptionSelect{Type: "select", Id: optionModel, Name: "Model",
			Category:     acp.Ptr(acp.SessionConfigOptionCategoryModel),
			CurrentValue: acp.SessionConfigValueId(model),
			Options:      acp.SessionConfigSelectOptions{Ungrouped: &models}}},
	}
}

// modelsOf returns the provider's models, asked once per connection, with
// current among them.
func (a *agent) modelsOf(ctx context.Context, provider, current string) []string {
	a.mu.Lock()
	list, ok := a.models[provider]
	a.mu.Unlock()
	if !ok {
		if p, err := a.opts.Engine.Providers.Get(provider); err == nil {
			mctx, cancel := context.WithTimeout(ctx, modelsTimeout)
			list, err = p.Models(mctx)
			cancel()
			if err != nil {
				a.log.Warn("listing the provider's models", "provider", provider, "error", err)
			} else {
				a.mu.Lock()
				a.models[provider] = list
				a.mu.Unlock()
			}
		}
	}
	if current != "" && !slices.Contains(list, current) {
		list = append([]string{current}, list...)
	}
	return list
}

// replay is a stored message as the session/updates that show it: a user
// message with its context as embedded resources; a reply's reasoning,
// then its text with its tool calls where it made them.
func replay(m session.Message) []acp.SessionUpdate {
	if m.Role == session.RoleUser {
		var out []acp.SessionUpdate
		for _, c := range m.Context {
			out = append(out, acp.UpdateUserMessage(acp.ResourceBlock(acp.EmbeddedResourceResource{
				TextResourceContents: &acp.TextResourceContents{Uri: c.URI, Text: c.Text}})))
		}
		if m.Content != "" {
			out = append(out, acp.UpdateUserMessageText(m.Content))
		}
		return out
	}
	var out []acp.SessionUpdate
	if m.Reasoning != "" {
		out = append(out, acp.UpdateAgentThoughtText(m.Reasoning))
	}
	at := 0
	for i, c := range m.ToolCalls {
		if off := min(max(c.TextOffset, at), len(m.Content)); off > at {
			out = append(out, acp.UpdateAgentMessageText(m.Content[at:off]))
			at = off
		}
		call := chat.ToolCall{ID: cmp.Or(c.ID, fmt.Sprintf("call_%d", i)), Name: c.Name, Server: c.Server,
			Arguments: c.Arguments, Status: c.Status, Output: c.Output}
		out = append(out, startCall(call, true))
	}
	if at < len(m.Content) {
		out = append(out, acp.UpdateAgentMessageText(m.Content[at:]))
	}
	return out
}

// startCall is the tool_call update of call; whole, with its status and
// output, when replayed.
func startCall(c chat.ToolCall, whole bool) acp.SessionUpdate {
	opts := []acp.ToolCallStartOpt{acp.WithStartKind(toolKind(c.Name)), acp.WithStartRawInput(rawInput(c.Arguments))}
	if whole {
		opts = append(opts, acp.WithStartStatus(callStatus(c.Status)))
		if c.Output != "" {
			opts = append(opts, acp.WithStartContent([]acp.ToolCallContent{acp.ToolContent(acp.TextBlock(c.Output))}))
		}
	} else {
		opts = append(opts, acp.WithStartStatus(acp.ToolCallStatusPending))
	}
	return acp.StartToolCall(acp.ToolCallId(c.ID), callTitle(c), opts...)
}

// callTitle is how a client shows a call: the tool's name, and its MCP
// server's.
func callTitle(c chat.ToolCall) string {
	if c.Server != "" {
		return c.Name + " (" + c.Server + ")"
	}
	return c.Name
}

// toolKind is the ACP kind of a tool, for the client's icon.
func toolKind(name string) acp.ToolKind {
	switch name {
	case "read_file", "list_files":
		return acp.ToolKindRead
	case "grep":
		return acp.ToolKindSearch
	}
	return acp.ToolKindOther
}

// callStatus maps a tinychat call status to ACP's, which has no
// "rejected": a refused call failed to run.
func callStatus(status string) acp.ToolCallStatus {
	switch status {
	case chat.CallRunning:
		return acp.ToolCallStatusInProgress
	case chat.CallCompleted:
		return acp.ToolCallStatusCompleted
	case chat.CallFailed, chat.CallRejected:
		return acp.ToolCallStatusFailed
	}
	return acp.ToolCallStatusPending
}

// rawInput is a call's arguments as JSON, or as the text the model wrote
// when that is not JSON.
func rawInput(args string) any {
	if json.Valid([]byte(args)) {
		return json.RawMessage(args)
	}
	return args
}

// workspaceOf is the workspace of an ACP cwd, an absolute path.
func workspaceOf(cwd string) (string, error) {
	ws, err := session.NormalizeWorkspace(cwd)
	if err != nil {
		return "", invalidParams("cwd", "%v", err)
	}
	return ws, nil
}

// update sends one session/update. It is sent even once ctx is done: a
// cancelled turn still tells the client what came.
func (a *agent) update(ctx context.Context, sessionID string, u acp.SessionUpdate) error {
	err := a.conn.SessionUpdate(context.WithoutCancel(ctx), acp.SessionNotification{SessionId: acp.SessionId(sessionID), Update: u})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
