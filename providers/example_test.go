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
	}, func(e providers.Event) {
		if e.Kind == providers.EventText { // not reasoning, which some models send first
			reply.WriteString(e.Text)
		}
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

// A configuration file adds providers of its own, such as a local Ollama
// that needs no key; one that cannot be used is an error naming its line.
func ExampleParseConfig() {
	cfg, err := providers.ParseConfig("config.toml", []byte(`
default_provider = "local"

[providers.local]
type = "openai"
base_url = "http://localhost:11434/v1"
models = ["llama3.2", "qwen2.5-coder"]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := providers.NewRegistry(providers.Options{Config: cfg, Getenv: func(string) string { return "" }})
	fmt.Println(reg.Default())
	p, err := reg.Get("local")
	if err != nil {
		fmt.Println(err)
		return
	}
	models, _ := p.Models(context.Background())
	fmt.Println(p.DefaultModel(), models)

	_, err = providers.ParseConfig("config.toml", []byte("[providers.local]\ntype = \"ollama\"\n"))
	fmt.Println(err)
	// Output:
	// local
	// llama3.2 [llama3.2 qwen2.5-coder]
	// config.toml:2:1: providers.local.type: unknown type "ollama": want openai, anthropic, mistral or gemini
}
