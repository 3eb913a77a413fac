// Package rpc is tinychat's JSON-RPC 2.0 server: framing, the connection,
// lifecycle, and one file per method family. Handlers decode params, call
// the chat, session and providers packages, and return their results; the
// work lives there. The protocol's wire types are in protocol.go.
package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/tinychat/tinychat/chat"
	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
	"github.com/tinychat/tinychat/tools"
)

// Options configure a Server.
type Options struct {
	JSONL          bool // newline-delimited JSON instead of LSP framing
	MaxMessageSize int  // 0 means DefaultMaxMessageSize
	MaxReplyBytes  int  // 0 means chat.DefaultMaxReplyBytes
	Store          *session.Store
	Providers      *providers.Registry
	Workspace      string // the default workspace until initialize names one; "" means the working directory
	Version        string
	Settings       chat.Settings // from the config file; initializationOptions override them
	// Tools, when set, are offered to models under Policy, for at most
	// MaxToolSteps rounds of calls a turn (0: chat.DefaultMaxToolSteps).
	Tools        chat.Toolbox
	Policy       tools.Policy
	MaxToolSteps int
	Logger       *slog.Logger // nil: discard
	// LogHandler, when it is the handler behind Logger, also sends warnings to
	// the editor as window/logMessage.
	LogHandler *LogHandler
}

// Server serves one connection.
type Server struct {
	opts    Options
	log     *slog.Logger
	chat    *chat.Engine
	stream  *stream
	methods map[string]method

	wg sync.WaitGroup // requests running in their own goroutine

	mu          sync.Mutex
	workspace   string
	settings    chat.Settings
	limits      providers.Limits // retries and timeouts from initializationOptions
	initialized bool
	canAsk      bool // the client answers chat/requestPermission
	shutdown    bool
	exitCode    int
	inflight    map[id]context.CancelFunc // requests being served, by id
	streaming   map[string]id             // session id -> its chat/send
	calls       map[id]chan *response     // the daemon's own requests, waiting for their answers
	lastCall    int64                     // the id of the daemon's last request
}

// method is a request handler. Async ones run in their own goroutine with
// their own context, so that a slow provider or a search of a large store
// never blocks the connection, and can be cancelled; the rest run in order
// on the reading goroutine, which keeps a script's session/new before its
// session/list.
type method struct {
	handle func(ctx context.Context, req *request) (any, error)
	async  bool
}

// Serve reads requests from in and writes to out until the input ends, the
// client sends exit or ctx is done, and returns the process exit code: 0
// after shutdown and exit, at the end of the input or when ctx is done, 1
// for exit without shutdown. Replies still streaming when it stops are
// cancelled and saved first.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts Options) int {
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		workspace: opts.Workspace,
		settings:  opts.Settings,
		inflight:  map[id]context.CancelFunc{},
		streaming: map[string]id{},
		calls:     map[id]chan *response{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.chat = &chat.Engine{Store: opts.Store, Providers: opts.Providers, Tools: opts.Tools, Policy: opts.Policy, MaxToolSteps: opts.MaxToolSteps,
		MaxReplyBytes: opts.MaxReplyBytes, Logger: s.log}
	s.methods = s.methodTable()
	if s.workspace == "" {
		s.workspace, _ = os.Getwd()
	}
	if ws, err := session.NormalizeWorkspace(s.workspace); err == nil {
		s.workspace = ws
	}
	s.stream = newStream(in, out, opts.JSONL, opts.MaxMessageSize)
	if opts.LogHandler != nil {
		opts.LogHandler.attach(s.stream)
		defer opts.LogHandler.attach(nil)
	}
	// A read of the input blocks until the client writes, and closing the
	// input does not end a read of a blocking file (a pipe made stdin):
	// when ctx is done, Serve stops without waiting for the reader, which
	// serves nothing more.
	read := make(chan struct{})
	go func() {
		defer close(read)
		s.read(ctx)
	}()
	select {
	case <-read:
	case <-ctx.Done():
		if c, ok := in.(io.Closer); ok {
			c.Close()
		}
	}
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.cancelAll()
	s.wg.Wait()
	s.chat.Close() // it logs what it could not save
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitCode
}

// methodTable is the methods of s by name, made once per connection.
func (s *Server) methodTable() map[string]method {
	return map[string]method{
		"initialize":     {handle: s.initialize},
		"shutdown":       {handle: s.shutdownRequest},
		"chat/send":      {handle: s.chatSend, async: true},
		"session/list":   {handle: s.sessionList},
		"session/new":    {handle: s.sessionNew},
		"session/get":    {handle: s.sessionGet},
		"session/delete": {handle: s.sessionDelete},
		"session/rename": {handle: s.sessionRename},
		"session/export": {handle: s.sessionExport},
		"session/import": {handle: s.sessionImport},
		"session/search": {handle: s.sessionSearch, async: true},
		"providers/list": {handle: s.providersList},
		"models/list":    {handle: s.modelsList, async: true},
	}
}

// notificationMethods are the methods the client sends as notifications. Sent
// with an id, they are done all the same and answered null.
var notificationMethods = map[string]bool{"$/cancelRequest": true, "chat/cancel": true, "initialized": true, "exit": true}

// read serves messages until the input ends, ctx is done or the client
// sends exit.
func (s *Server) read(ctx context.Context) {
	for {
		body, err := s.stream.next()
		var fe *frameError
		switch {
		case errors.As(err, &fe):
			s.refuse(nil, &fe.refusal)
			continue
		case err != nil:
			return
		}
		if ctx.Err() != nil || s.receive(ctx, body) {
			return
		}
	}
}

// receive serves one message, a request or a batch of them, and reports
// whether the client sent exit.
func (s *Server) receive(ctx context.Context, body []byte) (exit bool) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return false
	case body[0] != '[':
		return s.message(ctx, body, nil)
	}
	var members []json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		s.refuse(nil, &refusal{idNull, jsonrpc2.CodeParseError, "parse error: the message is not valid JSON"})
		return false
	}
	if len(members) == 0 {
		s.refuse(nil, &refusal{idNull, jsonrpc2.CodeInvalidRequest, "invalid request: an empty batch"})
		return false
	}
	b := &batch{s: s, waiting: 1}
	for _, m := range members {
		exit = s.message(ctx, m, b) || exit
	}
	b.done()
	return exit
}

// message serves one message, alone or of batch b, and reports whether it
// was exit.
func (s *Server) message(ctx context.Context, body []byte, b *batch) (exit bool) {
	req, resp, ref := decodeMessage(body)
	switch {
	case ref != nil:
		s.refuse(b, ref)
		return false
	case resp != nil:
		s.answered(resp)
		return false
	}
	req.batch = b
	if notificationMethods[req.Method] {
		switch req.Method {
		case "$/cancelRequest":
			s.cancelRequest(req)
		case "chat/cancel":
			s.chatCancel(req)
		case "exit":
			s.exit()
			exit = true
		}
		if !req.notification() {
			s.reply(req, json.RawMessage("null"), nil)
		}
		return exit
	}
	m, known := s.methods[req.Method]
	switch {
	case req.notification() && known:
		s.log.Warn("a request sent as a notification was not run: it needs an id", "method", req.Method)
		return false
	case req.notification():
		s.log.Debug("ignored notification", "method", req.Method)
		return false
	case !known:
		s.reply(req, nil, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "method not found: " + req.Method})
		return false
	}

	var (
		rctx   context.Context
		cancel context.CancelFunc
	)
	s.mu.Lock()
	down := s.shutdown
	_, busy := s.inflight[req.ID]
	if m.async && !down && !busy {
		// Registered before the goroutine starts, so that a $/cancelRequest
		// read right after this request always finds it, and under the lock
		// with which Serve stops, so that none starts after it.
		rctx, cancel = context.WithCancel(providers.WithLimits(ctx, s.limits))
		s.inflight[req.ID] = cancel
		s.wg.Add(1)
	}
	s.mu.Unlock()
	switch {
	case down:
		s.reply(req, nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: "the server is shutting down"})
		return false
	case busy:
		// A second request with the id of one in flight could not be told
		// apart from it by its answer, nor by a cancel.
		s.reply(req, nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest,
			Message: fmt.Sprintf("invalid request: a request with id %s is already in flight", req.ID)})
		return false
	case !m.async:
		res, err := m.handle(ctx, req)
		s.reply(req, res, err)
		return false
	}
	if b != nil {
		b.expect()
	}
	go func() {
		defer s.wg.Done()
		res, err := m.handle(rctx, req)
		// Out of flight before the answer goes: a client may reuse the id
		// as soon as it has the answer.
		s.mu.Lock()
		delete(s.inflight, req.ID)
		s.mu.Unlock()
		cancel()
		s.reply(req, res, err)
		if b != nil {
			b.done()
		}
	}()
	return false
}

// call sends the client a request and decodes its answer's result into
// result. The answer's error, if it has one, is the returned error. When
// ctx is done first, call stops waiting.
func (s *Server) call(ctx context.Context, method string, params, result any) error {
	ch := make(chan *response, 1)
	s.mu.Lock()
	s.lastCall++
	i := id(strconv.FormatInt(s.lastCall, 10))
	s.calls[i] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.calls, i)
		s.mu.Unlock()
	}()
	if err := s.stream.writeJSON(requestMessage{JSONRPC: "2.0", ID: i, Method: method, Params: params}); err != nil {
		return err
	}
	select {
	case resp := <-ch:
		if resp.Error != nil {
			var e jsonrpc2.Error
			if err := json.Unmarshal(resp.Error, &e); err != nil {
				return fmt.Errorf("%s: the client answered an error that is not one: %w", method, err)
			}
			return &e
		}
		return json.Unmarshal(resp.Result, result)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// answered takes a response of the client to one of the daemon's
// requests. One to no such request is ignored.
func (s *Server) answered(resp *response) {
	s.mu.Lock()
	ch := s.calls[resp.ID]
	delete(s.calls, resp.ID)
	s.mu.Unlock()
	if ch == nil {
		s.log.Warn("ignored a response to no request of the daemon", "id", string(orNull(resp.ID)))
		return
	}
	ch <- resp
}

// rawResult is a result already encoded as JSON, in pieces, which go out
// as they are.
type rawResult [][]byte

// reply answers req with res, or with err if it is not nil. A result is
// encoded once and written as it is. An answer larger than the message
// size limit is replaced by an error saying so: no client need read more
// than it may send.
func (s *Server) reply(req *request, res any, err error) {
	var answer [][]byte
	if err == nil {
		raw, ok := res.(rawResult)
		if !ok {
			var b []byte
			b, err = json.Marshal(res)
			raw = rawResult{b}
		}
		if err == nil {
			answer = append(append([][]byte{answerHead(req.ID, "result")}, raw...), []byte("}"))
		}
	}
	if err != nil {
		rerr := toError(err)
		if rerr.Code == jsonrpc2.CodeInternalError {
			s.log.Error("request failed", "method", req.Method, "error", err)
		}
		answer = errorAnswer(req.ID, rerr)
	}
	if n := size(answer); n > s.stream.limit {
		s.log.Error("answer too large", "method", req.Method, "bytes", n, "limit", s.stream.limit)
		answer = errorAnswer(req.ID, tooLarge(n, s.stream.limit))
	}
	s.send(req.batch, req.ID, answer)
}

// refuse answers a message that reached no method, and logs it.
func (s *Server) refuse(b *batch, r *refusal) {
	s.log.Warn("rejected message", "code", r.code, "error", r.msg)
	s.send(b, r.id, errorAnswer(r.id, &jsonrpc2.Error{Code: r.code, Message: r.msg}))
}

// send writes an answer to i, or gives it to its batch.
func (s *Server) send(b *batch, i id, answer [][]byte) {
	if b != nil {
		b.add(i, answer)
		return
	}
	if err := s.stream.writeFrame(answer...); err != nil {
		s.log.Debug("could not send an answer", "error", err)
	}
}

// answerHead starts an answer to i: `{"jsonrpc":"2.0","id":…,"<member>":`.
func answerHead(i id, member string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":` + string(orNull(i)) + `,"` + member + `":`)
}

// errorAnswer is the whole answer to i with e.
func errorAnswer(i id, e *jsonrpc2.Error) [][]byte {
	b, _ := json.Marshal(e) // an Error with JSON data always marshals
	return [][]byte{answerHead(i, "error"), b, []byte("}")}
}

// tooLarge is the error that replaces an answer of n bytes, over limit.
func tooLarge(n, limit int) *jsonrpc2.Error {
	e := &jsonrpc2.Error{Code: jsonrpc2.CodeInternalError,
		Message: fmt.Sprintf("the answer of %d bytes is larger than the message size limit of %d bytes (--max-message-size)", n, limit)}
	e.SetError(map[string]int{"size": n, "limit": limit})
	return e
}

func size(pieces [][]byte) int {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	return n
}

// A batch is a JSON array of messages, answered with one array holding an
// answer for each of them that gets one, once they all have it (none at
// all for a batch of notifications).
type batch struct {
	s *Server

	mu      sync.Mutex
	waiting int      // answers still to come in the background, plus one while the batch is read
	answers [][]byte // in the order they came, each whole
	size    int
}

// expect records an answer to come in the background.
func (b *batch) expect() {
	b.mu.Lock()
	b.waiting++
	b.mu.Unlock()
}

// add takes the answer to i, one of the batch's messages: while the
// batch is read, or in the background for an answer expected.
func (b *batch) add(i id, answer [][]byte) {
	whole := bytes.Join(answer, nil)
	b.mu.Lock()
	// The array, with its brackets and commas, must fit in one message.
	if n := b.size + len(whole) + len(b.answers) + 2; n > b.s.stream.limit {
		whole = bytes.Join(errorAnswer(i, tooLarge(n, b.s.stream.limit)), nil)
	}
	b.answers = append(b.answers, whole)
	b.size += len(whole)
	b.mu.Unlock()
}

// done records that an answer came, or that the batch has been read, and
// writes the array once nothing more is to come.
func (b *batch) done() {
	b.mu.Lock()
	b.waiting--
	last := b.waiting == 0
	b.mu.Unlock()
	if !last || len(b.answers) == 0 {
		return
	}
	out := make([][]byte, 0, 2*len(b.answers)+1)
	for i, a := range b.answers {
		sep := []byte(",")
		if i == 0 {
			sep = []byte("[")
		}
		out = append(out, sep, a)
	}
	out = append(out, []byte("]"))
	if err := b.s.stream.writeFrame(out...); err != nil {
		b.s.log.Debug("could not send a batch's answers", "error", err)
	}
}

func (s *Server) cancelAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.inflight {
		cancel()
	}
}
