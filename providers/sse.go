package providers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tmaxmax/go-sse"
)

// Limits on what is read from a provider.
const (
	maxModelsBody = 8 << 20
	// drainTimeout bounds the read of what follows an end marker.
	drainTimeout = 500 * time.Millisecond
)

// readConfig raises go-sse's 64 KiB default event size, which large events
// exceed.
var readConfig = sse.ReadConfig{MaxEventSize: 1 << 20}

// errStalled is the cause given when an attempt's own timer cancels it.
var errStalled = errors.New("stalled")

// client is the HTTP plumbing that all the providers of a Registry share,
// so that connections are pooled across them and across requests.
type client struct {
	http      *http.Client
	retry     retryPolicy
	firstByte time.Duration // from sending a request to its first event
	idle      time.Duration // between two events
	log       *slog.Logger
}

// A wire is one provider's wire format. Everything else about a request
// (HTTP, SSE, retries, timeouts) is shared.
type wire interface {
	// setHeaders sets the headers that carry key (none when key is "", for
	// a server that takes no key), and any others the API requires on
	// every request.
	setHeaders(h http.Header, key string)
	// encode returns the JSON body that asks model for a streamed reply to
	// req.
	encode(req *Request, model string) ([]byte, error)
	// newDecoder returns a decoder for the events of one stream.
	newDecoder() decoder
}

// A modelLister is a wire whose models list is not OpenAI's {"data":
// [{"id"}]}, which OpenAI, Mistral and Anthropic share.
type modelLister interface {
	// decodeModels reads the model ids out of a models list.
	decodeModels(r io.Reader) ([]string, error)
}

// A decoder reads the events of one stream.
type decoder interface {
	// decode reads one event, of type typ ("" when unnamed), into p: what
	// it tells of the whole reply, and the Events it carries, added with
	// p.add. It returns an *Error when the event reports a failure, any
	// other error when the event cannot be decoded.
	decode(typ, data string, p *progress) error
}

// progress is what the events of one stream have told so far.
type progress struct {
	Result
	events   []Event // those of the event being decoded, in order
	refused  bool    // refusal text came: the reply is a refusal however it ends
	complete bool    // an end marker was seen: the reply is whole even if the stream stops here
	ended    bool    // nothing more is expected: stop reading
}

// add records an event of the stream's current event. Empty text is no
// event, except for a tool call's first fragment, which names the call.
func (p *progress) add(kind EventKind, text string) {
	if text != "" {
		p.events = append(p.events, Event{Kind: kind, Text: text})
	}
}

// addCall records a fragment of tool call n: its id and name with the
// first, a piece of its arguments with each.
func (p *progress) addCall(n int, id, name, args string) {
	if id == "" && name == "" && args == "" {
		return
	}
	p.events = append(p.events, Event{Kind: EventToolCall, Call: n, ID: id, Name: name, Text: args})
	for len(p.ToolCalls) <= n {
		p.ToolCalls = append(p.ToolCalls, ToolCall{})
	}
	c := &p.ToolCalls[n]
	if id != "" {
		c.ID = id
	}
	if name != "" {
		c.Name = name
	}
	c.Arguments += args
}

// stop records how the reply ended and that it is whole. A reply that
// refused, however its provider ends it then, ended by refusal.
func (p *progress) stop(reason string) {
	if p.refused && reason == StopEnd {
		reason = StopRefusal
	}
	p.StopReason, p.complete = reason, true
}

// jsonDecoder decodes the JSON value of one event after another. Unlike
// json.Unmarshal, which starts afresh each time, it keeps its json.Decoder
// and so the scratch space of the last event: decoding a delta then
// allocates little more than the delta's text.
type jsonDecoder struct {
	r   strings.Reader
	dec *json.Decoder
	fed int64 // bytes given to dec so far
}

// decode decodes data, which must hold exactly one JSON value, into v.
func (j *jsonDecoder) decode(data string, v any) error {
	if j.dec == nil {
		j.dec, j.fed = json.NewDecoder(&j.r), 0
	}
	j.r.Reset(data)
	j.fed += int64(len(data))
	err := j.dec.Decode(v)
	if err == nil {
		// The value ends in data. Anything but JSON whitespace after it
		// would otherwise be taken for the start of the next event.
		rest := data[len(data)-int(j.fed-j.dec.InputOffset()):]
		if strings.Trim(rest, " \t\r\n") != "" {
			err = fmt.Errorf("more after the JSON value: %q", clip(rest))
		}
	}
	if err != nil {
		j.dec = nil // a json.Decoder that failed stays failed
	}
	return err
}

// httpProvider is a Provider reached over HTTP: an API and its wire format
// (the spec), a key and a base URL.
type httpProvider struct {
	*spec
	key         string // "" for a server that takes none
	base        string
	headers     http.Header // sent with every request
	fixedModels []string    // if set, what Models returns without asking
	c           *client
}

// Name implements Provider.
func (p *httpProvider) Name() string { return p.name }

// DefaultModel implements Provider.
func (p *httpProvider) DefaultModel() string { return p.model }

// Stream implements Provider. It retries a failed attempt (see retryPolicy)
// as long as no event reached onEvent.
func (p *httpProvider) Stream(ctx context.Context, req *Request, onEvent func(Event)) (*Result, error) {
	model := cmp.Or(req.Model, p.model)
	body, err := p.wire.encode(req, model)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", p.name, err)
	}
	path := strings.ReplaceAll(p.chatPath, "{model}", url.PathEscape(model))
	var res *Result
	err = p.c.retry.run(ctx, p.name, req.OnRetry, func() (started bool, err error) {
		res, started, err = p.stream(ctx, path, body, req.Flush, onEvent)
		return started, err
	})
	if err != nil {
		return nil, err
	}
	res.Model = cmp.Or(res.Model, model)
	res.StopReason = cmp.Or(res.StopReason, StopEnd)
	return res, nil
}

// stream makes one attempt at a reply. started reports whether any event
// reached onEvent.
func (p *httpProvider) stream(ctx context.Context, path string, body []byte, flush func(bool), onEvent func(Event)) (res *Result, started bool, err error) {
	defer func() { err = p.fail(err) }()

	// One timer guards the whole attempt: first the wait for the first
	// event, then each gap between events. Firing, it cancels the request,
	// which closes the connection and so ends any read in progress.
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	firstByte, idle := p.c.timeouts(ctx)
	limit := firstByte
	timer := time.AfterFunc(limit, func() { cancel(errStalled) })
	defer timer.Stop()

	resp, err := p.send(actx, http.MethodPost, path, "text/event-stream", body)
	if err != nil {
		return nil, false, p.cut(ctx, actx, limit, connectionError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, false, statusError(resp)
	}

	dec := p.wire.newDecoder()
	var prog progress
	var src io.Reader = resp.Body
	if flush != nil {
		defer flush(false)
		src = &flushReader{r: resp.Body, flush: flush}
	}
	for ev, rerr := range sse.Read(src, &readConfig) {
		if rerr != nil {
			err = rerr
			break
		}
		limit = idle
		timer.Reset(limit)
		prog.events = prog.events[:0]
		derr := dec.decode(ev.Type, ev.Data, &prog)
		for _, e := range prog.events {
			started = true
			onEvent(e)
		}
		if perr, ok := derr.(*Error); ok {
			return nil, started, perr
		}
		if derr != nil {
			return nil, started, &Error{Type: "invalid_event", Message: "cannot decode an event: " + derr.Error()}
		}
		if prog.ended {
			// Providers end the body right after the end marker. Reading on
			// to that end lets the connection go back to the pool rather
			// than being closed.
			timer.Reset(drainTimeout)
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			break
		}
	}
	if prog.complete && ctx.Err() == nil {
		return &prog.Result, started, nil
	}
	msg := "the stream ended before its end marker"
	if err != nil {
		msg += ": " + err.Error()
	}
	return nil, started, p.cut(ctx, actx, limit, &Error{Type: "truncated_stream", Message: msg, Retryable: true})
}

// flushReader calls flush before each read of the body: go-sse reads only
// once it has passed on every event it had. A read that filled the buffer
// it was given left more to read at once: the next is then announced as
// one that will not wait.
type flushReader struct {
	r     io.Reader
	flush func(bool)
	more  bool // the last read filled its buffer
}

func (f *flushReader) Read(b []byte) (int, error) {
	f.flush(!f.more)
	n, err := f.r.Read(b)
	f.more = n == len(b)
	return n, err
}

// Models implements Provider. Models set in the configuration file are
// returned as they are, without asking the provider.
func (p *httpProvider) Models(ctx context.Context) ([]string, error) {
	if p.fixedModels != nil {
		return slices.Clone(p.fixedModels), nil
	}
	var ids []string
	err := p.c.retry.run(ctx, p.name, nil, func() (started bool, err error) {
		ids, err = p.models(ctx)
		return false, err
	})
	return ids, err
}

// models makes one attempt at listing the models. The first-byte timeout
// bounds the whole of it.
func (p *httpProvider) models(ctx context.Context) (ids []string, err error) {
	defer func() { err = p.fail(err) }()
	limit, _ := p.c.timeouts(ctx)
	actx, cancel := context.WithTimeoutCause(ctx, limit, errStalled)
	defer cancel()
	resp, err := p.send(actx, http.MethodGet, p.modelsPath, "application/json", nil)
	if err != nil {
		return nil, p.cut(ctx, actx, limit, connectionError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, statusError(resp)
	}
	decode := decodeModels
	if l, ok := p.wire.(modelLister); ok {
		decode = l.decodeModels
	}
	ids, err = decode(io.LimitReader(resp.Body, maxModelsBody))
	if err != nil {
		return nil, p.cut(ctx, actx, limit, &Error{Status: resp.StatusCode, Type: "invalid_response", Message: "cannot decode the models list: " + err.Error()})
	}
	return ids, nil
}

// decodeModels reads the models list of OpenAI, Mistral and Anthropic:
// {"data": [{"id"}]}.
func decodeModels(r io.Reader) ([]string, error) {
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r).Decode(&list); err != nil {
		return nil, err
	}
	ids := make([]string, len(list.Data))
	for i, m := range list.Data {
		ids[i] = m.ID
	}
	return ids, nil
}

// send sends one request to path under the base URL.
func (p *httpProvider) send(ctx context.Context, method, path, accept string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	p.wire.setHeaders(req.Header, p.key)
	for k, v := range p.headers {
		req.Header[k] = slices.Clone(v)
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := p.c.http.Do(req)
	if err == nil {
		p.c.log.Debug("provider request", "provider", p.name, "method", method, "path", path,
			"status", resp.StatusCode, "elapsed", time.Since(start))
	}
	return resp, err
}

// cut explains why an attempt stopped early: the caller cancelled ctx, or
// the attempt's own timer (at limit) cancelled actx, or else e happened.
func (p *httpProvider) cut(ctx, actx context.Context, limit time.Duration, e *Error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", p.name, ctx.Err())
	case context.Cause(actx) == errStalled:
		return &Error{Type: "timeout", Message: fmt.Sprintf("nothing received for %v", limit), Retryable: true}
	}
	return e
}

// connectionError is the *Error for a request that got no response.
func connectionError(err error) *Error {
	return &Error{Type: "connection", Message: err.Error(), Retryable: true}
}

// fail finishes an error on its way out: an *Error learns which provider
// it comes from, and loses any copy of the key the provider echoed back.
func (p *httpProvider) fail(err error) error {
	var e *Error
	if errors.As(err, &e) {
		e.Provider = p.name
		e.Message = redact(e.Message, p.key)
	}
	return err
}
