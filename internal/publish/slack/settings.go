package slack

import "github.com/uar-dev/uar/internal/httpx"

// Settings is the slack: section of uar.yaml (DESIGN §5); the token comes
// from UAR_SLACK_TOKEN (see [Settings.Config]).
type Settings struct {
	Channel string `mapstructure:"channel" yaml:"channel"`
	APIURL  string `mapstructure:"api_url" yaml:"api_url"` // "" means DefaultAPIURL
}

// DefaultSettings are the slack: defaults.
func DefaultSettings() Settings { return Settings{Channel: "#sox-uar"} }

// Validate checks the values as written.
func (s Settings) Validate() error {
	if s.APIURL != "" {
		return httpx.CheckEndpoint("slack.api_url", s.APIURL)
	}
	return nil
}

// Config is the client configuration for these settings and token.
func (s Settings) Config(token string) Config {
	return Config{Channel: s.Channel, APIURL: s.APIURL, Token: token}
}
