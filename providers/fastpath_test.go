package providers

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// Events as the providers send them, around the text of a delta.
const (
	openAIDeltaPrefix    = `{"id":"chatcmpl-C1a2b3c4d5e6f7g8h9","object":"chat.completion.chunk","created":1754550000,"model":"gpt-4.1-mini-2025-04-14","service_tier":"default","system_fingerprint":"fp_6f2eabb9a5","choices":[{"index":0,"delta":{"content":"`
	openAIDeltaSuffix    = `"},"logprobs":null,"finish_reason":null}],"usage":null}`
	anthropicDeltaPrefix = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"`
	anthropicDeltaSuffix = `"}}`
)

// fastSeeds are events (a type and data) that probe the edges of the fast
// path: each is read by the fast path or left to encoding/json, and must
// come out the same either way.
var fastSeeds = [][2]string{
	{"", openAIDeltaPrefix + ` word` + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + `line\nwith \"quotes\", \\ \/ \b\f\r\t \u00e9 \uD83D\uDE00 \ud800 \udc00x \uDBFF\uDFFF \u0000` + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + "bad \xff\xfe utf-8 \xe2\x82 \xed\xa0\x80 é" + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + `\uD800\uD800\uDC00` + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + "\x01" + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + "\x1f\x7f" + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + `\x` + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + `\u12` + openAIDeltaSuffix},
	{"", openAIDeltaPrefix + `\'` + openAIDeltaSuffix},
	{"", `{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}`},
	{"", `{"choices":[{"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}`},
	{"", `{"choices":[{"delta":{},"finish_reason":"stop"}]}`},
	{"", `{"choices":[{"delta":{"content":"x"},"finish_reason":"length"}]}`},
	{"", `{"choices":[{"delta":{"content":"x"},"finish_reason":"error"}]}`},
	{"", `{"choices":[{"delta":null,"finish_reason":null}],"model":null}`},
	{"", `{"choices":[]}`},
	{"", `{"choices":[{}]}`},
	{"", `{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"choices":[{}]}`},
	{"", `{"choices":[{"delta":{"content":"a","content":null}}]}`},
	{"", `{"choices":[{"delta":{"Content":"a"}}]}`},
	{"", `{"choices":[{"delta":{"CONTENT":"a"}}],"Model":"m"}`},
	{"", `{"choices":[{"delta":{"cont\u0065nt":"a"}}]}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"ModeL":"x"}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"model":"\u006d"}`},
	{"", `{"choices":[{"delta":{"content":"a","tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"error":null}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"error":{"message":"x"}}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"x":[1,-0.5e+3,true,false,null,{"k":"v","\u00e9":[]}]}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"x":01}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"x":1.}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"x":-}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],}`},
	{"", `{"choices":[{"delta":{"content":"a"}}]} `},
	{"", ` {"choices":[{"delta":{"content":"a"}}]}` + "\r\n\t"},
	{"", `{"choices":[{"delta":{"content":"a"}}]}x`},
	{"", `{"choices":[{"delta":{"content":"a"}}]}{}`},
	{"", `{"choices":[{"delta":{"content":"a"}}]`},
	{"", `{"choices":[{"delta":{"content":5}}]}`},
	{"", `{"choices":[{"delta":{"content":"a"}}],"model":5}`},
	{"", `{}`},
	{"", `null`},
	{"", `[DONE]`},
	{"", ``},
	{"content_block_delta", anthropicDeltaPrefix + ` word` + anthropicDeltaSuffix},
	{"content_block_delta", anthropicDeltaPrefix + `tab\there \ud83d\ude00 \"q\"` + anthropicDeltaSuffix},
	{"", anthropicDeltaPrefix + ` word` + anthropicDeltaSuffix},
	{"message_delta", anthropicDeltaPrefix + ` word` + anthropicDeltaSuffix},
	{"content_block_delta", `{"type":"message_stop","delta":{"type":"text_delta","text":"x"}}`},
	{"", `{"type":"message_stop","delta":{"type":"text_delta","text":"x"}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","stop_reason":null}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","stop_reason":1}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","Text":"b"}}`},
	{"content_block_delta", `{"type":"content_block_delta","delta":{"type":"text_delta","text":"a"},"delta":{"text":"b"}}`},
	{"content_block_delta", `{"type":"content_block_delta","delta":{"type":"text_delta","text":"a"},"usage":{"output_tokens":3}}`},
	{"content_block_delta", `{"type":"content_block_delta","delta":null}`},
	{"content_block_delta", `{"delta":{"text":"a","type":"text_delta"}}`},
	{"content_block_delta", `{}`},
	{"", `{"choices":[{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{"content":"a"}}]}`},
	{"", `{"choices":[{"index":1,"delta":{"content":"b"},"finish_reason":"stop"}]}`},
	{"", `{"choices":[{"index":0.0,"delta":{"content":"a"}}]}`},
	{"", `{"choices":[{"index":-0,"delta":{"content":"a"}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"content":"a"}}],"index":1}`},
	{"", `{"choices":[{"index":0,"Index":1,"delta":{"content":"a"}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"reasoning_content":"r","reasoning":"r"}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"reasoning_content":"","reasoning":"r2"}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"reasoning":"r","content":"a"}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"Reasoning":"r"}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"refusal":"no"},"finish_reason":"stop"}]}`},
	{"", `{"choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]},{"type":"text","text":"a"}]}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"a"}]},"finish_reason":"content_filter"}]}`},
	{"", `{"choices":[{"index":0,"delta":{"tool_calls":null}}]}`},
	{"", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`},
	{"", `{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`},
	{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm","text":"x"}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","thinking":"hmm"}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}`},
	{"content_block_stop", `{"type":"content_block_stop","index":0}`},
	{"content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"ZW5j"}}`},
	{"content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get","input":{}}}`},
	{"content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\": 1}"}}`},
	{"content_block_delta", `{"type":"content_block_delta","content_block":{},"delta":{"type":"text_delta","text":"a"}}`},
	{"message_delta", `{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"output_tokens":3}}`},
	{"ping", `{"type": "ping"}`},
	{"error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`},
}

// decodeStep is what one event gave.
type decodeStep struct {
	err  string
	prog progress
}

func (s decodeStep) String() string {
	return fmt.Sprintf("err %s, progress %+v", s.err, s.prog)
}

// errString shows all of err, all the fields of an *Error.
func errString(err error) string {
	if e, ok := err.(*Error); ok {
		return fmt.Sprintf("%#v", *e)
	}
	if err == nil {
		return "nil"
	}
	return fmt.Sprintf("%T %v", err, err)
}

// sameAsJSON feeds the events to two decoders of a wire, one with the fast
// path and one with encoding/json alone, and fails unless each event gives
// the same in both.
func sameAsJSON(t *testing.T, w wire, full func(d decoder, typ, data string, p *progress) error, events ...[2]string) {
	t.Helper()
	fast, slow := w.newDecoder(), w.newDecoder()
	var pf, ps progress
	for _, ev := range events {
		pf.events, ps.events = pf.events[:0], ps.events[:0]
		got := decodeStep{errString(fast.decode(ev[0], ev[1], &pf)), pf}
		want := decodeStep{errString(full(slow, ev[0], ev[1], &ps)), ps}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %q %q:\nfast path:     %v\nencoding/json: %v", ev[0], ev[1], got, want)
		}
	}
}

func openAIJSON(d decoder, _, data string, p *progress) error {
	return d.(*openAIDecoder).decodeJSON(data, p)
}

func anthropicJSON(d decoder, typ, data string, p *progress) error {
	return d.(*anthropicDecoder).decodeJSON(typ, data, p)
}

// checkFastPath checks one event, and the data as the text of a delta of
// either format, both on its own and between other events.
func checkFastPath(t *testing.T, typ, data string) {
	for _, wt := range []struct {
		w    wire
		full func(d decoder, typ, data string, p *progress) error
		// another is an event that precedes and follows the one checked.
		another [2]string
		// delta makes the data the text of a delta.
		delta [2]string
	}{
		{openAIWire{}, openAIJSON,
			[2]string{"", openAIDeltaPrefix + "x" + openAIDeltaSuffix},
			[2]string{"", openAIDeltaPrefix + data + openAIDeltaSuffix}},
		{anthropicWire{}, anthropicJSON,
			[2]string{"content_block_delta", anthropicDeltaPrefix + "x" + anthropicDeltaSuffix},
			[2]string{"content_block_delta", anthropicDeltaPrefix + data + anthropicDeltaSuffix}},
	} {
		ev := [2]string{typ, data}
		sameAsJSON(t, wt.w, wt.full, ev)
		sameAsJSON(t, wt.w, wt.full, wt.another, ev, wt.another, ev, wt.another)
		sameAsJSON(t, wt.w, wt.full, wt.delta, wt.another, wt.delta)
	}
}

func TestFastPathSameAsJSON(t *testing.T) {
	for _, ev := range fastSeeds {
		checkFastPath(t, ev[0], ev[1])
	}
}

// FuzzFastPath requires the decoders to read any event, and any text
// inside a delta, exactly as encoding/json does.
func FuzzFastPath(f *testing.F) {
	seedEvents(f, "openai_stream.sse", "openai_error_chunk.sse", "openai_length.sse", "mistral_stream.sse", "mistral_error.sse",
		"anthropic_stream.sse", "anthropic_thinking.sse", "anthropic_overloaded_mid.sse", "anthropic_max_tokens.sse",
		"recorded/openai_n3_choices.sse", "recorded/deepseek_reasoning_content.sse", "recorded/groq_reasoning.sse",
		"recorded/anthropic_thinking_signature.sse", "recorded/anthropic_redacted_thinking.sse")
	for _, ev := range fastSeeds {
		f.Add(ev[0], ev[1])
	}
	f.Fuzz(checkFastPath)
}

// TestFastPathTaken checks that the usual events, as the providers and
// OpenAI-compatible servers send them, do take the fast path, and that the
// text it returns does not keep the event's data.
func TestFastPathTaken(t *testing.T) {
	owned := func(text, data string) bool {
		if text == "" {
			return true
		}
		p, d := uintptr(unsafe.Pointer(unsafe.StringData(text))), uintptr(unsafe.Pointer(unsafe.StringData(data)))
		return p < d || p >= d+uintptr(len(data))
	}
	for _, text := range []string{"", " word", `line\nand \"quote\"`, `\ud83d\ude00 é`, "é", strings.Repeat("x", 1000)} {
		for _, data := range []string{
			openAIDeltaPrefix + text + openAIDeltaSuffix,
			`{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"` + text + `"},"logprobs":null,"finish_reason":null}]}`,
			`{"id":"0a5e3bd2c3f64b4fa1f3b8d5e8c0f7a1","object":"chat.completion.chunk","created":1754550500,"model":"mistral-large-latest","choices":[{"index":0,"delta":{"content":"` + text + `"},"finish_reason":null}]}`,
			`{"id":"chatcmpl-D0q8CZXN1uEzngZGkU7FuV92lnXWq","object":"chat.completion.chunk","created":1769092764,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_29330a9688","choices":[{"index":0,"delta":{"content":"` + text + `"},"logprobs":null,"finish_reason":null}],"obfuscation":"kJ"}`,
			`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1754550000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":"` + text + `"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`,
			` { "choices" : [ { "delta" : { "role" : "assistant", "content" : "` + text + `" } , "finish_reason" : "stop" } ] }` + "\n",
		} {
			var f openAIFields
			if !f.scan(data) {
				t.Errorf("fast path not taken: %s", data)
			}
			if !owned(f.content, data) {
				t.Errorf("the text keeps the event's data: %s", data)
			}
		}
		for _, data := range []string{
			anthropicDeltaPrefix + text + anthropicDeltaSuffix,
			`{"type":"content_block_delta","index":3,"delta":{"text":"` + text + `","type":"text_delta"}}`,
		} {
			_, got, ok := scanAnthropicDelta("content_block_delta", data)
			if !ok {
				t.Errorf("fast path not taken: %s", data)
			}
			if !owned(got, data) {
				t.Errorf("the text keeps the event's data: %s", data)
			}
		}
	}
	if kind, text, ok := scanAnthropicDelta("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}`); !ok || kind != EventReasoning || text != "Let me think" {
		t.Errorf("a thinking delta gave %v %q, %v; want reasoning \"Let me think\", true", kind, text, ok)
	}
	for _, data := range []string{
		`{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":null,"reasoning":"hmm","reasoning_details":[{"type":"reasoning.text","text":"hmm"}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":null,"refusal":"hmm"},"finish_reason":null}]}`,
	} {
		if f := (openAIFields{}); !f.scan(data) || f.reasoningContent+f.reasoning+f.refusal != "hmm" {
			t.Errorf("fast path not taken, or no reasoning or refusal read: %s", data)
		}
	}
}

// BenchmarkDecode compares the decoders' cost per delta event, with and
// without the fast path.
func BenchmarkDecode(b *testing.B) {
	for _, bt := range []struct {
		name string
		w    wire
		full func(d decoder, typ, data string, p *progress) error
		typ  string
		data string
	}{
		{"openai", openAIWire{}, openAIJSON, "", openAIDeltaPrefix + " word" + openAIDeltaSuffix},
		{"openai-escapes", openAIWire{}, openAIJSON, "", openAIDeltaPrefix + `\n\t\"x\" \u00e9` + openAIDeltaSuffix},
		{"anthropic", anthropicWire{}, anthropicJSON, "content_block_delta", anthropicDeltaPrefix + " word" + anthropicDeltaSuffix},
	} {
		for _, path := range []string{"fast", "json"} {
			b.Run(bt.name+"/"+path, func(b *testing.B) {
				d := bt.w.newDecoder()
				decode := d.decode
				if path == "json" {
					decode = func(typ, data string, p *progress) error { return bt.full(d, typ, data, p) }
				}
				var p progress
				b.ReportAllocs()
				for b.Loop() {
					p.events = p.events[:0]
					if err := decode(bt.typ, bt.data, &p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
