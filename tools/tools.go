// Package tools holds the tools a model can call during a turn: the
// built-in read-only workspace tools (read_file, list_files, grep) and the
// tools of MCP servers, which a [Manager] starts and talks to. It runs
// tools; asking the user's permission is the caller's business, helped by
// [Policy].
package tools

import (
	"encoding/json"
	"fmt"

	"github.com/tinychat/tinychat/internal/textcut"
)

// Tool is a tool a model can be offered.
type Tool struct {
	// Name is the name the model sees and calls the tool by, matching
	// ^[a-zA-Z0-9_-]{1,64}$: read_file, list_files or grep for a built-in,
	// <server>__<tool> for an MCP tool, cut and de-duplicated if too long
	// (see [Manager.Tools]). Policy globs use the same names.
	Name        string
	Description string
	// Schema is the JSON Schema of the arguments, an object schema (an MCP
	// tool's inputSchema).
	Schema json.RawMessage
	// Server is "" for a built-in, else the name of the MCP server.
	Server string
}

// Result is what a call of a tool gave.
type Result struct {
	// Content is the whole text given back to the model: MCP content[]
	// text joined by newlines, other content described (such as "[image/png,
	// 1234 bytes]"). It is at most MaxOutput bytes.
	Content string
	// IsError reports that the tool failed (a missing file, an MCP isError
	// result, arguments it cannot use): the model is told, and the turn
	// goes on.
	IsError bool
}

// MaxOutput bounds Result.Content. Longer output is cut at a character
// boundary and ends with a note saying how much there was, so the model
// knows it did not see everything.
const MaxOutput = 64 << 10

// failure is a Result telling the model what went wrong.
func failure(format string, args ...any) Result {
	return Result{Content: fmt.Sprintf(format, args...), IsError: true}
}

// bound cuts r.Content to MaxOutput bytes.
func bound(r Result) Result {
	if len(r.Content) <= MaxOutput {
		return r
	}
	note := fmt.Sprintf("\n[cut: the output has %d bytes; the first %d are shown]", len(r.Content), MaxOutput)
	r.Content = textcut.Prefix(r.Content, MaxOutput-len(note)) + note
	return r
}
