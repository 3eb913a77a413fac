//go:build linux && (amd64 || arm64) && !race

package providers

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestRawConn reads a connection made by rawDial as a stream arrives: in
// pieces with pauses between them (the raw read finds nothing and the
// poller waits), to the end (io.EOF), and past a deadline (a timeout).
func TestRawConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		for _, piece := range []string{"data: a\n\n", "data: b\n\n", "data: c\n\n"} {
			time.Sleep(20 * time.Millisecond)
			c.Write([]byte(piece))
		}
		c.Close()
	}()
	d := &net.Dialer{}
	c, err := rawDial(d.DialContext)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*rawConn); !ok {
		t.Fatalf("rawDial made a %T, want a *rawConn", c)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "data: a\n\ndata: b\n\ndata: c\n\n" {
		t.Errorf("read %q, %v; want the three events and io.EOF", got, err)
	}

	go func() {
		c, err := ln.Accept()
		if err == nil {
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	c2, err := rawDial(d.DialContext)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c2.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
}
