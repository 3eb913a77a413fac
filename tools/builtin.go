package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// A builtin is a read-only tool over the workspace folder.
type builtin struct {
	Tool
	// run runs the tool with its arguments decoded into a fresh value of
	// its argument type. Problems the model can act on are IsError
	// results; its error is for failures of the call itself (ctx done).
	run func(ctx context.Context, w *workspace, args json.RawMessage) (Result, error)
}

// builtins are the built-in tools, in the order they are offered.
var builtins = []builtin{
	{
		Tool: Tool{
			Name: "read_file",
			Description: "Read a text file of the workspace. Lines are numbered from 1; give startLine and endLine (inclusive) to read part of a long file. " +
				"At most 64 KiB are given back; a note at the end then says which lines were shown and how many the file has.",
			Schema: json.RawMessage(`{"type":"object","properties":{` +
				`"path":{"type":"string","description":"The file, relative to the workspace folder."},` +
				`"startLine":{"type":"integer","minimum":1,"description":"The first line to read (default 1)."},` +
				`"endLine":{"type":"integer","minimum":1,"description":"The last line to read (default: the end of the file)."}},` +
				`"required":["path"],"additionalProperties":false}`),
		},
		run: runWith(readFile),
	},
	{
		Tool: Tool{
			Name: "list_files",
			Description: "List the files under a folder of the workspace (the whole workspace by default), recursively, one path a line, " +
				"leaving out what .gitignore files ignore and .git folders. At most 1000 files are listed.",
			Schema: json.RawMessage(`{"type":"object","properties":{` +
				`"path":{"type":"string","description":"The folder to list, relative to the workspace folder (default: the workspace)."}},` +
				`"additionalProperties":false}`),
		},
		run: runWith(listFiles),
	},
	{
		Tool: Tool{
			Name: "grep",
			Description: "Search the text files of the workspace for lines matching a regular expression (Go RE2 syntax; (?i) for any case), " +
				"leaving out what .gitignore files ignore and binary files. Each match is given as path:line: text; at most 200 are given.",
			Schema: json.RawMessage(`{"type":"object","properties":{` +
				`"pattern":{"type":"string","description":"The regular expression, matched against each line."},` +
				`"path":{"type":"string","description":"The folder or file to search, relative to the workspace folder (default: the workspace)."}},` +
				`"required":["pattern"],"additionalProperties":false}`),
		},
		run: runWith(grep),
	},
}

// findBuiltin returns the built-in tool called name, or nil.
func findBuiltin(name string) *builtin {
	for i := range builtins {
		if builtins[i].Name == name {
			return &builtins[i]
		}
	}
	return nil
}

// runWith adapts a tool function to builtin.run: it decodes the arguments
// into A, refusing fields A does not have, since a misspelt startLine
// silently ignored would give the model the wrong part of a file.
func runWith[A any](f func(context.Context, *workspace, A) (Result, error)) func(context.Context, *workspace, json.RawMessage) (Result, error) {
	return func(ctx context.Context, w *workspace, raw json.RawMessage) (Result, error) {
		var args A
		if len(bytes.TrimSpace(raw)) > 0 && string(raw) != "null" {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&args); err != nil {
				return failure("the arguments do not fit the tool's schema: %s", argsError(err)), nil
			}
		}
		return f(ctx, w, args)
	}
}

// argsError says what is wrong with arguments that did not decode, in the
// terms of the schema rather than of Go.
func argsError(err error) string {
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		return "want a JSON object, not " + typ.Value
	case errors.As(err, &typ):
		want := "a string"
		if k := typ.Type.Kind(); k == reflect.Int {
			want = "an integer"
		}
		return fmt.Sprintf("%s: want %s, not %s", typ.Field, want, typ.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
