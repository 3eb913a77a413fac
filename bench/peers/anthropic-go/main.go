// Command anthropic-go is a bench peer: the official Anthropic Go SDK
// streaming a message from the mock, each text delta printed on a line of
// its own as it comes ("D" then the text), then "END".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: anthropic-go BASE_URL MESSAGE")
		os.Exit(2)
	}
	client := anthropic.NewClient(option.WithBaseURL(os.Args[1]), option.WithAPIKey("bench-dummy-key"), option.WithMaxRetries(0))
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model:     "mock",
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(os.Args[2]))},
	})
	var line []byte
	for stream.Next() {
		ev := stream.Current()
		if d, ok := ev.AsAny().(anthropic.ContentBlockDeltaEvent); ok {
			if t, ok := d.Delta.AsAny().(anthropic.TextDelta); ok && t.Text != "" {
				line = append(append(append(line[:0], 'D'), t.Text...), '\n')
				os.Stdout.Write(line)
			}
		}
	}
	if err := stream.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "anthropic-go:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString("END\n")
}
