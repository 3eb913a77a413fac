package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// num is a figure that may be missing (NaN), which JSON gives as null.
type num float64

func (x num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(float64(x)*1000)/1000, 'f', -1, 64), nil
}

// stat is a median with its range.
type stat struct {
	Median num `json:"median"`
	Min    num `json:"min"`
	Max    num `json:"max"`
	N      int `json:"n"`
}

func stats(xs []float64) stat {
	if len(xs) == 0 {
		return stat{Median: num(math.NaN()), Min: num(math.NaN()), Max: num(math.NaN())}
	}
	return stat{Median: num(median(xs)), Min: num(slices.Min(xs)), Max: num(slices.Max(xs)), N: len(xs)}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile is the nearest-rank-below percentile of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[pctIndex(len(s), p)]
}

// summary is one peer in one scenario over every iteration.
type summary struct {
	Scenario      string `json:"scenario"`
	Peer          string `json:"peer"`
	Runs          int    `json:"runs"`
	Failed        int    `json:"failed"`
	WallMs        stat   `json:"wall_ms"`
	Ratio         *stat  `json:"ratio,omitempty"` // per-iteration wall ratios to the scenario's baseline
	DeltasPerSec  num    `json:"deltas_per_s"`
	CPUUsPerDelta num    `json:"cpu_us_per_delta"`
	RSSMB         stat   `json:"peak_rss_mb"`
	AnonMB        num    `json:"rss_anon_mb"` // at exit
	FileMB        num    `json:"rss_file_mb"`
	Deltas        num    `json:"deltas"`
	Frames        num    `json:"frames"`
	InitMs        stat   `json:"init_ms"`
	FirstMs       stat   `json:"first_ms"`
	StreamMs      stat   `json:"stream_ms"`
	LatP50Us      stat   `json:"lat_p50_us"`
	LatP99Us      stat   `json:"lat_p99_us"`
	FirstLatUs    stat   `json:"first_lat_us"`
	// Context switches of all the process's threads over its run, per delta.
	SwitchesPerDelta num `json:"switches_per_delta"`
	// Versus the baseline of the same iteration (l1ms).
	AddedP50Us   *stat `json:"added_p50_us,omitempty"`
	AddedP99Us   *stat `json:"added_p99_us,omitempty"`
	AddedFirstUs *stat `json:"added_first_us,omitempty"`
	// Pooled over every run: startups, cancels.
	Inits       stat `json:"inits_ms"`
	InitsDone   stat `json:"package_inits_done_ms"`
	InitsP90    num  `json:"inits_p90_ms"`
	CloseUs     stat `json:"cancel_close_us"`
	CloseP99Us  num  `json:"cancel_close_p99_us"`
	AnswerUs    stat `json:"cancel_answer_us"`
	AnswerP99Us num  `json:"cancel_answer_p99_us"`
	// Concurrent streams, summed over runs.
	Streams      int `json:"streams"`
	StreamsOK    int `json:"streams_ok"`
	PeakUpstream num `json:"peak_upstream"`
	// Requests to a large store, pooled over every run.
	Store *storeSummary `json:"store,omitempty"`
}

type target struct {
	Metric   string `json:"metric"`
	Measured string `json:"measured"`
	Target   string `json:"target"`
	Met      *bool  `json:"met,omitempty"` // nil: no target in the issue
}

type result struct {
	Machine   machine           `json:"machine"`
	Config    map[string]string `json:"config"`
	Summaries []*summary        `json:"summaries"`
	Targets   []target          `json:"targets"`
	Store     *storeInfo        `json:"store,omitempty"` // the store scenario's store
	Runs      []Run             `json:"runs"`
	Errors    []string          `json:"errors,omitempty"`

	cfg       *config
	scenarios []scenario
}

func report(c *config, m machine, list []scenario, runs []Run) *result {
	res := &result{Machine: m, Runs: runs, cfg: c, scenarios: list, Config: map[string]string{
		"iterations": fmt.Sprint(c.iterations), "scenarios": c.scenarios, "db": c.db,
		"small": fmt.Sprint(c.small), "large": fmt.Sprint(c.large), "lat_chunks": fmt.Sprint(c.latChunks),
		"lat_pace": c.latPace.String(), "lat_delay": c.latDelay.String(), "starts": fmt.Sprint(c.starts),
		"slow_chunks": fmt.Sprint(c.slowChunks), "slow_work": c.slowWork.String(), "streams": fmt.Sprint(c.streams),
		"stream_chunks": fmt.Sprint(c.streamChunks), "stream_pace": c.streamPace.String(), "stream_delay": c.streamDelay.String(), "cancels": fmt.Sprint(c.cancels),
		"store_messages": fmt.Sprint(c.storeMessages), "store_sessions": fmt.Sprint(c.storeSessions), "store_big": fmt.Sprint(c.storeBig), "store_repeats": fmt.Sprint(c.storeRepeats),
	}}
	for _, s := range list {
		var peers []string
		for _, r := range runs {
			if r.Scenario == s.name && !slices.Contains(peers, r.Peer) {
				peers = append(peers, r.Peer)
			}
		}
		for _, p := range peers {
			res.Summaries = append(res.Summaries, summarize(s, p, runs))
		}
	}
	for _, r := range runs {
		if r.Err != "" {
			res.Errors = append(res.Errors, fmt.Sprintf("%s %s iteration %d: %s", r.Scenario, r.Peer, r.Iter+1, r.Err))
		}
	}
	res.Targets = res.targets()
	return res
}

func summarize(s scenario, peer string, runs []Run) *summary {
	sm := &summary{Scenario: s.name, Peer: peer}
	var anon, file, initsDone, wall, cpu, switches, rss, deltas, frames, init, first, stream, p50, p99, flat, inits, closes, answers, peaks []float64
	var ratio, addP50, addP99, addFirst []float64
	base := map[int]Run{}
	for _, r := range runs {
		if r.Scenario == s.name && r.Peer == s.baseline && r.Err == "" {
			base[r.Iter] = r
		}
	}
	for _, r := range runs {
		if r.Scenario != s.name || r.Peer != peer {
			continue
		}
		sm.Runs++
		if r.Err != "" {
			sm.Failed++
			continue
		}
		wall = appendPos(wall, r.WallMs)
		rss = appendPos(rss, float64(r.PeakKB)/1024)
		anon = appendPos(anon, float64(r.AnonKB)/1024)
		file = appendPos(file, float64(r.FileKB)/1024)
		if r.Deltas > 0 && r.Streams == 0 {
			cpu = appendPos(cpu, r.cpuMs()*1e3/float64(r.Deltas))
			switches = appendPos(switches, float64(r.Switches)/float64(r.Deltas))
		}
		deltas = append(deltas, float64(r.Deltas))
		frames = append(frames, float64(r.Frames))
		init = appendPos(init, r.InitMs)
		first = appendPos(first, r.FirstMs)
		stream = appendPos(stream, r.StreamMs)
		p50 = appendPos(p50, r.LatP50Us)
		p99 = appendPos(p99, r.LatP99Us)
		flat = appendPos(flat, r.FirstLatUs)
		inits = append(inits, r.InitsMs...)
		initsDone = appendPos(initsDone, r.InitsDoneMs)
		closes = append(closes, r.CloseUs...)
		answers = append(answers, r.AnswerUs...)
		sm.Streams += r.Streams
		sm.StreamsOK += r.StreamsOK
		peaks = appendPos(peaks, float64(r.PeakUpstream))
		if b, ok := base[r.Iter]; ok && peer != s.baseline {
			if s.onStream {
				ratio = append(ratio, r.StreamMs/b.StreamMs)
			} else {
				ratio = append(ratio, r.WallMs/b.WallMs)
			}
			if b.LatP50Us > 0 && r.LatP50Us > 0 {
				addP50 = append(addP50, r.LatP50Us-b.LatP50Us)
				addP99 = append(addP99, r.LatP99Us-b.LatP99Us)
				addFirst = append(addFirst, r.FirstLatUs-b.FirstLatUs)
			}
		}
	}
	sm.WallMs, sm.RSSMB, sm.InitMs, sm.FirstMs, sm.StreamMs = stats(wall), stats(rss), stats(init), stats(first), stats(stream)
	sm.LatP50Us, sm.LatP99Us, sm.FirstLatUs = stats(p50), stats(p99), stats(flat)
	sm.CPUUsPerDelta, sm.Deltas, sm.Frames = num(median(cpu)), num(median(deltas)), num(median(frames))
	sm.SwitchesPerDelta = num(median(switches))
	if sm.Deltas > 0 && sm.WallMs.Median > 0 {
		sm.DeltasPerSec = sm.Deltas / (sm.WallMs.Median / 1e3)
	}
	if peer == s.baseline && s.baseline != "" {
		sm.Ratio = &stat{Median: 1, Min: 1, Max: 1, N: len(wall)}
	} else if len(ratio) > 0 {
		st := stats(ratio)
		sm.Ratio = &st
	}
	if len(addP50) > 0 {
		a, b, c := stats(addP50), stats(addP99), stats(addFirst)
		sm.AddedP50Us, sm.AddedP99Us, sm.AddedFirstUs = &a, &b, &c
	}
	sm.Inits, sm.InitsP90, sm.InitsDone = stats(inits), num(percentile(inits, .9)), stats(initsDone)
	sm.CloseUs, sm.CloseP99Us = stats(closes), num(percentile(closes, .99))
	sm.AnswerUs, sm.AnswerP99Us = stats(answers), num(percentile(answers, .99))
	sm.PeakUpstream = num(median(peaks))
	sm.AnonMB, sm.FileMB = num(median(anon)), num(median(file))
	sm.Store = summarizeStore(s.name, peer, runs)
	return sm
}

func appendPos(xs []float64, x float64) []float64 {
	if x > 0 {
		return append(xs, x)
	}
	return xs
}

func (res *result) find(scenario, peer string) *summary {
	for _, s := range res.Summaries {
		if s.Scenario == scenario && s.Peer == peer {
			return s
		}
	}
	return nil
}

// targets sets each figure against its target: issue 21's (a realistic
// pace, memory flat in the reply's length, 1,000 streams, bulk), and issue
// 7's for the rest.
func (res *result) targets() []target {
	var ts []target
	add := func(metric, measured, tgt string, met *bool) {
		ts = append(ts, target{Metric: metric, Measured: measured, Target: tgt, Met: met})
	}
	le := func(v num, limit float64) *bool { ok := !math.IsNaN(float64(v)) && float64(v) <= limit; return &ok }
	c := res.cfg
	ratio := func(sc string, limit float64, label, tgt string) {
		if s := res.find(sc, "tinychat"); s != nil && s.Ratio != nil {
			var met *bool
			if limit > 0 {
				met = le(s.Ratio.Median, limit)
			}
			add(label, fmt.Sprintf("%.2fx (%.2f–%.2f)", s.Ratio.Median, s.Ratio.Min, s.Ratio.Max), tgt, met)
		}
	}
	ratio("t100k", 1.1, fmt.Sprintf("%s deltas: wall, ratio to curl", count(c.large)), "≤ 1.1x")
	ratio("t10k", 1.2, fmt.Sprintf("%s deltas: wall, ratio to curl", count(c.small)), "≤ 1.2x")
	if s := res.find("t100k", "tinychat"); s != nil {
		add("CPU per delta (user+sys / deltas, t100k)", fmt.Sprintf("%.2f µs", s.CPUUsPerDelta), "≤ 4 µs", le(s.CPUUsPerDelta, 4))
		add(fmt.Sprintf("peak RSS after a %s-delta stream", count(c.large)), fmt.Sprintf("%.1f MB (at exit %.1f anonymous, %.1f files)", s.RSSMB.Median, s.AnonMB, s.FileMB), "≤ 15 MB", le(s.RSSMB.Median, 15))
	}
	if s := res.find("t1m", "tinychat"); s != nil {
		add(fmt.Sprintf("peak RSS after a %s-delta stream", count(c.huge)), fmt.Sprintf("%.1f MB (at exit %.1f anonymous, %.1f files)", s.RSSMB.Median, s.AnonMB, s.FileMB), "≤ 18 MB", le(s.RSSMB.Median, 18))
	}
	ratio("t100k-f64", 0, fmt.Sprintf("%s deltas, 64 events per write: ratio to curl", count(c.large)), "none (research: ≤ 6x)")
	ratio("t100k-an", 0, fmt.Sprintf("%s deltas, Anthropic format: ratio to curl", count(c.large)), "none")
	if s := res.find("t100k-f64", "tinychat"); s != nil {
		add("CPU per delta, 64 events per write", fmt.Sprintf("%.2f µs", s.CPUUsPerDelta), "none", nil)
	}
	if s, cu := res.find("l1ms", "tinychat"), res.find("l1ms", "curl"); s != nil && cu != nil {
		add(fmt.Sprintf("CPU per delta at %v pacing, ratio to curl", c.latPace), fmt.Sprintf("%.2fx (%.1f µs vs %.1f; %.1f vs %.1f context switches a delta)", s.CPUUsPerDelta/cu.CPUUsPerDelta, s.CPUUsPerDelta, cu.CPUUsPerDelta, s.SwitchesPerDelta, cu.SwitchesPerDelta), "≤ 1.6x", le(s.CPUUsPerDelta/cu.CPUUsPerDelta, 1.6))
		if an := res.find("l1ms", peerAnthropicGo); an != nil {
			add(fmt.Sprintf("CPU per delta at %v pacing, ratio to anthropic-sdk-go", c.latPace), fmt.Sprintf("%.2fx (%.1f µs vs %.1f)", s.CPUUsPerDelta/an.CPUUsPerDelta, s.CPUUsPerDelta, an.CPUUsPerDelta), "≤ 0.6x", le(s.CPUUsPerDelta/an.CPUUsPerDelta, 0.6))
		} else {
			add(fmt.Sprintf("CPU per delta at %v pacing, ratio to anthropic-sdk-go", c.latPace), "not run (-peers)", "≤ 0.6x", nil)
		}
	}
	if s := res.find("l1ms", "tinychat"); s != nil && s.AddedP50Us != nil {
		cu := res.find("l1ms", "curl")
		add(fmt.Sprintf("added latency p50 at %v pacing", c.latPace), fmt.Sprintf("%+.0f µs (%.0f vs curl %.0f)", s.AddedP50Us.Median, s.LatP50Us.Median, cu.LatP50Us.Median), "≤ curl + 30 µs", le(s.AddedP50Us.Median, 30))
		add(fmt.Sprintf("added latency p99 at %v pacing", c.latPace), fmt.Sprintf("%+.0f µs (%.0f vs curl %.0f)", s.AddedP99Us.Median, s.LatP99Us.Median, cu.LatP99Us.Median), "≤ curl + 150 µs", le(s.AddedP99Us.Median, 150))
		add("first delta after the provider's first byte", fmt.Sprintf("%.2f ms (curl %.2f ms)", s.FirstLatUs.Median/1e3, cu.FirstLatUs.Median/1e3), "≤ 2 ms", le(s.FirstLatUs.Median/1e3, 2))
	}
	if s := res.find("startup", "tinychat"); s != nil {
		floor := ""
		if fl := res.find("startup", "floor"); fl != nil {
			floor = fmt.Sprintf("; floor %.1f ms", fl.Inits.Median)
		}
		add("initialize answered after process start", fmt.Sprintf("%.1f ms (p90 %.1f, max %.1f; %d starts%s)", s.Inits.Median, s.InitsP90, s.Inits.Max, s.Inits.N, floor), "≤ 5 ms", le(s.Inits.Median, 5))
	}
	if s := res.find("slow", "tinychat"); s != nil && s.Ratio != nil {
		add(fmt.Sprintf("slow consumer (%v/frame): stream wall vs one-frame-per-delta relay", c.slowWork), fmt.Sprintf("%.2fx (%.0f frames for %.0f deltas)", s.Ratio.Median, s.Frames, s.Deltas), "≤ 0.4x", le(s.Ratio.Median, 0.4))
	}
	if s := res.find("concurrent", "tinychat"); s != nil {
		ok := s.Streams > 0 && s.StreamsOK == s.Streams
		add(fmt.Sprintf("%d concurrent streams: whole and unmixed", c.streams), fmt.Sprintf("%d of %d", s.StreamsOK, s.Streams), "all", &ok)
		var tails []float64
		for _, r := range res.Runs {
			if r.Scenario == "concurrent" && r.Err == "" {
				tails = append(tails, r.TailP50Ms)
			}
		}
		if len(tails) > 0 {
			st := stats(tails)
			add(fmt.Sprintf("%d concurrent streams at %v pacing: a stream's last delta to its response, p50", c.streams, c.streamPace), fmt.Sprintf("%.1f ms (%.1f–%.1f)", st.Median, st.Min, st.Max), "≤ 50 ms", le(num(st.Median), 50))
		}
		add(fmt.Sprintf("%d concurrent streams: peak RSS", c.streams), fmt.Sprintf("%.1f MB", s.RSSMB.Median), "none (issue 7: ≤ 60 MB at 500)", nil)
	}
	if s := res.find("cancel", "tinychat"); s != nil {
		add("cancel to upstream close", fmt.Sprintf("p50 %.2f ms, p99 %.2f ms (%d cancels)", s.CloseUs.Median/1e3, s.CloseP99Us/1e3, s.CloseUs.N), "≤ 5 ms", le(s.CloseUs.Median/1e3, 5))
	}
	return append(ts, res.storeTargets()...)
}

func (res *result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
