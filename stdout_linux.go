//go:build linux && (amd64 || arm64) && !race

package main

import (
	"io"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// quietStdout returns a writer to out, the daemon's stdout, whose writes
// are system calls the Go runtime does not see (RawSyscall) whenever they
// cannot block. A system call the runtime sees wakes its monitor thread
// (sysmon) when the process comes back from idle, as it does at every
// delta of a reply streamed at a provider's pace: two context switches a
// delta that cost 40% of the daemon's CPU at 1 ms a delta (docs/
// performance.md). A raw write that could block would hold the runtime
// still if the editor stopped reading, so a write that finds the editor's
// end full falls back to out's own, blocking, write.
//
// The editors' stdio is a socket (libuv's socketpair: Neovim, VS Code,
// Node) or a pipe (most else). A socket is written with MSG_DONTWAIT; a
// pipe through a descriptor of its own opened non-blocking, so that the
// editor's end keeps its mode. Anything else is written as it was.
func quietStdout(out io.Writer) io.Writer {
	f, ok := out.(*os.File)
	if !ok {
		return out
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return out
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFSOCK:
		return &quietWriter{f: f, fd: f.Fd(), socket: true}
	case syscall.S_IFIFO:
		fd, err := syscall.Open("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			return out
		}
		return &quietWriter{f: f, fd: uintptr(fd)}
	}
	return out
}

type quietWriter struct {
	f      *os.File // out, for the writes that must wait
	fd     uintptr  // written without waiting
	socket bool
}

func (w *quietWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		var n uintptr
		var e syscall.Errno
		if w.socket {
			n, _, e = syscall.RawSyscall6(syscall.SYS_SENDTO, w.fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done), syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
		} else {
			n, _, e = syscall.RawSyscall(syscall.SYS_WRITE, w.fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
		}
		switch e {
		case 0:
			done += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			n, err := w.f.Write(p[done:])
			return done + n, err
		default:
			// EPIPE among them: the editor is gone, which the daemon
			// hears as an error here rather than as SIGPIPE.
			return done, &os.PathError{Op: "write", Path: w.f.Name(), Err: e}
		}
	}
	return done, nil
}

// Close closes the descriptor a pipe was opened with, not out.
func (w *quietWriter) Close() error {
	if w.socket {
		return nil
	}
	return syscall.Close(int(w.fd))
}
