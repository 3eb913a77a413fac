package chat

import (
	"cmp"

	"github.com/tinychat/tinychat/providers"
	"github.com/tinychat/tinychat/session"
)

// Settings are what a turn falls back to when its request does not say:
// an editor's initializationOptions over the configuration file's defaults.
// Their JSON is that of initializationOptions.
type Settings struct {
	Provider    string   `json:"provider,omitempty"`
	Model       string   `json:"model,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   int      `json:"maxTokens,omitempty"`
	System      string   `json:"system,omitempty"`
}

// Over returns s with its empty fields taken from base. A model goes with
// its provider: base's model is taken only along with base's provider.
func (s Settings) Over(base Settings) Settings {
	if s.Provider == "" {
		s.Provider = base.Provider
		s.Model = cmp.Or(s.Model, base.Model)
	}
	if s.Temperature == nil {
		s.Temperature = base.Temperature
	}
	s.MaxTokens = cmp.Or(s.MaxTokens, base.MaxTokens)
	s.System = cmp.Or(s.System, base.System)
	return s
}

// ConfigSettings are the configuration file's settings, the lowest layer:
// its default provider, when the registry could use it, with its default
// model. A default_model without a default_provider is that of whichever
// provider is the default.
func ConfigSettings(reg *providers.Registry, cfg *providers.Config) Settings {
	name := reg.Default()
	if cfg.DefaultModel == "" && cfg.DefaultProvider == "" || cfg.DefaultProvider != "" && cfg.DefaultProvider != name {
		return Settings{}
	}
	return Settings{Provider: name, Model: cfg.DefaultModel}
}

// Choose returns the provider and model a turn of r would use after
// history, the session's messages (none for a fresh session), as the
// turn itself picks them, with the provider's default model for none:
// what `tinychat config` reports as the defaults, and what an ACP client
// is shown as the session's choice.
func Choose(reg *providers.Registry, r Request, history []session.Message) (provider, model string) {
	provider, model = pick(r, history, reg.Default())
	if model == "" {
		if p, err := reg.Get(provider); err == nil {
			model = p.DefaultModel()
		}
	}
	return provider, model
}

// pick applies the precedence of a turn's provider and model: the request,
// then the provider and model the session last used (a resumed chat must
// not switch model silently), then the settings, then the registry's
// default provider. An empty model is the provider's default.
func pick(r Request, history []session.Message, fallback string) (provider, model string) {
	var lastProvider, lastModel string
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Provider != "" {
			lastProvider, lastModel = history[i].Provider, history[i].Model
			break
		}
	}
	provider = cmp.Or(r.Provider, lastProvider, r.Settings.Provider, fallback)
	model = r.Model
	if model == "" {
		switch provider {
		case lastProvider:
			model = lastModel
		case r.Settings.Provider:
			model = r.Settings.Model
		}
	}
	return provider, model
}
