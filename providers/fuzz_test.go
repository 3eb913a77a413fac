package providers

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tmaxmax/go-sse"
)

// bodyTransport answers every request with 200 and the same SSE body, with
// no network in between.
type bodyTransport string

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       io.NopCloser(strings.NewReader(string(b))),
		Request:    r,
	}, nil
}

// offline returns the named provider of a fresh Registry that gets body in
// answer to every request.
func offline(t testing.TB, name, body string) Provider {
	t.Helper()
	r, _ := testRegistry(map[string]string{"OPENAI_API_KEY": testKey, "ANTHROPIC_API_KEY": testKey, "MISTRAL_API_KEY": testKey, "GEMINI_API_KEY": testKey}, Options{MaxRetries: -1})
	p := provider(t, r, name).(*httpProvider)
	p.c.http.Transport = bodyTransport(body)
	return p
}

// seedEvents adds the events of the named testdata streams to f, as an
// event type and data, for the decoder fuzz targets.
func seedEvents(f *testing.F, names ...string) {
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for ev, err := range sse.Read(strings.NewReader(string(b)), nil) {
			if err != nil {
				break
			}
			f.Add(ev.Type, ev.Data)
		}
	}
}

// fuzzDecoder decodes data twice with one decoder (the second time into a
// chunk left over from the first) and checks only that it does not panic.
func fuzzDecoder(w wire) func(t *testing.T, typ, data string) {
	return func(t *testing.T, typ, data string) {
		d := w.newDecoder()
		var p progress
		for range 2 {
			_ = d.decode(typ, data, &p)
		}
	}
}

func FuzzDecodeOpenAI(f *testing.F) {
	seedEvents(f, "openai_stream.sse", "openai_error_chunk.sse", "mistral_stream.sse", "mistral_error.sse",
		"recorded/openai_n3_choices.sse", "recorded/openai_parallel_tool_calls.sse", "recorded/openai_refusal.sse",
		"recorded/mistral_magistral_thinking.sse", "recorded/openrouter_reasoning_comments.sse", "recorded/azure_prompt_filter_results.sse")
	for _, data := range []string{"[DONE]", `{"choices":null,"usage":null}`, `{"choices":[{"delta":null}]}`, `{"choices":[{}, {"delta":{"content":"x"}}]}`, `{"error":"busy"}`, `{"error":{"message":5}}`, `[]`, `"x"`} {
		f.Add("", data)
	}
	f.Fuzz(fuzzDecoder(openAIWire{}))
}

func FuzzDecodeAnthropic(f *testing.F) {
	seedEvents(f, "anthropic_stream.sse", "anthropic_thinking.sse", "anthropic_overloaded_mid.sse",
		"recorded/anthropic_redacted_thinking.sse", "recorded/anthropic_tool_use_input_json_delta.sse", "recorded/anthropic_refusal_after_thinking.sse")
	for _, ev := range [][2]string{
		{"", `{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}`},
		{"error", `{"type":"error","error":"x"}`},
		{"error", `not json`},
		{"message_delta", `{"usage":null,"delta":null}`},
		{"message_start", `{"message":{"usage":{"input_tokens":-1}}}`},
	} {
		f.Add(ev[0], ev[1])
	}
	f.Fuzz(fuzzDecoder(anthropicWire{}))
}

// FuzzStream runs whole bodies through the stream loop of both wire
// formats: whatever the body, Stream returns either a complete reply or an
// error, and never panics.
func FuzzStream(f *testing.F) {
	for _, name := range []string{"openai_stream.sse", "mistral_error.sse", "anthropic_stream.sse", "anthropic_overloaded_mid.sse", "openai_cut_event.sse",
		"recorded/openai_refusal.sse", "recorded/anthropic_thinking_signature.sse", "recorded/openai_parallel_tool_calls.sse"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, name := range []string{"openai", "anthropic"} {
			res, err := offline(t, name, body).Stream(t.Context(), hello, func(Event) {})
			if err == nil && !slices.Contains([]string{StopEnd, StopMaxTokens, StopRefusal, StopContentFilter, StopToolCalls}, res.StopReason) {
				t.Errorf("%s: stop reason %q", name, res.StopReason)
			}
		}
	})
}
