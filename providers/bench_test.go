package providers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchStream streams a body of 10k deltas from memory: the recorded
// stream file with deltaEvent repeated before the line that holds marker.
// What it measures is the work per delta (SSE parsing, JSON decoding, the
// call to onDelta), with no network.
func benchStream(b *testing.B, name, file, marker, deltaEvent string) {
	const deltas = 10_000
	rec, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	at := strings.LastIndexByte(string(rec[:strings.Index(string(rec), marker)]), '\n') + 1
	body := string(rec[:at]) + strings.Repeat(deltaEvent, deltas) + string(rec[at:])
	p := offline(b, name, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := p.Stream(b.Context(), hello, func(Event) { n++ }); err != nil {
			b.Fatal(err)
		}
		if n < deltas {
			b.Fatalf("%d deltas, want at least %d", n, deltas)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*deltas), "ns/delta")
}

func BenchmarkOpenAIStream(b *testing.B) {
	benchStream(b, "openai", "openai_stream.sse", `"finish_reason":"stop"`,
		`data: {"id":"chatcmpl-C1a2b3c4d5e6f7g8h9","object":"chat.completion.chunk","created":1754550000,"model":"gpt-4.1-mini-2025-04-14","service_tier":"default","system_fingerprint":"fp_6f2eabb9a5","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n")
}

func BenchmarkAnthropicStream(b *testing.B) {
	benchStream(b, "anthropic", "anthropic_stream.sse", "event: content_block_stop",
		`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word"}}`+"\n\n")
}

// Mistral's stream goes through the OpenAI decoder; its events are shorter.
func BenchmarkMistralStream(b *testing.B) {
	benchStream(b, "mistral", "mistral_stream.sse", `"finish_reason":"stop"`,
		`data: {"id":"0a5e3bd2c3f64b4fa1f3b8d5e8c0f7a1","object":"chat.completion.chunk","created":1754550500,"model":"mistral-large-latest","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}`+"\n\n")
}

func BenchmarkGeminiStream(b *testing.B) {
	benchStream(b, "gemini", "gemini_stream.sse", `"finishReason": "STOP"`,
		`data: {"candidates": [{"content": {"parts": [{"text": " word"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 3,"totalTokenCount": 3,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 3}]},"modelVersion": "gemini-2.5-flash","responseId": "Y0rqaPWyLsKi1MkPlO3G2QQ"}`+"\n\n")
}
