// Command openai-go is a bench peer: the official OpenAI Go SDK streaming
// a chat completion from the mock, each delta's text printed on a line of
// its own as it comes ("D" then the text), then "END".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openai-go BASE_URL MESSAGE")
		os.Exit(2)
	}
	client := openai.NewClient(option.WithBaseURL(os.Args[1]), option.WithAPIKey("bench-dummy-key"), option.WithMaxRetries(0))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:     "mock",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(os.Args[2])},
		MaxTokens: openai.Int(1024),
	})
	var line []byte
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			line = append(append(append(line[:0], 'D'), c.Choices[0].Delta.Content...), '\n')
			os.Stdout.Write(line)
		}
	}
	if err := stream.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "openai-go:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString("END\n")
}
