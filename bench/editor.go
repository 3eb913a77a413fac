package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// editor is the bench in the role of an editor: it starts the daemon (or
// the baseline relay), writes LSP-framed JSON-RPC to its stdin and reads
// frames from its stdout, through pipes whose reads and writes all give up
// at a deadline.
type editor struct {
	cmd    *exec.Cmd
	in     *os.File
	out    *os.File
	r      *bufio.Reader
	body   []byte // the last frame read; reused
	wbuf   []byte
	stderr *tail
	start  time.Time // just before the process was started
	mem    memory    // just before exit
}

// startEditor starts argv with env and gives up on reads and writes at
// deadline.
func startEditor(argv, env []string, deadline time.Time) (*editor, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	e := &editor{cmd: cmd, in: inW, out: outR, r: bufio.NewReaderSize(outR, 256<<10), stderr: &tail{}}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, e.stderr
	e.in.SetWriteDeadline(deadline)
	e.out.SetReadDeadline(deadline)
	e.start = time.Now()
	err = start(cmd, argv[0])
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return e, nil
}

// send writes one message, framed, in one write.
func (e *editor) send(body []byte) error {
	e.wbuf = append(e.wbuf[:0], "Content-Length: "...)
	e.wbuf = strconv.AppendInt(e.wbuf, int64(len(body)), 10)
	e.wbuf = append(e.wbuf, "\r\n\r\n"...)
	e.wbuf = append(e.wbuf, body...)
	_, err := e.in.Write(e.wbuf)
	return err
}

func (e *editor) request(id int64, method string, params any) error {
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	return e.send(b)
}

func (e *editor) notify(method string, params any) error {
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	if err != nil {
		return err
	}
	return e.send(b)
}

// initialize sends initialize and waits for its answer; it returns the
// time from process start to that answer.
func (e *editor) initialize() (time.Duration, error) {
	if err := e.request(1, "initialize", map[string]any{"processId": os.Getpid(), "rootUri": nil, "capabilities": map[string]any{}}); err != nil {
		return 0, err
	}
	if _, err := e.await(1, nil); err != nil {
		return 0, fmt.Errorf("initialize: %w", err)
	}
	return time.Since(e.start), nil
}

// await reads frames until the response to id, giving every other message
// to other (when not nil). It returns the response's body, which the next
// read overwrites.
func (e *editor) await(id int64, other func(m *message)) ([]byte, error) {
	for {
		body, err := e.readFrame()
		if err != nil {
			return nil, err
		}
		m, err := parseMessage(body)
		if err != nil {
			return nil, err
		}
		if m.kind == kindResponse && m.id == id {
			return body, nil
		}
		if other != nil {
			other(&m)
		}
	}
}

// readFrame reads the next frame's body.
func (e *editor) readFrame() ([]byte, error) {
	n := -1
	for {
		line, err := e.r.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if n >= 0 {
				break
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil || n < 0 {
				return nil, fmt.Errorf("bad header %q", line)
			}
		}
	}
	if cap(e.body) < n {
		e.body = make([]byte, n, n+n/2)
	}
	e.body = e.body[:n]
	if _, err := io.ReadFull(e.r, e.body); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return e.body, nil
}

// stop ends the session as an editor does (shutdown, exit, end of input),
// reads what is left and waits for the process. It returns the kernel's
// account of the process.
func (e *editor) stop() (usage, error) {
	err := e.request(1<<40, "shutdown", nil)
	if err == nil {
		_, err = e.await(1<<40, nil)
	}
	if err == nil {
		e.mem = memoryOf(e.cmd.Process.Pid)
		err = e.notify("exit", nil)
	}
	e.in.Close()
	// What follows exit is nothing, or the close of the pipe.
	io.Copy(io.Discard, e.r)
	e.out.Close()
	if werr := wait(e.cmd, 5*time.Second); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return usage{}, fmt.Errorf("stop: %w%s", err, e.stderrNote())
	}
	return usageOf(e.cmd.ProcessState), nil
}

// kill ends the process without ceremony, after a failure.
func (e *editor) kill() {
	e.in.Close()
	_ = e.cmd.Process.Kill()
	e.out.Close()
	_ = wait(e.cmd, 5*time.Second)
}

func (e *editor) stderrNote() string {
	s := e.stderr.String()
	if s == "" {
		return ""
	}
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return "; stderr: " + s
}

// finish ends the daemon of a run: killed when the run failed with err,
// else stopped, with its wall time, CPU and memory recorded. It reports
// whether the run went well so far.
func (e *editor) finish(r *Run, err error) bool {
	if err != nil {
		r.fail(fmt.Errorf("%w%s", err, e.stderrNote()))
		e.kill()
		return false
	}
	u, err := e.stop()
	r.WallMs = ms(time.Since(e.start))
	r.usage, r.memory = u, e.mem
	r.fail(err)
	return err == nil
}
