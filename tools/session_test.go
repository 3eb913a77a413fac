package tools

import (
	"slices"
	"strings"
	"testing"
)

// TestWith adds an ACP session's servers to a Manager's: the session's
// Manager shares the servers it does not replace, running one process of
// each, and its Close stops its own servers only.
func TestWith(t *testing.T) {
	base, _ := newManager(t, map[string]ServerConfig{"shared": testServer(t), "mine": testServer(t)})
	w, err := base.With(map[string]ServerConfig{"mine": testServer(t), "their server": testServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	list, problems := w.Tools(t.Context(), "/")
	var names []string
	for _, tl := range list {
		names = append(names, tl.Name)
	}
	for _, want := range []string{"read_file", "shared__echo", "mine__echo", "their_server__echo"} {
		if !slices.Contains(names, want) {
			t.Errorf("the session's tools are %v, without %s (problems: %v)", names, want, problems)
		}
	}
	base.Tools(t.Context(), "")
	if a, b := call(t, base, "shared__pid", `{}`).Content, call(t, w, "shared__pid", `{}`).Content; a != b {
		t.Errorf("a shared server runs twice: pids %s and %s", a, b)
	}
	if a, b := call(t, base, "mine__pid", `{}`).Content, call(t, w, "mine__pid", `{}`).Content; a == b {
		t.Errorf("the session's server of the same name is the configuration's: pid %s", a)
	}
	shared := call(t, base, "shared__pid", `{}`).Content
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if r := call(t, base, "shared__pid", `{}`); r.Content != shared {
		t.Errorf("after the session's Close, the shared server gives pid %q, want %s, still running", r.Content, shared)
	}

	if _, err := base.With(map[string]ServerConfig{"empty": {}}); err == nil || !strings.Contains(err.Error(), "mcp server empty") {
		t.Errorf("With a server without command nor url gave %v, want an error naming it", err)
	}
	if _, err := base.With(map[string]ServerConfig{"a b": testServer(t), "a_b": testServer(t)}); err == nil {
		t.Error("With two servers whose names become one gave no error")
	}
}
