//go:build !(linux && (amd64 || arm64)) || race

package providers

import (
	"context"
	"net"
)

// rawDial returns dial: the raw reads of rawconn_linux.go are for Linux
// alone, and not for race builds (stdout_other.go in the main package says
// why).
func rawDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return dial
}
