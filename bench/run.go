package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run is one measured run of one peer in one scenario and iteration.
type Run struct {
	Scenario string  `json:"scenario"`
	Peer     string  `json:"peer"`
	Iter     int     `json:"iter"`
	Deltas   int     `json:"deltas,omitempty"`    // provider deltas found (and checked) in the text
	Frames   int     `json:"frames,omitempty"`    // chat/delta notifications
	WallMs   float64 `json:"wall_ms,omitempty"`   // process start to exit
	InitMs   float64 `json:"init_ms,omitempty"`   // process start to the initialize response
	FirstMs  float64 `json:"first_ms,omitempty"`  // chat/send (curl: process start) to the first delta
	StreamMs float64 `json:"stream_ms,omitempty"` // chat/send to its response (concurrent: the first chat/send to the last response)
	// Peak RSS (VmHWM) and what RSS is made of, from /proc/PID/status
	// just before the process exits (the daemon: after the shutdown
	// answer, before exit; curl: once the stream's end marker is in).
	memory
	usage
	// With the mock's stamps: arrival at the bench minus the stamp.
	LatP50Us   float64 `json:"lat_p50_us,omitempty"`
	LatP99Us   float64 `json:"lat_p99_us,omitempty"`
	LatMaxUs   float64 `json:"lat_max_us,omitempty"`
	FirstLatUs float64 `json:"first_lat_us,omitempty"`
	// Concurrent streams.
	Streams      int `json:"streams,omitempty"`
	StreamsOK    int `json:"streams_ok,omitempty"`
	PeakUpstream int `json:"peak_upstream,omitempty"` // most streams the mock had open at once
	// Over the streams: the first chat/send written to a stream's first
	// delta, and a stream's last delta to its response.
	FirstP50Ms float64 `json:"first_delta_p50_ms,omitempty"`
	FirstMaxMs float64 `json:"first_delta_max_ms,omitempty"`
	TailP50Ms  float64 `json:"last_delta_to_response_p50_ms,omitempty"`
	TailMaxMs  float64 `json:"last_delta_to_response_max_ms,omitempty"`
	// Cancels: $/cancelRequest written to the mock seeing the connection
	// close, and to the -32800 answer.
	CloseUs  []float64 `json:"cancel_close_us,omitempty"`
	AnswerUs []float64 `json:"cancel_answer_us,omitempty"`
	// Startups: process start to the initialize response; and when the
	// runtime's package initialisation ended, in one more start.
	InitsMs     []float64 `json:"inits_ms,omitempty"`
	InitsDoneMs float64   `json:"package_inits_done_ms,omitempty"`
	Err         string    `json:"error,omitempty"`

	Store *storeFigures `json:"store,omitempty"` // requests over the wire to a large store
}

func (r *Run) fail(err error) {
	if err != nil && r.Err == "" {
		r.Err = err.Error()
	}
}

// brief is the run in one line, for progress.
func (r *Run) brief() string {
	var b strings.Builder
	if r.WallMs > 0 {
		fmt.Fprintf(&b, "wall %.1f ms", r.WallMs)
	}
	if r.Deltas > 0 {
		fmt.Fprintf(&b, ", %d deltas", r.Deltas)
	}
	if r.Frames > 0 {
		fmt.Fprintf(&b, " in %d frames", r.Frames)
	}
	if r.LatP50Us > 0 {
		fmt.Fprintf(&b, ", latency p50 %.0f µs p99 %.0f µs, first %.0f µs", r.LatP50Us, r.LatP99Us, r.FirstLatUs)
	}
	if len(r.InitsMs) > 0 {
		fmt.Fprintf(&b, "initialize median %.1f ms of %d", median(r.InitsMs), len(r.InitsMs))
	}
	if r.Streams > 0 {
		fmt.Fprintf(&b, ", %d of %d streams whole", r.StreamsOK, r.Streams)
	}
	if len(r.CloseUs) > 0 {
		fmt.Fprintf(&b, ", %d cancels, close median %.2f ms", len(r.CloseUs), median(r.CloseUs)/1e3)
	}
	if r.Store != nil {
		b.WriteString(r.Store.brief())
	}
	if r.PeakKB > 0 {
		fmt.Fprintf(&b, ", peak RSS %.1f MB", float64(r.PeakKB)/1024)
	}
	if r.AnonKB > 0 {
		fmt.Fprintf(&b, " (at exit %.1f MB anonymous, %.1f MB files)", float64(r.AnonKB)/1024, float64(r.FileKB)/1024)
	}
	if r.Err != "" {
		fmt.Fprintf(&b, " FAILED: %s", r.Err)
	}
	return b.String()
}

// bench holds what every run needs.
type bench struct {
	daemon    []string // argv of the daemon
	daemonEnv []string
	relay     []string            // argv of the one-frame-per-delta relay
	floor     []string            // argv of the startup floor
	peers     map[string][]string // argv of each SDK peer built, but the base URL and message
	mockURL   string              // http://127.0.0.1:PORT
	curl      string
	timeout   time.Duration // for one run
	end       time.Time     // of the whole bench
	ids       atomic.Int64  // for workspaces and mock ids
	cfg       *config
	store     *storeInfo // built once for the store scenario
	mockCmd   *exec.Cmd
	mockIn    io.WriteCloser

	// What the bench is doing, for the message of a -timeout that ran out,
	// and whether it ran out: the watchdog sets it before it kills the
	// children, so that what they leave unfinished is put down to it.
	mu      sync.Mutex
	phase   string
	overdue bool
}

// abortGrace is how long the bench has to return once its -timeout ran out
// and its children were killed, before it exits.
const abortGrace = 30 * time.Second

// now records what the bench is doing.
func (b *bench) now(phase string) {
	b.mu.Lock()
	b.phase = phase
	b.mu.Unlock()
}

// doing returns what the bench is doing.
func (b *bench) doing() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.phase
}

// expire records that the -timeout ran out.
func (b *bench) expire() {
	b.mu.Lock()
	b.overdue = true
	b.mu.Unlock()
}

// expired reports whether the -timeout ran out.
func (b *bench) expired() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overdue || time.Now().After(b.end)
}

func (b *bench) deadline() time.Time {
	d := time.Now().Add(b.timeout)
	if d.After(b.end) {
		return b.end
	}
	return d
}

func (b *bench) uniq() int64 { return b.ids.Add(1) }

// A stream is one reply the mock sends.
type stream struct {
	format string // "openai" or "anthropic"
	mock   mockConfig
	work   time.Duration // the consumer's spin per frame (per line for curl)
}

func (s stream) verifier() verifier {
	switch {
	case s.mock.ts:
		return newStampVerifier(s.mock.chunks)
	case s.mock.tag != "":
		return newTaggedVerifier(s.mock.tag, s.mock.chunks)
	}
	return newTokenVerifier()
}

func (s stream) message() string { return "bench " + s.mock.directive() }

// finishLatency fills the latency fields from a stamp verifier.
func (r *Run) finishLatency(v verifier) {
	sv, ok := v.(*stampVerifier)
	if !ok || len(sv.lats) == 0 {
		return
	}
	r.FirstLatUs = float64(sv.lats[0]) / 1e3
	l := slices.Clone(sv.lats)
	slices.Sort(l)
	r.LatP50Us = float64(l[pctIndex(len(l), .50)]) / 1e3
	r.LatP99Us = float64(l[pctIndex(len(l), .99)]) / 1e3
	r.LatMaxUs = float64(l[len(l)-1]) / 1e3
}

func pctIndex(n int, p float64) int { return int(float64(n-1) * p) }

// busy spins for d, as a consumer busy with each frame would.
func busy(d time.Duration) {
	if d <= 0 {
		return
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// curlRun runs piped curl against the mock: the floor. The bench reads its
// output line by line, picks out each delta's text as it does the
// daemon's, and checks it.
func (b *bench) curlRun(scenario string, s stream) Run {
	body, _ := json.Marshal(map[string]any{"model": "mock", "stream": true, "max_tokens": 1024,
		"messages": []map[string]string{{"role": "user", "content": s.message()}}})
	url, key := b.mockURL+"/v1/chat/completions", []byte(`"delta":{"content":"`)
	if s.format == "anthropic" {
		url, key = b.mockURL+"/v1/messages", []byte(`"type":"text_delta","text":"`)
	}
	cmd := exec.Command(b.curl, "-sN", "--noproxy", "*", "--max-time", strconv.Itoa(int(b.timeout.Seconds())),
		"-X", "POST", "-H", "Content-Type: application/json", "-d", string(body), url)
	return b.lineRun(Run{Scenario: scenario, Peer: "curl"}, cmd, s, func(line []byte) (delta []byte, end bool) {
		if i := bytes.Index(line, key); i >= 0 {
			t := line[i+len(key):]
			if j := bytes.IndexByte(t, '"'); j >= 0 {
				return t[:j], false
			}
			return nil, false
		}
		return nil, bytes.HasPrefix(line, []byte("data: [DONE]")) || bytes.Contains(line, []byte(`"type":"message_stop"`))
	})
}

// lineRun runs cmd, a peer that writes the stream s to its stdout a line at
// a time, and reads it as an editor would: parse picks out of each line
// the delta's text, or says the line ends the stream. Each delta is
// checked, timed when stamped, and followed by the scenario's work.
func (b *bench) lineRun(r Run, cmd *exec.Cmd, s stream, parse func(line []byte) (delta []byte, end bool)) Run {
	outR, outW, err := os.Pipe()
	if err != nil {
		r.fail(err)
		return r
	}
	defer outR.Close()
	outR.SetReadDeadline(b.deadline())
	cmd.Stdout = outW
	stderr := &tail{}
	cmd.Stderr = stderr
	v := s.verifier()
	_, ts := v.(*stampVerifier)
	started := time.Now()
	err = start(cmd, r.Peer)
	outW.Close()
	if err != nil {
		r.fail(err)
		return r
	}
	rd := bufio.NewReaderSize(outR, 256<<10)
	done, lines := false, 0
	for {
		line, err := rd.ReadSlice('\n')
		if delta, end := parse(line); delta != nil {
			// The peer may be gone by the time its last line is read:
			// its memory is read along the way, VmHWM only grows.
			if lines%8192 == 0 {
				if m := memoryOf(cmd.Process.Pid); m.PeakKB > 0 {
					r.memory = m
				}
			}
			lines++
			var now int64
			if ts || r.FirstMs == 0 {
				n := time.Now()
				now = n.UnixNano()
				if r.FirstMs == 0 {
					r.FirstMs = ms(n.Sub(started))
				}
			}
			v.feed(delta, now)
			busy(s.work)
		} else if end {
			done = true
			if m := memoryOf(cmd.Process.Pid); m.PeakKB > 0 {
				r.memory = m
			}
		}
		if err != nil {
			if err != io.EOF {
				r.fail(fmt.Errorf("read: %w", err))
				_ = cmd.Process.Kill()
			}
			break
		}
	}
	werr := wait(cmd, 5*time.Second)
	r.WallMs = ms(time.Since(started))
	if werr != nil {
		r.fail(fmt.Errorf("%s: %w: %s", r.Peer, werr, stderr.String()))
	}
	if !done {
		r.fail(fmt.Errorf("the stream ended without its end marker: %s", stderr.String()))
	}
	r.usage = usageOf(cmd.ProcessState)
	r.Deltas = v.deltas()
	r.fail(v.check(s.mock.chunks))
	r.finishLatency(v)
	return r
}

// editorRun runs one chat/send through the daemon (or the relay in argv),
// the bench acting as the editor: initialize, chat/send, every chat/delta
// until the response, shutdown, exit.
func (b *bench) editorRun(scenario, peer string, argv, env []string, s stream) Run {
	r := Run{Scenario: scenario, Peer: peer}
	e, err := startEditor(argv, env, b.deadline())
	if err != nil {
		r.fail(err)
		return r
	}
	result, err := b.chat(e, &r, s)
	if !e.finish(&r, err) {
		return r
	}
	// The reply in the response must be the one the deltas made.
	text, err := resultText(result)
	if err != nil {
		r.fail(err)
		return r
	}
	v := s.verifier()
	v.feed([]byte(text), 0)
	if err := v.check(s.mock.chunks); err != nil {
		r.fail(fmt.Errorf("the response's text: %w", err))
	}
	return r
}

// chat runs one chat/send and reads its deltas, checking them; it returns
// a copy of the response.
func (b *bench) chat(e *editor, r *Run, s stream) ([]byte, error) {
	init, err := e.initialize()
	if err != nil {
		return nil, err
	}
	r.InitMs = ms(init)
	params := map[string]any{"message": s.message(), "provider": s.format, "workspace": fmt.Sprintf("/bench/%s/%d", r.Scenario, b.uniq())}
	v := s.verifier()
	_, ts := v.(*stampVerifier)
	sent := time.Now()
	if err := e.request(2, "chat/send", params); err != nil {
		return nil, err
	}
	var session string
	for {
		body, err := e.readFrame()
		if err != nil {
			return nil, fmt.Errorf("after %d deltas: %w", v.deltas(), err)
		}
		m, err := parseMessage(body)
		if err != nil {
			return nil, err
		}
		switch {
		case m.kind == kindDelta:
			var now int64
			if ts || r.Frames == 0 {
				n := time.Now()
				now = n.UnixNano()
				if r.Frames == 0 {
					r.FirstMs = ms(n.Sub(sent))
					session = string(m.sessionID)
				}
			}
			switch {
			case m.requestID != 2:
				return nil, fmt.Errorf("a chat/delta for request %d; only 2 was sent", m.requestID)
			case m.seq != int64(r.Frames):
				return nil, fmt.Errorf("chat/delta seq %d where %d was due", m.seq, r.Frames)
			case string(m.sessionID) != session:
				return nil, fmt.Errorf("chat/delta for session %q, then %q", session, m.sessionID)
			}
			r.Frames++
			v.feed(m.text, now)
			busy(s.work)
		case m.kind == kindResponse && m.id == 2:
			r.StreamMs = ms(time.Since(sent))
			result := bytes.Clone(body)
			r.Deltas = v.deltas()
			r.finishLatency(v)
			if err := v.check(s.mock.chunks); err != nil {
				rerr := ""
				if res, derr := decodeResponse(result); derr == nil && res.Error != nil {
					rerr = fmt.Sprintf(" (chat/send answered %d %s)", res.Error.Code, res.Error.Message)
				}
				return nil, fmt.Errorf("%w%s", err, rerr)
			}
			return result, nil
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
