package providers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// geminiAPI is Google's Gemini API (generativelanguage.googleapis.com). As
// in Google's own SDKs, its base URL includes no version. The key goes in
// the x-goog-api-key header, never in the URL, where it would end up in
// logs. The models list is paged, 50 to a page by default: one page of the
// largest size holds them all.
var geminiAPI = spec{
	name:       "gemini",
	keyEnv:     "GEMINI_API_KEY",
	baseEnv:    "GEMINI_BASE_URL",
	baseURL:    "https://generativelanguage.googleapis.com",
	model:      "gemini-2.5-flash",
	chatPath:   "/v1beta/models/{model}:streamGenerateContent?alt=sse",
	modelsPath: "/v1beta/models?pageSize=1000",
	wire:       geminiWire{},
}

// geminiWire is the generateContent wire format.
type geminiWire struct{}

type geminiRequest struct {
	Contents          []geminiContent   `json:"contents"`
	SystemInstruction *geminiContent    `json:"systemInstruction,omitempty"`
	GenerationConfig  *geminiGeneration `json:"generationConfig,omitempty"`
	Tools             []geminiTools     `json:"tools,omitempty"`
}

// geminiTools offers functions. Their parameters go as
// parametersJsonSchema, which takes any JSON Schema (an MCP server's
// inputSchema), where parameters takes only Gemini's subset of OpenAPI.
type geminiTools struct {
	FunctionDeclarations []geminiFunction `json:"functionDeclarations"`
}

type geminiFunction struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

// geminiPart is a part of a message as it is sent: text, a function call
// or a function's response.
type geminiPart struct {
	Text             string              `json:"text,omitempty"`
	FunctionCall     *geminiCall         `json:"functionCall,omitempty"`
	FunctionResponse *geminiFunctionResp `json:"functionResponse,omitempty"`
	// ThoughtSignature goes back on the part of a reply that carried it:
	// Gemini 3 requires it with function calls, and recommends it always.
	ThoughtSignature string `json:"thoughtSignature,omitempty"`
}

type geminiCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type geminiFunctionResp struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name"`
	Response struct {
		// One of the two, as Gemini's documentation shows them.
		Result string `json:"result,omitempty"`
		Error  string `json:"error,omitempty"`
	} `json:"response"`
}

// geminiReplyPart is a part of a reply: text, a summary of the model's
// thinking (thought), or a function call, any of them perhaps signed.
type geminiReplyPart struct {
	Text             string `json:"text"`
	Thought          bool   `json:"thought"`
	ThoughtSignature string `json:"thoughtSignature"`
	FunctionCall     *struct {
		ID   string          `json:"id"`
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
}

// geminiOpaque is what a reply's Result.Opaque holds.
type geminiOpaque struct {
	ThoughtSignature string `json:"thoughtSignature"`
}

type geminiGeneration struct {
	Temperature     *float64 `json:"temperature,omitempty"`
	MaxOutputTokens int      `json:"maxOutputTokens,omitempty"`
}

func (geminiWire) setHeaders(h http.Header, key string) {
	if key != "" {
		h.Set("x-goog-api-key", key)
	}
}

// encode sends the system prompt as systemInstruction, and the history with
// Gemini's roles, user and model. The history is shaped as for Anthropic
// (see alternate): Gemini too rejects a part with empty text. A reply goes
// back with its thought signature; its thought summaries do not.
func (geminiWire) encode(req *Request, _ string) ([]byte, error) {
	msgs := alternate(req.Messages)
	body := geminiRequest{Contents: make([]geminiContent, len(msgs))}
	for i, m := range msgs {
		body.Contents[i] = geminiContentOf(m)
	}
	if len(req.Tools) > 0 {
		fns := make([]geminiFunction, len(req.Tools))
		for i, t := range req.Tools {
			fns[i] = geminiFunction{Name: t.Name, Description: t.Description, ParametersJSONSchema: schema(t.Parameters)}
		}
		body.Tools = []geminiTools{{FunctionDeclarations: fns}}
	}
	if req.System != "" {
		body.SystemInstruction = &geminiContent{Parts: []geminiPart{{Text: req.System}}}
	}
	if req.Temperature != nil || req.MaxTokens > 0 {
		body.GenerationConfig = &geminiGeneration{Temperature: req.Temperature, MaxOutputTokens: req.MaxTokens}
	}
	return json.Marshal(body)
}

// geminiContentOf is a message as Gemini takes it: function responses,
// then text, then function calls. A reply's thought signature goes on its
// first function call, where Gemini 3 requires it, else on its text.
func geminiContentOf(m Message) geminiContent {
	var parts []geminiPart
	for _, r := range m.Results {
		p := geminiPart{FunctionResponse: &geminiFunctionResp{ID: r.CallID, Name: r.Name}}
		if r.IsError {
			p.FunctionResponse.Response.Error = r.Content
		} else {
			p.FunctionResponse.Response.Result = r.Content
		}
		parts = append(parts, p)
	}
	if m.Content != "" {
		parts = append(parts, geminiPart{Text: m.Content})
	}
	for _, c := range m.ToolCalls {
		parts = append(parts, geminiPart{FunctionCall: &geminiCall{ID: c.ID, Name: c.Name, Args: arguments(c.Arguments)}})
	}
	if m.Role != RoleAssistant {
		return geminiContent{Role: RoleUser, Parts: parts}
	}
	var o geminiOpaque
	if len(m.Opaque) > 0 && json.Unmarshal(m.Opaque, &o) == nil && len(parts) > 0 {
		at := 0
		if len(m.ToolCalls) > 0 {
			at = len(parts) - len(m.ToolCalls)
		}
		parts[at].ThoughtSignature = o.ThoughtSignature
	}
	return geminiContent{Role: "model", Parts: parts}
}

func (geminiWire) newDecoder() decoder { return new(geminiDecoder) }

// decodeModels reads {"models": [{"name": "models/gemini-2.5-flash",
// "supportedGenerationMethods": [...]}]}, keeping the models that can chat
// (not those that only embed, say), without the "models/" prefix.
func (geminiWire) decodeModels(r io.Reader) ([]string, error) {
	var list struct {
		Models []struct {
			Name    string   `json:"name"`
			Methods []string `json:"supportedGenerationMethods"`
		} `json:"models"`
	}
	if err := json.NewDecoder(r).Decode(&list); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(list.Models))
	for _, m := range list.Models {
		if m.Methods == nil || slices.Contains(m.Methods, "generateContent") {
			ids = append(ids, strings.TrimPrefix(m.Name, "models/"))
		}
	}
	return ids, nil
}

// geminiDecoder decodes GenerateContentResponse events. It keeps its JSON
// decoder, so that decoding a chunk allocates little more than its text.
type geminiDecoder struct {
	json  jsonDecoder
	chunk geminiChunk
}

type geminiChunk struct {
	Candidates []struct {
		Content struct {
			Parts []geminiReplyPart `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		ThoughtsTokenCount   int `json:"thoughtsTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string          `json:"modelVersion"`
	Error        json.RawMessage `json:"error"`
}

// geminiFiltered are the finish reasons of a reply that a safety or
// content filter stopped.
var geminiFiltered = map[string]bool{
	"SAFETY": true, "RECITATION": true, "BLOCKLIST": true, "PROHIBITED_CONTENT": true, "SPII": true,
	"IMAGE_SAFETY": true, "IMAGE_PROHIBITED_CONTENT": true, "IMAGE_RECITATION": true,
}

// decode reads one chunk. Gemini sends no end marker such as [DONE]: the
// reply is whole at the chunk with its finishReason, and the stream ends
// with the body. Usage comes with every chunk, each count so far: the last
// is the total. Thinking is billed as output, so it counts there, as
// OpenAI's and Anthropic's output counts include it.
func (d *geminiDecoder) decode(_, data string, p *progress) error {
	d.chunk = geminiChunk{}
	c := &d.chunk
	if err := d.json.decode(data, c); err != nil {
		return err
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return eventError([]byte(data))
	}
	if c.ModelVersion != "" {
		p.Model = strings.TrimPrefix(c.ModelVersion, "models/")
	}
	if u := c.UsageMetadata; u != nil {
		p.Usage = Usage{InputTokens: u.PromptTokenCount, OutputTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount}
	}
	if f := c.PromptFeedback; f != nil && f.BlockReason != "" {
		return &Error{Type: "prompt_blocked", Message: "the prompt was blocked with blockReason " + f.BlockReason}
	}
	if len(c.Candidates) == 0 {
		return nil
	}
	cand := &c.Candidates[0]
	for _, part := range cand.Content.Parts {
		switch {
		case part.FunctionCall != nil:
			fc := part.FunctionCall
			var args bytes.Buffer
			if len(fc.Args) > 0 && json.Compact(&args, fc.Args) != nil {
				args.Reset()
			}
			// Each call comes whole, in one part.
			p.addCall(len(p.ToolCalls), fc.ID, fc.Name, args.String())
		case part.Thought:
			p.add(EventReasoning, part.Text)
		default:
			p.add(EventText, part.Text)
		}
		if part.ThoughtSignature != "" {
			p.Opaque, _ = json.Marshal(geminiOpaque{ThoughtSignature: part.ThoughtSignature})
		}
	}
	switch r := cand.FinishReason; {
	case r == "":
	case r == "STOP" && len(p.ToolCalls) > 0:
		p.stop(StopToolCalls)
	case r == "STOP":
		p.stop(StopEnd)
	case r == "MAX_TOKENS":
		p.stop(StopMaxTokens)
	case geminiFiltered[r]:
		p.stop(StopContentFilter)
	default:
		// MALFORMED_FUNCTION_CALL, OTHER, LANGUAGE and those added later:
		// the reply was cut off for a reason that is neither its end, its
		// length nor a filter.
		return &Error{Type: "reply_stopped", Message: "the reply was stopped with finishReason " + r}
	}
	return nil
}
