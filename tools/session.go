package tools

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// With returns a Manager of m's servers and of servers, given by name: the
// MCP servers that an ACP client gives for one session, beside those of
// the configuration file. A server of servers replaces one of m's that has
// its name. A name with characters other than letters, digits, _ and - has
// each replaced by _, as tool names are made.
//
// The new Manager starts its own servers on first use, as m does, and its
// Close stops them and only them: m's servers are shared, and stay m's.
// A server that cannot be used (no command nor URL, a bad URL) is an error
// naming it, and no Manager is made.
func (m *Manager) With(servers map[string]ServerConfig) (*Manager, error) {
	w := &Manager{log: m.log, names: map[string]mcpTool{}}
	w.stop, w.cancel = context.WithCancel(context.Background())
	added := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(servers)) {
		sc := servers[name]
		clean := strings.Map(func(r rune) rune {
			if isNameRune(r) {
				return r
			}
			return '_'
		}, name)
		if _, err := sc.check(clean); err != nil {
			w.cancel()
			return nil, fmt.Errorf("mcp server %s: %w", name, err)
		}
		if added[clean] {
			w.cancel()
			return nil, fmt.Errorf("mcp server %s: another server of the session has the name %s", name, clean)
		}
		added[clean] = true
		w.own = append(w.own, &server{name: clean, cfg: sc, log: m.log, stop: w.stop, lock: make(chan struct{}, 1)})
	}
	for _, s := range m.servers {
		if !added[s.name] {
			w.servers = append(w.servers, s)
		}
	}
	w.servers = append(w.servers, w.own...)
	slices.SortFunc(w.servers, func(a, b *server) int { return strings.Compare(a.name, b.name) })
	return w, nil
}
