package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv marks a process started by the bench to run one of its
// children (the mock, the one-frame-per-delta relay) rather than the
// bench. A test binary, whose flags are the testing package's, looks at it
// in TestMain.
const childEnv = "TINYCHAT_BENCH_CHILD"

// children holds every process the bench has started and not yet waited
// for, so that none outlives it.
var children struct {
	sync.Mutex
	m map[*os.Process]string
}

// start starts cmd, which dies with the bench's thread if the bench dies
// without cleaning up, and tracks it.
func start(cmd *exec.Cmd, name string) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	children.Lock()
	if children.m == nil {
		children.m = map[*os.Process]string{}
	}
	children.m[cmd.Process] = name
	children.Unlock()
	return nil
}

// wait waits up to d for cmd to exit, then kills it.
func wait(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("did not exit within %v: killed", d)
	}
	children.Lock()
	delete(children.m, cmd.Process)
	children.Unlock()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("exited with %v", exit.ProcessState)
	}
	return err
}

// killChildren kills every child still running.
func killChildren() {
	children.Lock()
	defer children.Unlock()
	for p := range children.m {
		_ = p.Kill()
	}
}

// selfCmd runs this program again as one of its children.
func selfCmd(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd, nil
}

// usage is what the kernel counted for one process. Its peak RSS is not
// the process's own: a child started by vfork (as os/exec does) inherits
// its parent's high-water mark at exec, so a small child of the bench shows
// the bench's RSS. Peak RSS is taken from VmHWM instead (memoryOf).
type usage struct {
	MaxRSSKB int64   `json:"rusage_maxrss_kb"`
	UserMs   float64 `json:"user_ms"`
	SysMs    float64 `json:"sys_ms"`
	Switches int64   `json:"context_switches"` // voluntary and not, all threads
}

func (u usage) cpuMs() float64 { return u.UserMs + u.SysMs }

func usageOf(ps *os.ProcessState) usage {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{}
	}
	ms := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e3 + float64(t.Usec)/1e3 }
	return usage{MaxRSSKB: ru.Maxrss, UserMs: ms(ru.Utime), SysMs: ms(ru.Stime), Switches: ru.Nvcsw + ru.Nivcsw}
}

// memory is a running process's peak resident set (VmHWM) and what its
// resident set is now made of, in KiB, from /proc/PID/status.
type memory struct {
	PeakKB int64 `json:"peak_rss_kb,omitempty"`
	AnonKB int64 `json:"rss_anon_kb,omitempty"` // heap, stacks, mmap'd memory
	FileKB int64 `json:"rss_file_kb,omitempty"` // mapped files: the binary's pages
}

func memoryOf(pid int) memory {
	var m memory
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		var kb int64
		fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
		switch k {
		case "VmHWM":
			m.PeakKB = kb
		case "RssAnon":
			m.AnonKB = kb
		case "RssFile":
			m.FileKB = kb
		}
	}
	return m
}

// tail keeps the last bytes written to it: a child's stderr, to show when
// something fails.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-4<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
