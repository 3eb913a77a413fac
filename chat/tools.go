package chat

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"

	"github.com/tinychat/tinychat/internal/textcut"
)

// Toolbox is where a turn's tools come from and are run: a tools.Manager.
type Toolbox interface {
	Tools(ctx context.Context, workspace string) ([]tools.Tool, []error)
	Call(ctx context.Context, workspace, name string, args json.RawMessage) (tools.Result, error)
}

// DefaultMaxToolSteps is how many steps a turn takes at most when
// Engine.MaxToolSteps is 0.
const DefaultMaxToolSteps = 25

// StopMaxToolSteps ends a turn whose model still called tools at the last
// step allowed; those calls are not run.
const StopMaxToolSteps = "max_tool_steps"

// Statuses of a tool call, as chat/toolCall gives them.
const (
	CallPending   = "pending"
	CallRunning   = "running"
	CallCompleted = "completed"
	CallFailed    = "failed"
	CallRejected  = "rejected"
)

// Answers to a permission request, and the face's "nobody answered".
const (
	AllowOnce    = "allow_once"
	AllowAlways  = "allow_always"
	RejectOnce   = "reject_once"
	RejectAlways = "reject_always"
	Cancelled    = "cancelled"
)

// ToolCall is a tool call as the faces see it: in a ToolCall event, and in
// a permission request.
type ToolCall struct {
	ID        string // the provider's, or call_N where it gave none (Gemini)
	Name      string
	Server    string
	Arguments string
	Status    string
	Output    string // what went back to the model, once run or refused
}

// Permit asks the user whether a tool call may run, and returns one of
// AllowOnce, AllowAlways, RejectOnce, RejectAlways or Cancelled.
type Permit func(ctx context.Context, call ToolCall) (string, error)

// What a model is told of a call it may not make, and of one that was
// never run (its reply was cut short first).
const (
	declined = "The user declined to run this tool call."
	notRun   = "This tool call was not run."
)

// maxOutputEvent caps the output a ToolCall event carries: the editor shows
// it, the model gets it whole.
const maxOutputEvent = 2 << 10

// offer lists the tools the turn's model may call: every tool of the
// workspace that the policy does not deny. A source that could not be
// reached is logged, not fatal.
func (t *Turn) offer(ctx context.Context) {
	box := t.box
	if box == nil {
		return
	}
	list, problems := box.Tools(ctx, t.workspace)
	for _, p := range problems {
		t.engine.log().Warn("a tool source is unavailable", "error", p)
	}
	t.tools = map[string]tools.Tool{}
	for _, tl := range list {
		if t.engine.Policy.Decide(tl.Name) == tools.Deny {
			continue
		}
		t.tools[tl.Name] = tl
		t.req.Tools = append(t.req.Tools, providers.ToolSpec{Name: tl.Name, Description: tl.Description, Parameters: tl.Schema})
	}
}

// runCalls runs the tool calls of one step, each once it is allowed, in
// order, and returns their results for the model. It stops at ctx's end:
// the calls not run are left pending.
func (t *Turn) runCalls(ctx context.Context, calls []providers.ToolCall, onEvent func(Event)) ([]providers.ToolResult, error) {
	results := make([]providers.ToolResult, 0, len(calls))
	for _, pc := range calls {
		i := t.progress.addCall(session.ToolCall{ID: pc.ID, Name: pc.Name, Server: t.tools[pc.Name].Server, Arguments: pc.Arguments, Status: CallPending})
		call := t.callEvent(i)
		onEvent(Event{Kind: ToolCallEvent, Call: &call})

		allowed, err := t.permitted(ctx, call)
		if err != nil {
			return results, err
		}
		var res tools.Result
		status := CallRejected
		switch {
		case !allowed:
			res = tools.Result{Content: declined, IsError: true}
		default:
			t.progress.setCall(i, CallRunning, "")
			call = t.callEvent(i)
			onEvent(Event{Kind: ToolCallEvent, Call: &call})
			res, err = t.box.Call(ctx, t.workspace, pc.Name, json.RawMessage(pc.Arguments))
			if ctx.Err() != nil {
				return results, ctx.Err()
			}
			status = CallCompleted
			if err != nil {
				// The tool could not be run at all (a server that died):
				// the model is told, as of a failed call.
				res = tools.Result{Content: err.Error(), IsError: true}
			}
			if res.IsError {
				status = CallFailed
			}
		}
		t.progress.setCall(i, status, res.Content)
		call = t.callEvent(i)
		call.Output = clipOutput(call.Output)
		onEvent(Event{Kind: ToolCallEvent, Call: &call})
		results = append(results, providers.ToolResult{CallID: pc.ID, Name: pc.Name, Content: res.Content, IsError: res.IsError})
	}
	return results, nil
}

// permitted decides whether call may run: the policy, then what the
// workspace always does with the tool, then the user, through the face's
// Permit; with no one to ask, a call the policy leaves to the user is
// refused. "Always" answers are remembered for the workspace.
func (t *Turn) permitted(ctx context.Context, call ToolCall) (bool, error) {
	switch t.engine.Policy.Decide(call.Name) {
	case tools.Allow:
		return true, nil
	case tools.Deny:
		return false, nil
	}
	store := t.engine.Store
	switch d, err := store.Permission(ctx, t.workspace, call.Name); {
	case err != nil:
		return false, err
	case d == "allow":
		return true, nil
	case d == "reject":
		return false, nil
	}
	if t.permit == nil {
		return false, nil
	}
	answer, err := t.permit(ctx, call)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		// A client that cannot answer refuses.
		t.engine.log().Warn("permission request failed", "tool", call.Name, "error", err)
		return false, nil
	}
	switch answer {
	case AllowAlways:
		err = store.SetPermission(context.WithoutCancel(ctx), t.workspace, call.Name, "allow")
	case RejectAlways:
		err = store.SetPermission(context.WithoutCancel(ctx), t.workspace, call.Name, "reject")
	case Cancelled:
		// The user dismissed the question: the turn ends there.
		return false, context.Canceled
	}
	if err != nil {
		return false, fmt.Errorf("remembering %s for %s: %w", answer, call.Name, err)
	}
	return answer == AllowOnce || answer == AllowAlways, nil
}

// callEvent is the i-th tool call of the reply as the faces see it.
func (t *Turn) callEvent(i int) ToolCall {
	c := t.progress.call(i)
	id := c.ID
	if id == "" {
		id = fmt.Sprintf("call_%d", i)
	}
	return ToolCall{ID: id, Name: c.Name, Server: c.Server, Arguments: c.Arguments, Status: c.Status, Output: c.Output}
}

// clipOutput cuts a tool's output to what an editor shows, on a rune
// boundary.
func clipOutput(s string) string {
	return textcut.Clip(s, maxOutputEvent)
}
