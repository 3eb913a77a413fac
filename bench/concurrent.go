package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// concurrentRun sends n chat/send at once to one daemon, each to its own
// workspace and with its own tagged text, and checks that every delta
// reaches its request, in order, unmixed.
func (b *bench) concurrentRun(scenario string, n int, per mockConfig) Run {
	r := Run{Scenario: scenario, Peer: "tinychat", Streams: n}
	e, err := startEditor(b.daemon, b.daemonEnv, b.deadline())
	if err != nil {
		r.fail(err)
		return r
	}
	e.finish(&r, b.concurrent(e, &r, n, per))
	return r
}

type concurrentStream struct {
	v         *taggedVerifier
	session   string
	messageID string
	seq       int64
	done      bool
	last      time.Time // of its latest delta
}

func (b *bench) concurrent(e *editor, r *Run, n int, per mockConfig) error {
	init, err := e.initialize()
	if err != nil {
		return err
	}
	r.InitMs = ms(init)
	b.mockStats(true)
	const first = 100
	streams := make([]*concurrentStream, n)
	bodies := make([][]byte, n)
	run := b.uniq()
	for i := range streams {
		c := per
		c.tag = fmt.Sprintf("r%d", i)
		streams[i] = &concurrentStream{v: newTaggedVerifier(c.tag, c.chunks)}
		bodies[i], _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": first + i, "method": "chat/send", "params": map[string]any{
			"message": stream{mock: c}.message(), "provider": "openai", "workspace": fmt.Sprintf("/bench/%s/%d/%d", r.Scenario, run, i)}})
	}
	// The requests are written by another goroutine while this one reads,
	// as an editor's would be: the daemon answers while they arrive.
	sent := time.Now()
	werr := make(chan error, 1)
	go func() {
		w := &editor{in: e.in}
		for _, body := range bodies {
			if err := w.send(body); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	sessions := map[string]int{}
	var firsts, tails []float64
	answered := 0
	var problems []string
	problem := func(format string, args ...any) {
		if len(problems) < 5 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for answered < n {
		body, err := e.readFrame()
		if err != nil {
			return fmt.Errorf("%d of %d answered: %w", answered, n, err)
		}
		m, err := parseMessage(body)
		if err != nil {
			return err
		}
		switch m.kind {
		case kindDelta:
			i := int(m.requestID) - first
			if i < 0 || i >= n || streams[i].done {
				problem("a chat/delta for request %d, which is not streaming", m.requestID)
				continue
			}
			st := streams[i]
			if st.seq == 0 {
				st.session, st.messageID = string(m.sessionID), string(m.messageID)
				if j, dup := sessions[st.session]; dup {
					problem("requests %d and %d stream to one session", first+j, m.requestID)
				}
				sessions[st.session] = i
			}
			if m.seq != st.seq || string(m.sessionID) != st.session || string(m.messageID) != st.messageID {
				problem("request %d: chat/delta seq %d session %q message %q after seq %d session %q message %q",
					m.requestID, m.seq, m.sessionID, m.messageID, st.seq-1, st.session, st.messageID)
			}
			st.seq++
			now := time.Now()
			if st.last.IsZero() {
				firsts = append(firsts, ms(now.Sub(sent)))
			}
			st.last = now
			r.Frames++
			st.v.feed(m.text, 0)
		case kindResponse:
			i := int(m.id) - first
			if i < 0 || i >= n || streams[i].done {
				continue // initialize's, or a stray one
			}
			st := streams[i]
			st.done = true
			if !st.last.IsZero() {
				tails = append(tails, ms(time.Since(st.last)))
			}
			answered++
			res, err := decodeResponse(body)
			switch {
			case err != nil:
				problem("request %d: %v", m.id, err)
			case res.Error != nil:
				problem("request %d: chat/send failed: %d %s", m.id, res.Error.Code, res.Error.Message)
			case res.Result.SessionID != st.session || res.Result.MessageID != st.messageID:
				problem("request %d: answered for session %q message %q, its deltas came for %q %q",
					m.id, res.Result.SessionID, res.Result.MessageID, st.session, st.messageID)
			case res.Result.Text != string(st.v.got):
				problem("request %d: the response's text is not what its deltas made", m.id)
			default:
				if err := st.v.check(per.chunks); err != nil {
					problem("request %d: %v", m.id, err)
				} else {
					r.StreamsOK++
				}
			}
			r.Deltas += st.v.deltas()
		}
	}
	r.StreamMs = ms(time.Since(sent))
	r.FirstP50Ms, r.FirstMaxMs = percentile(firsts, .5), percentile(firsts, 1)
	r.TailP50Ms, r.TailMaxMs = percentile(tails, .5), percentile(tails, 1)
	if err := <-werr; err != nil {
		return err
	}
	if st, err := b.mockStats(false); err == nil {
		r.PeakUpstream = st.Peak
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d of %d streams whole and unmixed: %s", r.StreamsOK, n, strings.Join(problems, "; "))
	}
	return nil
}

type mockStatsReply struct {
	Served, Inflight, Peak int
}

func (b *bench) mockStats(reset bool) (mockStatsReply, error) {
	var st mockStatsReply
	url := b.mockURL + "/_mock/stats"
	if reset {
		url += "?reset=1"
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}
