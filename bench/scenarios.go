package main

import (
	"fmt"
	"slices"
	"strings"
)

// A scenario runs its peers once per iteration. Peers swap order from one
// iteration to the next, so that neither always runs right after the
// other's disturbance.
type scenario struct {
	name     string
	title    string
	baseline string // the peer ratios are taken to ("" for none)
	// onStream takes ratios on the time from chat/send to its response
	// rather than on the process's wall time.
	onStream bool
	run      func(b *bench, iter int) []Run
}

// pair runs two peers, in an order that swaps with each iteration.
func pair(iter int, a, b func() Run) []Run {
	return rotate(iter, a, b)
}

// rotate runs peers one after the other, starting with a different one in
// each iteration, and returns their runs in the order given.
func rotate(iter int, peers ...func() Run) []Run {
	runs := make([]Run, len(peers))
	for k := range peers {
		i := (iter + k) % len(peers)
		runs[i] = peers[i]()
	}
	return runs
}

// versusCurl is a stream run by curl, by the daemon, and by those of the
// SDK peers given that the bench could build; each SDK reads the stream
// in its own API's format.
func versusCurl(name, title string, s stream, sdks ...string) scenario {
	return scenario{name: name, title: title, baseline: "curl", run: func(b *bench, iter int) []Run {
		peers := []func() Run{
			func() Run { return b.curlRun(name, s) },
			func() Run { return b.editorRun(name, "tinychat", b.daemon, b.daemonEnv, s) },
		}
		for _, p := range sdks {
			if b.peers[p] == nil {
				continue
			}
			ps := s
			ps.format = peerFormat(p)
			peers = append(peers, func() Run { return b.sdkRun(name, p, ps) })
		}
		return rotate(iter, peers...)
	}}
}

func scenarios(c *config) []scenario {
	tokens := func(format string, n, flush int) stream {
		return stream{format: format, mock: mockConfig{chunks: n, flush: flush}}
	}
	return []scenario{
		versusCurl("t10k", fmt.Sprintf("%s deltas", count(c.small)), tokens("openai", c.small, 1)),
		versusCurl("t100k", fmt.Sprintf("%s deltas", count(c.large)), tokens("openai", c.large, 1), peerOpenAIGo, peerNodeOpenAI),
		versusCurl("t1m", fmt.Sprintf("%s deltas (memory flat in the reply's length)", count(c.huge)), tokens("openai", c.huge, 1)),
		versusCurl("t100k-f64", fmt.Sprintf("%s deltas, 64 events per write (client-bound)", count(c.large)), tokens("openai", c.large, 64)),
		versusCurl("t100k-an", fmt.Sprintf("%s deltas, Anthropic format", count(c.large)), tokens("anthropic", c.large, 1), peerAnthropicGo),
		versusCurl("l1ms", fmt.Sprintf("%d deltas at %v pacing, %v before the first byte (stamped)", c.latChunks, c.latPace, c.latDelay),
			stream{format: "openai", mock: mockConfig{chunks: c.latChunks, pace: c.latPace, delay: c.latDelay, flush: 1, ts: true}}, sdkPeers...),
		{name: "startup", title: fmt.Sprintf("process start to initialize response, %d starts per iteration", c.starts),
			run: func(b *bench, iter int) []Run {
				return pair(iter,
					func() Run { return b.startupRun("startup", "floor", b.floor, b.daemonEnv, c.starts) },
					func() Run { return b.startupRun("startup", "tinychat", b.daemon, b.daemonEnv, c.starts) })
			}},
		func() scenario {
			s := stream{format: "openai", mock: mockConfig{chunks: c.slowChunks, flush: 1, ts: true}, work: c.slowWork}
			return scenario{name: "slow", title: fmt.Sprintf("%v per frame, %s stamped deltas", c.slowWork, count(c.slowChunks)), baseline: "relay1", onStream: true,
				run: func(b *bench, iter int) []Run {
					return pair(iter,
						func() Run { return b.editorRun("slow", "relay1", b.relay, b.relayEnv(), s) },
						func() Run { return b.editorRun("slow", "tinychat", b.daemon, b.daemonEnv, s) })
				}}
		}(),
		{name: "concurrent", title: fmt.Sprintf("%d concurrent streams in one daemon, %d deltas each at %v pacing after %v", c.streams, c.streamChunks, c.streamPace, c.streamDelay),
			run: func(b *bench, iter int) []Run {
				return []Run{b.concurrentRun("concurrent", c.streams, mockConfig{chunks: c.streamChunks, pace: c.streamPace, delay: c.streamDelay, flush: 1})}
			}},
		{name: "cancel", title: "$/cancelRequest to the provider connection's close",
			run: func(b *bench, iter int) []Run {
				// Spread the cancels over the iterations.
				n := c.cancels / c.iterations
				if iter < c.cancels%c.iterations {
					n++
				}
				if n == 0 {
					return nil
				}
				return []Run{b.cancelRun("cancel", n)}
			}},
		{name: "store", title: fmt.Sprintf("requests over the wire to the daemon on a store of %s messages (%s-message export, %s-session list, search), %d rounds per daemon",
			count(c.storeMessages), count(c.storeBig), count(c.storeSessions), c.storeRepeats),
			run: func(b *bench, iter int) []Run { return []Run{b.storeRun("store")} }},
	}
}

// groups name sets of scenarios. default is what runs without -scenarios:
// every scenario but store, whose store takes a minute or more to build.
var groups = map[string][]string{
	"default":    {"t10k", "t100k", "t1m", "t100k-f64", "t100k-an", "l1ms", "startup", "slow", "concurrent", "cancel"},
	"all":        {"t10k", "t100k", "t1m", "t100k-f64", "t100k-an", "l1ms", "startup", "slow", "concurrent", "cancel", "store"},
	"throughput": {"t10k", "t100k", "t1m", "t100k-f64", "t100k-an"},
	"latency":    {"l1ms", "startup"},
}

// pick returns the scenarios a comma-separated list of names and groups
// names, in their usual order.
func pick(all []scenario, list string) ([]scenario, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if g, ok := groups[n]; ok {
			for _, m := range g {
				want[m] = true
			}
			continue
		}
		if !slices.ContainsFunc(all, func(s scenario) bool { return s.name == n }) {
			return nil, fmt.Errorf("unknown scenario %q (scenarios: %s; groups: default, all, throughput, latency)", n, strings.Join(groups["all"], ", "))
		}
		want[n] = true
	}
	var out []scenario
	for _, s := range all {
		if want[s.name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// count writes n as 10k, 100k, 1.5k or 200.
func count(n int) string {
	switch {
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	case n >= 1000:
		return fmt.Sprintf("%.1fk", float64(n)/1000)
	}
	return fmt.Sprint(n)
}
