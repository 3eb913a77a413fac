package session

import (
	"context"
	"testing"
)

func TestPermissions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if d, err := s.Permission(ctx, "/w", "read_file"); d != "" || err != nil {
		t.Fatalf("a tool never decided on: %q, %v; want \"\"", d, err)
	}
	for _, d := range []string{"allow", "reject"} {
		if err := s.SetPermission(ctx, "/w", "read_file", d); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Permission(ctx, "/w", "read_file"); got != d || err != nil {
			t.Errorf("after %s: %q, %v", d, got, err)
		}
	}
	// Per workspace, per tool.
	for _, k := range [][2]string{{"/other", "read_file"}, {"/w", "grep"}} {
		if got, _ := s.Permission(ctx, k[0], k[1]); got != "" {
			t.Errorf("%s in %s: %q, want \"\"", k[1], k[0], got)
		}
	}
}

// TestToolCallsStored saves a reply with tool calls as it streams and
// when it ends: the calls read back as they were written.
func TestToolCallsStored(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	sess, err := s.New(ctx, "/w", "")
	if err != nil {
		t.Fatal(err)
	}
	reply := &Message{ID: "r", Role: RoleAssistant, Content: "Looking.", ToolCalls: []ToolCall{{ID: "c1", Name: "grep", Arguments: `{"pattern":"x"}`, Status: "running", TextOffset: 8}}}
	mustPut(t, s, sess.ID, user("u", "find x"), reply)
	reply.ToolCalls[0].Status, reply.ToolCalls[0].Output = "completed", "a.go:1: x"
	mustPut(t, s, sess.ID, reply)
	msgs, err := s.Messages(ctx, sess.ID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%+v, %v", msgs, err)
	}
	if c := msgs[1].ToolCalls; len(c) != 1 || c[0] != reply.ToolCalls[0] {
		t.Errorf("tool calls read back as %+v, want %+v", c, reply.ToolCalls)
	}
}
