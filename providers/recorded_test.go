package providers

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// recordedWant is what a recorded stream must give: testdata/recorded/NAME.json
// beside NAME.sse. README.md there says where each recording came from.
type recordedWant struct {
	Wire       string     `json:"wire"` // openai, anthropic or gemini
	Source     string     `json:"source"`
	Text       string     `json:"text"`
	Reasoning  string     `json:"reasoning"`
	StopReason string     `json:"stopReason"`
	ToolCalls  []ToolCall `json:"toolCalls"`
	Usage      *Usage     `json:"usage"`
	Error      string     `json:"error"` // the *Error's Type, for a stream that fails
}

// TestRecordedStreams replays streams recorded from the providers and from
// the test suites of their SDKs, byte for byte, over loopback, and checks
// what comes out: the answer, the reasoning kept apart from it, refusal
// text, tool calls, the stop reason and usage.
func TestRecordedStreams(t *testing.T) {
	wants, err := filepath.Glob(filepath.Join("testdata", "recorded", "*.json"))
	if err != nil || len(wants) == 0 {
		t.Fatalf("no recorded streams in testdata/recorded (%v)", err)
	}
	for _, path := range wants {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want recordedWant
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if want.Source == "" {
				t.Errorf("%s says nothing of where the recording came from", path)
			}
			f := newFake(t, file(t, filepath.Join("recorded", name+".sse")))
			var env map[string]string
			switch want.Wire {
			case "openai", "anthropic":
				env = envFor(want.Wire, f)
			case "gemini":
				env = geminiEnv(f)
			default:
				t.Fatalf("%s: unknown wire %q", path, want.Wire)
			}
			r, _ := testRegistry(env, Options{MaxRetries: -1})

			var text, reasoning strings.Builder
			var calls []ToolCall
			res, err := provider(t, r, want.Wire).Stream(t.Context(), hello, func(e Event) {
				switch e.Kind {
				case EventText, EventRefusal:
					text.WriteString(e.Text)
				case EventReasoning:
					reasoning.WriteString(e.Text)
				case EventToolCall:
					for len(calls) <= e.Call {
						calls = append(calls, ToolCall{})
					}
					c := &calls[e.Call]
					c.ID, c.Name, c.Arguments = c.ID+e.ID, c.Name+e.Name, c.Arguments+e.Text
				}
			})
			if text.String() != want.Text {
				t.Errorf("text = %q\nwant   %q", text.String(), want.Text)
			}
			if reasoning.String() != want.Reasoning {
				t.Errorf("reasoning = %q\nwant        %q", reasoning.String(), want.Reasoning)
			}
			if !reflect.DeepEqual(calls, want.ToolCalls) {
				t.Errorf("tool calls from the events = %+v\nwant %+v", calls, want.ToolCalls)
			}
			if want.Error != "" {
				var e *Error
				if !errors.As(err, &e) || e.Type != want.Error {
					t.Fatalf("err = %v, want an *Error of type %q", err, want.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if res.StopReason != want.StopReason {
				t.Errorf("stop reason = %q, want %q", res.StopReason, want.StopReason)
			}
			if !reflect.DeepEqual(res.ToolCalls, want.ToolCalls) {
				t.Errorf("result's tool calls = %+v\nwant %+v", res.ToolCalls, want.ToolCalls)
			}
			if want.Usage != nil && res.Usage != *want.Usage {
				t.Errorf("usage = %+v, want %+v", res.Usage, *want.Usage)
			}
		})
	}
}
