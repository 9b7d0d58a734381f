package ai

import "github.com/uar-dev/uar/internal/httpx"

// Settings is the ai: section of uar.yaml (DESIGN §5); the API key comes
// from UAR_ANTHROPIC_API_KEY (or ANTHROPIC_API_KEY).
type Settings struct {
	Enabled      bool   `mapstructure:"enabled" yaml:"enabled"`
	Model        string `mapstructure:"model" yaml:"model"`
	BaseURL      string `mapstructure:"base_url" yaml:"base_url"`
	Pseudonymize bool   `mapstructure:"pseudonymize" yaml:"pseudonymize"`
}

// DefaultSettings are the ai: defaults: off, pseudonymised when on.
func DefaultSettings() Settings { return Settings{Model: DefaultModel, Pseudonymize: true} }

// Validate checks the values as written.
func (s Settings) Validate() error {
	if s.BaseURL != "" {
		return httpx.CheckEndpoint("ai.base_url", s.BaseURL)
	}
	return nil
}

// Config is the pass's configuration for these settings and key.
func (s Settings) Config(key string) Config {
	return Config{Model: s.Model, BaseURL: s.BaseURL, APIKey: key, Pseudonymize: s.Pseudonymize}
}
