package session_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tinychat/tinychat/session"
)

func Example() {
	ctx := context.Background()
	store, err := session.Open(session.Memory)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sess, err := store.New(ctx, "file:///home/ana/src/tinychat", "")
	if err != nil {
		log.Fatal(err)
	}
	err = store.Put(ctx, sess.ID,
		&session.Message{Role: session.RoleUser, Content: "What is a goroutine?"},
		&session.Message{Role: session.RoleAssistant, Content: "A function running concurrently, scheduled by the Go runtime.", Provider: "echo"},
	)
	if err != nil {
		log.Fatal(err)
	}

	if err := store.Export(ctx, os.Stdout, sess.ID, "text"); err != nil {
		log.Fatal(err)
	}
	current, err := store.Current(ctx, "/home/ana/src/tinychat/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("current session: %q, %d messages\n", current.Title, current.MessageCount)
	// Output:
	// You: What is a goroutine?
	//
	// LLM: A function running concurrently, scheduled by the Go runtime.
	// current session: "What is a goroutine?", 2 messages
}
