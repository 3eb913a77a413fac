package providers_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tinychat/tinychat/providers"
)

// The echo provider needs no key, so this runs anywhere. The other
// providers work the same way once their key is in the environment.
func ExampleNewRegistry() {
	reg := providers.NewRegistry(providers.Options{})
	p, err := reg.Get("echo")
	if err != nil {
		fmt.Println(err)
		return
	}
	var reply strings.Builder
	res, err := p.Stream(context.Background(), &providers.Request{
		Messages: []providers.Message{{Role: providers.RoleUser, Content: "Hello from tinychat"}},
	}, func(text string) {
		reply.WriteString(text)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reply.String())
	fmt.Println(res.StopReason, res.Usage.OutputTokens)
	// Output:
	// Hello from tinychat
	// end 3
}
