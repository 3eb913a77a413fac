package acp

import (
	"context"
	"errors"
	"fmt"

	acp "github.com/coder/acp-go-sdk"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
)

// Error codes of the ACP face. ACP gives -32000 to "authentication
// required" and -32002 to "resource not found"; the others are the
// daemon's, but for a provider without a key, which is -32002 there.
const (
	codeNoSession     = -32002
	codeProvider      = -32001
	codeNotConfigured = -32003
	codeBusy          = -32005
	codeStoreFull     = -32006
)

// toRequestError maps err to the JSON-RPC error the client gets. Its
// message is a sentence a person can act on, since clients show it alone;
// the provider's own message is in it.
func toRequestError(err error) error {
	var (
		re   *acp.RequestError
		nc   *providers.NotConfiguredError
		pe   *providers.Error
		busy *chat.BusyError
		nf   *session.NotFoundError
		we   *session.WriteError
	)
	switch {
	case errors.As(err, &re):
		return re
	case errors.As(err, &nc):
		msg := nc.Error()
		if nc.Reason == "" && nc.Env != "" {
			msg = fmt.Sprintf("%s is not configured: set %s in the environment tinychat runs in, or choose another provider", nc.Provider, nc.Env)
		}
		return &acp.RequestError{Code: codeNotConfigured, Message: msg, Data: map[string]any{"provider": nc.Provider, "env": nc.Env}}
	case errors.As(err, &pe):
		return &acp.RequestError{Code: codeProvider, Message: err.Error(), Data: pe}
	case errors.As(err, &busy):
		return &acp.RequestError{Code: codeBusy, Message: err.Error(), Data: map[string]any{"sessionId": busy.SessionID}}
	case errors.As(err, &nf):
		return &acp.RequestError{Code: codeNoSession, Message: err.Error(), Data: map[string]any{"sessionId": nf.ID}}
	case errors.As(err, &we):
		return &acp.RequestError{Code: codeStoreFull, Message: err.Error()}
	case errors.Is(err, providers.ErrUnknownProvider):
		return invalidParams("provider", "%v", err)
	case errors.Is(err, context.Canceled):
		return acp.NewRequestCancelled(map[string]any{"error": err.Error()})
	}
	return &acp.RequestError{Code: -32603, Message: err.Error()}
}

// invalidParams is -32602 naming the field at fault.
func invalidParams(field, format string, args ...any) *acp.RequestError {
	return &acp.RequestError{Code: -32602, Message: fmt.Sprintf(format, args...), Data: map[string]any{"field": field}}
}
