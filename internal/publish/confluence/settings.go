package confluence

import "github.com/uar-dev/uar/internal/httpx"

// Settings is the confluence: section of uar.yaml (DESIGN §5); the token
// comes from UAR_CONFLUENCE_TOKEN (default UAR_JIRA_TOKEN) and an empty
// email defaults to jira.email (see [Settings.Config]).
type Settings struct {
	BaseURL      string `mapstructure:"base_url" yaml:"base_url"`
	Email        string `mapstructure:"email" yaml:"email"`
	Space        string `mapstructure:"space" yaml:"space"`
	ParentPageID string `mapstructure:"parent_page_id" yaml:"parent_page_id"`
}

// DefaultSettings are the confluence: defaults.
func DefaultSettings() Settings { return Settings{Space: "SOX"} }

// Validate checks the values as written; an unset base URL is fine until
// a command needs Confluence.
func (s Settings) Validate() error {
	if s.BaseURL != "" {
		return httpx.CheckEndpoint("confluence.base_url", s.BaseURL)
	}
	return nil
}

// EmailOr is the account email: confluence.email, else fallback (jira.email).
func (s Settings) EmailOr(fallback string) string {
	if s.Email != "" {
		return s.Email
	}
	return fallback
}

// Config is the client configuration for these settings, the account
// email and the token.
func (s Settings) Config(email, token string) Config {
	return Config{BaseURL: s.BaseURL, Email: email, Token: token, Space: s.Space, ParentPageID: s.ParentPageID}
}
