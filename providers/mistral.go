package providers

// mistralAPI is Mistral's chat API. It speaks the Chat Completions wire
// format, so it shares openAIWire and its decoder; only the endpoint
// differs. As in Mistral's own SDKs, its base URL does not include /v1.
// Mistral sends the usage with the finish_reason chunk unasked, so the
// request carries no stream_options.
var mistralAPI = spec{
	name:       "mistral",
	keyEnv:     "MISTRAL_API_KEY",
	baseEnv:    "MISTRAL_BASE_URL",
	baseURL:    "https://api.mistral.ai",
	model:      "mistral-large-latest",
	chatPath:   "/v1/chat/completions",
	modelsPath: "/v1/models",
	wire:       openAIWire{},
}
