//go:build linux && (amd64 || arm64) && !race

package providers

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawDial wraps dial so that the reads of the TCP connections it makes
// are system calls the Go runtime does not see (RawSyscall). A system call
// the runtime sees wakes its monitor thread (sysmon) whenever the process
// comes back from idle, as it does at each event of a stream at a
// provider's pace: two context switches an event, 40% of the daemon's CPU
// at 1 ms an event (docs/performance.md). A read of a non-blocking socket
// cannot block, so hiding it from the runtime is safe; when there is
// nothing to read, the runtime's poller waits as for any read.
func rawDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return c, nil
		}
		rc, err := tc.SyscallConn()
		if err != nil {
			return c, nil
		}
		return &rawConn{TCPConn: tc, rc: rc}, nil
	}
}

// rawConn is a TCP connection read by rawDial's reads.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *rawConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
