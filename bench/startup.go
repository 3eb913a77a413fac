package main

import (
	"fmt"
	"slices"
	"strings"
)

// startupRun starts peer (argv, in env) n times and times each
// initialize answer.
func (b *bench) startupRun(scenario, peer string, argv, env []string, n int) Run {
	r := Run{Scenario: scenario, Peer: peer}
	for i := 0; i < n; i++ {
		e, err := startEditor(argv, env, b.deadline())
		if err != nil {
			r.fail(err)
			return r
		}
		d, err := e.initialize()
		if err != nil {
			r.fail(fmt.Errorf("%w%s", err, e.stderrNote()))
			e.kill()
			return r
		}
		r.InitsMs = append(r.InitsMs, ms(d))
		_, err = e.stop()
		r.fail(err)
		r.PeakKB = max(r.PeakKB, e.mem.PeakKB)
	}
	r.InitMs = median(r.InitsMs)
	// One more start tells where the time goes: the Go runtime's package
	// initialisation (GODEBUG=inittrace=1), before main runs.
	e, err := startEditor(argv, append(slices.Clip(env), "GODEBUG=inittrace=1"), b.deadline())
	if err != nil {
		r.fail(err)
		return r
	}
	if _, err := e.initialize(); err != nil {
		r.fail(fmt.Errorf("%w%s", err, e.stderrNote()))
		e.kill()
		return r
	}
	_, err = e.stop()
	r.fail(err)
	r.InitsDoneMs = initsDone(e.stderr.String())
	return r
}

// initsDone is when the last package initialiser ended, from the lines
// "init PKG @T ms, D ms clock, ..." of GODEBUG=inittrace=1.
func initsDone(trace string) float64 {
	var done float64
	for _, line := range strings.Split(trace, "\n") {
		_, rest, ok := strings.Cut(line, " @")
		if !strings.HasPrefix(line, "init ") || !ok {
			continue
		}
		var at, clock float64
		if _, err := fmt.Sscanf(rest, "%f ms, %f ms clock", &at, &clock); err == nil {
			done = max(done, at+clock)
		}
	}
	return done
}
