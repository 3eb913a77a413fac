// Command fakeprovider runs providertest's server for the editors' tests:
// it prints the server's URL on its first line of output, then serves until
// its standard input closes or it is killed.
//
//	OPENAI_BASE_URL=$URL/v1  ANTHROPIC_BASE_URL=$URL  MISTRAL_BASE_URL=$URL/mistral
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tinychat/tinychat/providers/providertest"
)

func main() {
	pace := flag.Duration("pace", 0, "time between deltas of a \"slow N\" reply (default 50ms)")
	flag.Parse()
	srv := providertest.NewServer()
	defer srv.Close()
	if *pace > 0 {
		srv.SetPace(*pace)
	}
	fmt.Println(srv.URL)
	io.Copy(io.Discard, os.Stdin)
}
