package providers

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"hello big world", []string{"hello ", "big ", "world"}},
		{"  lead  and trail \n", []string{"  lead  ", "and ", "trail \n"}},
		{"   ", []string{"   "}},
		{"été\tà Paris", []string{"été\t", "à ", "Paris"}},
	}
	for _, tt := range tests {
		if got := words(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEcho(t *testing.T) {
	r, _ := testRegistry(nil, Options{})
	req := &Request{Messages: []Message{
		{Role: RoleUser, Content: "first question"},
		{Role: RoleAssistant, Content: "an answer"},
		{Role: RoleUser, Content: "say  this back\n"},
	}}
	text, deltas, res, err := collect(t.Context(), provider(t, r, "echo"), req)
	if err != nil || text != "say  this back\n" || deltas != 3 {
		t.Errorf("got %q in %d deltas, %v", text, deltas, err)
	}
	want := Result{Model: "echo", StopReason: StopEnd, Usage: Usage{InputTokens: 7, OutputTokens: 3}}
	if !reflect.DeepEqual(*res, want) {
		t.Errorf("result = %+v, want %+v", *res, want)
	}
	if models, err := provider(t, r, "echo").Models(t.Context()); err != nil || !reflect.DeepEqual(models, []string{"echo"}) {
		t.Errorf("Models() = %v, %v", models, err)
	}
}

// TestEchoCancel cancels an echo slowed down by TINYCHAT_ECHO_DELAY after
// its first word.
func TestEchoCancel(t *testing.T) {
	r, _ := testRegistry(map[string]string{"TINYCHAT_ECHO_DELAY": "5ms"}, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []string
	start := time.Now()
	_, err := provider(t, r, "echo").Stream(ctx, &Request{Messages: []Message{{Role: RoleUser, Content: "one two three"}}}, func(e Event) {
		got = append(got, e.Text)
		cancel()
	})
	if !errors.Is(err, context.Canceled) || !reflect.DeepEqual(got, []string{"one "}) {
		t.Errorf("got %q, %v; want one word and context.Canceled", got, err)
	}
	if d := time.Since(start); d < 5*time.Millisecond {
		t.Errorf("the first word came after %v, before the delay", d)
	}
}
