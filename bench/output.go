package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// table is printed aligned, or as markdown.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) write(w io.Writer, md bool) {
	if len(t.rows) == 0 {
		return
	}
	if md {
		fmt.Fprintf(w, "#### %s\n\n| %s |\n|%s\n", t.title, strings.Join(t.head, " | "), strings.Repeat(" --- |", len(t.head)))
		for _, r := range t.rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		fmt.Fprintln(w)
		for _, n := range t.notes {
			fmt.Fprintf(w, "%s\n\n", n)
		}
		return
	}
	fmt.Fprintf(w, "%s\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\n", strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintln(w)
}

func f(format string, x num) string {
	if math.IsNaN(float64(x)) {
		return "—"
	}
	return fmt.Sprintf(format, x)
}

func rng(format string, s stat) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s.Median, s.Min, s.Max)
}

func rate(x num) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.0fk", x/1e3)
	case x > 0:
		return fmt.Sprintf("%.0f", x)
	}
	return "—"
}

func (res *result) writeText(w io.Writer, md bool) error {
	bw := bufio.NewWriter(w)
	m, c := res.Machine, res.cfg
	fmt.Fprintf(bw, "tinychat bench\n\n")
	for _, kv := range [][2]string{
		{"machine", fmt.Sprintf("%s, %d cores, %.1f GiB, %s, %s, %s", m.CPU, m.Cores, m.MemGiB, m.Kernel, m.Go, m.Curl)},
		{"load", fmt.Sprintf("%s at the start, %s at the end (1, 5, 15 min)", m.LoadStart, m.LoadEnd)},
		{"command", m.Command},
		{"daemon", m.Daemon},
		{"mock", m.Mock},
		{"store", res.storeLine()},
		{"peers", strings.Join(m.PeerNotes, "; ")},
		{"method", fmt.Sprintf("iterations: %d, each running every scenario once, the peers of a scenario back to back, each iteration starting with a different one. Figures are medians (min–max) over the iterations; a ratio is the median of the per-iteration ratios to the baseline peer.", c.iterations)},
	} {
		if kv[1] == "" {
			continue
		}
		if md {
			fmt.Fprintf(bw, "- %s: %s\n", kv[0], kv[1])
		} else {
			fmt.Fprintf(bw, "%-8s %s\n", kv[0], kv[1])
		}
	}
	fmt.Fprintln(bw)

	titles := map[string]string{}
	for _, s := range res.scenarios {
		titles[s.name] = s.title
	}
	tp := &table{title: "Throughput: wall is process start to exit (tinychat: initialize, chat/send, every delta, the response, shutdown, exit)",
		head: []string{"scenario", "peer", "wall ms", "ratio to curl", "deltas/s", "CPU µs/delta", "peak RSS MB", "frames"}}
	for _, s := range res.Summaries {
		if !slices.Contains(groups["throughput"], s.Scenario) {
			continue
		}
		ratio := "—"
		if s.Ratio != nil {
			ratio = fmt.Sprintf("%.2fx (%.2f–%.2f)", s.Ratio.Median, s.Ratio.Min, s.Ratio.Max)
		}
		frames := "—"
		if s.Frames > 0 {
			frames = f("%.0f", s.Frames)
		}
		tp.rows = append(tp.rows, []string{titles[s.Scenario], s.Peer + failNote(s), rng("%.1f", s.WallMs), ratio, rate(s.DeltasPerSec), f("%.2f", s.CPUUsPerDelta), f("%.1f", s.RSSMB.Median), frames})
	}
	tp.notes = []string{"frames: chat/delta notifications; with coalescing one carries several provider deltas, which the bench counts in the text.",
		"peak RSS: VmHWM just before exit (not wait4's maxrss, which for a vforked child starts from the parent's)."}
	if s := res.find("t100k", "tinychat"); s != nil {
		tp.notes = append(tp.notes, fmt.Sprintf("tinychat's RSS at exit after %s deltas: %s MB anonymous (heap, stacks, SQLite), %s MB mapped from files (the binary).", count(c.large), f("%.1f", s.AnonMB), f("%.1f", s.FileMB)))
	}
	tp.write(bw, md)

	if cu, tc := res.find("l1ms", "curl"), res.find("l1ms", "tinychat"); cu != nil && tc != nil {
		tl := &table{title: "Latency: " + titles["l1ms"] + "; a delta's latency is its arrival at the bench minus the mock's stamp (same clock)",
			head: []string{"peer", "p50 µs", "p99 µs", "first delta µs", "request to first delta ms", "CPU µs/delta", "CPU ratio to tinychat", "context switches per delta", "peak RSS MB"}}
		for _, s := range res.Summaries {
			if s.Scenario != "l1ms" {
				continue
			}
			tl.rows = append(tl.rows, []string{s.Peer + failNote(s), rng("%.0f", s.LatP50Us), rng("%.0f", s.LatP99Us), rng("%.0f", s.FirstLatUs), rng("%.1f", s.FirstMs),
				f("%.1f", s.CPUUsPerDelta), f("%.2fx", s.CPUUsPerDelta/tc.CPUUsPerDelta), f("%.1f", s.SwitchesPerDelta), f("%.1f", s.RSSMB.Median)})
		}
		if tc.AddedP50Us != nil {
			tl.rows = append(tl.rows, []string{"tinychat − curl", rng("%+.0f", *tc.AddedP50Us), rng("%+.0f", *tc.AddedP99Us), rng("%+.0f", *tc.AddedFirstUs), "", "", "", "", ""})
		}
		tl.notes = []string{
			"first delta: the first delta's stamp is taken as the mock writes its first byte (after " + c.latDelay.String() + "), so this is the provider's first byte to the first chat/delta at the bench.",
			"request to first delta: curl from process start, tinychat from writing chat/send; both include the mock's " + c.latDelay.String() + " delay and the connection.",
			"tinychat − curl: median of the per-iteration differences.",
			"context switches per delta: every switch of every thread of the process over its whole run (getrusage), voluntary and involuntary, divided by the deltas.",
			"CPU µs/delta: user+sys over the process's whole run (tinychat's start, store and stop included), divided by the deltas. anthropic-go reads the same stream in Anthropic's format; the other peers in OpenAI's.",
		}
		tl.write(bw, md)
	}

	if s := res.find("startup", "tinychat"); s != nil {
		ts := &table{title: "Startup: process start (fork/exec) to the initialize response",
			head: []string{"peer", "starts", "median ms", "p90 ms", "min–max ms", "package inits done ms", "peak RSS MB"}}
		for _, s := range []*summary{res.find("startup", "floor"), s} {
			if s != nil {
				ts.rows = append(ts.rows, []string{s.Peer + failNote(s), fmt.Sprint(s.Inits.N), f("%.1f", s.Inits.Median), f("%.1f", s.InitsP90), fmt.Sprintf("%.1f–%.1f", s.Inits.Min, s.Inits.Max), rng("%.1f", s.InitsDone), rng("%.1f", s.RSSMB)})
			}
		}
		ts.notes = []string{
			"floor: a Go program that answers JSON-RPC over stdio and does nothing else (built by the bench from bench/floor.go), started the same way: what any Go process costs to start on this machine.",
			"package inits done: when the Go runtime had run the last package initialiser, before main (GODEBUG=inittrace=1, one more start per iteration, not counted in the others).",
			"peak RSS: VmHWM after initialize and shutdown, idle: what the process costs before it does any work.",
		}
		ts.write(bw, md)
	}

	if r1, tc := res.find("slow", "relay1"), res.find("slow", "tinychat"); r1 != nil && tc != nil {
		tb := &table{title: "Slow consumer: " + titles["slow"],
			head: []string{"peer", "chat/send to response ms", "ratio to relay1", "process wall ms", "frames", "deltas", "latency p50 ms", "p99 ms"}}
		for _, s := range []*summary{r1, tc} {
			ratio := "—"
			if s.Ratio != nil {
				ratio = fmt.Sprintf("%.2fx (%.2f–%.2f)", s.Ratio.Median, s.Ratio.Min, s.Ratio.Max)
			}
			tb.rows = append(tb.rows, []string{s.Peer + failNote(s), rng("%.1f", s.StreamMs), ratio, rng("%.1f", s.WallMs), f("%.0f", s.Frames), f("%.0f", s.Deltas), f("%.1f", s.LatP50Us.Median/1e3), f("%.1f", s.LatP99Us.Median/1e3)})
		}
		tb.notes = []string{
			fmt.Sprintf("The bench spins %v after reading each frame, as an editor busy with each message would. relay1 is the baseline relay that sends one frame per delta (frames = deltas): a child of the bench that reads the same mock stream with net/http and a line scan, no JSON decoding, and writes each delta as its own frame in one write(2), so it is bound by the consumer: at least %s × %v = %.0f ms.", c.slowWork, count(c.slowChunks), c.slowWork, float64(c.slowChunks)*float64(c.slowWork)/1e6),
			"tinychat sends fewer frames when it coalesces: what piles up while the consumer is busy goes out in one. The ratio compares the streams, chat/send to its response, within each iteration; process wall times also hold each program's start (the daemon opens its store, relay1 has none).",
		}
		tb.write(bw, md)
	}

	if s := res.find("concurrent", "tinychat"); s != nil {
		tc := &table{title: "Concurrency: " + titles["concurrent"],
			head: []string{"streams whole and unmixed", "first chat/send to last response ms", "wall ms", "peak RSS MB", "CPU ms", "peak streams open at the mock"},
			rows: [][]string{{fmt.Sprintf("%d of %d", s.StreamsOK, s.Streams) + failNote(s), rng("%.0f", s.StreamMs), rng("%.0f", s.WallMs), rng("%.1f", s.RSSMB), "", f("%.0f", s.PeakUpstream)}}}
		var cpu []float64
		for _, r := range res.Runs {
			if r.Scenario == "concurrent" && r.Err == "" {
				cpu = append(cpu, r.cpuMs())
			}
		}
		tc.rows[0][4] = f("%.0f", num(median(cpu)))
		var fp, fm, tp, tm []float64
		for _, r := range res.Runs {
			if r.Scenario == "concurrent" && r.Err == "" {
				fp, fm, tp, tm = append(fp, r.FirstP50Ms), append(fm, r.FirstMaxMs), append(tp, r.TailP50Ms), append(tm, r.TailMaxMs)
			}
		}
		tc.notes = []string{
			fmt.Sprintf("Where the time goes (medians over the runs): the first chat/send written to a stream's first delta, p50 %s ms, last %s ms (the mock waits %v); a stream's last delta to its response, p50 %s ms, max %s ms.",
				f("%.0f", num(median(fp))), f("%.0f", num(median(fm))), c.streamDelay, f("%.0f", num(median(tp))), f("%.0f", num(median(tm)))), "Each stream has its own workspace and its own text (\"r<i>.<n> \"); every delta is checked for its request, session, message and seq, and each reply against its response."}
		tc.write(bw, md)
	}

	if s := res.find("cancel", "tinychat"); s != nil {
		tc := &table{title: "Cancel: $/cancelRequest written, to the mock seeing the provider connection close; and to the -32800 answer",
			head: []string{"cancels", "close p50 ms", "close p99 ms", "close max ms", "answer p50 ms", "answer p99 ms"},
			rows: [][]string{{fmt.Sprint(s.CloseUs.N) + failNote(s), f("%.2f", s.CloseUs.Median/1e3), f("%.2f", s.CloseP99Us/1e3), f("%.2f", s.CloseUs.Max/1e3), f("%.2f", s.AnswerUs.Median/1e3), f("%.2f", s.AnswerP99Us/1e3)}}}
		tc.notes = []string{"Each cancel hits a stream at 1 ms pacing once three of its deltas are in; the mock notes the close when net/http cancels the request's context."}
		tc.write(bw, md)
	}

	res.writeStore(bw, md)

	title := "Targets (issue 21; the others: issue 7)"
	if res.find("store", "tinychat") != nil {
		title = "Targets (issue 21; the others: issue 7; store: issue 3)"
	}
	tt := &table{title: title, head: []string{"metric", "measured", "target", "met"}}
	for _, t := range res.Targets {
		met := "—"
		if t.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*t.Met]
		}
		tt.rows = append(tt.rows, []string{t.Metric, t.Measured, t.Target, met})
	}
	tt.write(bw, md)

	if len(res.Errors) > 0 {
		fmt.Fprintf(bw, "Errors\n")
		for _, e := range res.Errors {
			fmt.Fprintf(bw, "  %s\n", e)
		}
	}
	return bw.Flush()
}

func failNote(s *summary) string {
	if s.Failed > 0 {
		return fmt.Sprintf(" (%d of %d runs failed)", s.Failed, s.Runs)
	}
	return ""
}
