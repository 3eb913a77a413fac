//go:build linux && (amd64 || arm64) && !race

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestQuietStdout writes 1 MiB through quietStdout to a pipe and to a
// socket, as editors give the daemon, while the reader first waits (the
// editor's end fills up, and writes fall back to waiting) then reads:
// every byte arrives, in order; the editor's end keeps its blocking mode;
// and an editor that went away is an error, not a signal.
func TestQuietStdout(t *testing.T) {
	pipe := func() (r, w *os.File) {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
	}
	socket := func() (r, w *os.File) {
		p, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
	}
	for name, open := range map[string]func() (r, w *os.File){"pipe": pipe, "socket": socket} {
		t.Run(name, func(t *testing.T) {
			r, w := open()
			defer r.Close()
			out := quietStdout(w)
			if _, ok := out.(*quietWriter); !ok {
				t.Fatalf("quietStdout gave a %T, want a *quietWriter", out)
			}
			want := make([]byte, 1<<20)
			for i := range want {
				want[i] = byte(i * 7 / 5)
			}
			done := make(chan error, 1)
			go func() {
				for p := want; len(p) > 0; p = p[min(len(p), 3000):] {
					if _, err := out.Write(p[:min(len(p), 3000)]); err != nil {
						done <- err
						return
					}
				}
				// The end of the stream, for ReadAll: no writer is left.
				out.(io.Closer).Close()
				w.Close()
				done <- nil
			}()
			time.Sleep(50 * time.Millisecond) // the writes fill the editor's end
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Error("the bytes read are not the bytes written, in order")
			}
			if !bytes.Equal(got, want) {
				return
			}
			// Again, to see the editor's end keep its mode and an editor
			// that went away be an error.
			r, w = open()
			defer r.Close()
			defer w.Close()
			out = quietStdout(w)
			defer out.(io.Closer).Close()
			flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), syscall.F_GETFL, 0)
			if e != 0 || flags&syscall.O_NONBLOCK != 0 {
				t.Errorf("the editor's end: flags %#x, %v; want it blocking as it was", flags, e)
			}
			r.Close()
			if _, err := out.Write([]byte("after")); !errors.Is(err, syscall.EPIPE) {
				t.Errorf("a write after the editor went away: %v, want EPIPE", err)
			}
		})
	}
}
