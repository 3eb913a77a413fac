package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// cancelRun starts n long streams in one daemon, one after the other, and
// cancels each once its first deltas are in: the time from writing
// $/cancelRequest to the mock seeing the connection close, and to the
// -32800 answer.
func (b *bench) cancelRun(scenario string, n int) Run {
	r := Run{Scenario: scenario, Peer: "tinychat"}
	e, err := startEditor(b.daemon, b.daemonEnv, b.deadline())
	if err != nil {
		r.fail(err)
		return r
	}
	e.finish(&r, b.cancels(e, &r, n))
	return r
}

func (b *bench) cancels(e *editor, r *Run, n int) error {
	init, err := e.initialize()
	if err != nil {
		return err
	}
	r.InitMs = ms(init)
	for k := 0; k < n; k++ {
		id := int64(1000 + k)
		mid := fmt.Sprintf("c%d", b.uniq())
		c := mockConfig{chunks: 1000000, pace: time.Millisecond, flush: 1, id: mid}
		if err := e.request(id, "chat/send", map[string]any{"message": stream{mock: c}.message(), "provider": "openai",
			"workspace": fmt.Sprintf("/bench/%s/%s", r.Scenario, mid)}); err != nil {
			return err
		}
		// Cancel once a few deltas are in: the stream is under way.
		var stray error
		check := func(m *message) {
			if m.kind == kindDelta && m.requestID != id && stray == nil {
				stray = fmt.Errorf("a chat/delta for request %d after its answer", m.requestID)
			}
		}
		deltas := 0
		for deltas < 3 {
			body, err := e.readFrame()
			if err != nil {
				return fmt.Errorf("cancel %d: waiting for deltas: %w", k, err)
			}
			m, err := parseMessage(body)
			if err != nil {
				return err
			}
			check(&m)
			switch {
			case m.kind == kindDelta && m.requestID == id:
				deltas++
			case m.kind == kindResponse && m.id == id:
				return fmt.Errorf("cancel %d: chat/send answered before the cancel: %s", k, clip(body, 200))
			}
		}
		t0 := time.Now()
		if err := e.notify("$/cancelRequest", map[string]any{"id": id}); err != nil {
			return err
		}
		body, err := e.await(id, check)
		if err != nil {
			return fmt.Errorf("cancel %d: %w", k, err)
		}
		if stray != nil {
			return stray
		}
		answered := time.Since(t0)
		res, err := decodeResponse(body)
		if err != nil {
			return err
		}
		if res.Error == nil || res.Error.Code != -32800 {
			return fmt.Errorf("cancel %d: chat/send answered %s, not -32800", k, clip(body, 200))
		}
		closed, err := b.mockClosed(mid)
		if err != nil {
			return fmt.Errorf("cancel %d: %w", k, err)
		}
		r.CloseUs = append(r.CloseUs, float64(closed-t0.UnixNano())/1e3)
		r.AnswerUs = append(r.AnswerUs, float64(answered.Nanoseconds())/1e3)
	}
	return nil
}

// mockClosed asks the mock when the client of request id closed its
// connection (unix ns).
func (b *bench) mockClosed(id string) (int64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(b.mockURL + "/_mock/closed?wait=3s&id=" + id)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the mock saw no close of the provider request: %s", bytes.TrimSpace(body))
	}
	return strconv.ParseInt(string(bytes.TrimSpace(body)), 10, 64)
}
