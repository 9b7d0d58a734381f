package jira

import "github.com/uar-dev/uar/internal/httpx"

// Settings is the jira: section of uar.yaml (DESIGN §5); the token comes
// from UAR_JIRA_TOKEN (see [Settings.Config]).
type Settings struct {
	BaseURL   string `mapstructure:"base_url" yaml:"base_url"`
	Email     string `mapstructure:"email" yaml:"email"`
	Project   string `mapstructure:"project" yaml:"project"`
	IssueType string `mapstructure:"issue_type" yaml:"issue_type"`
}

// DefaultSettings are the jira: defaults.
func DefaultSettings() Settings { return Settings{Project: "UAR", IssueType: DefaultIssueType} }

// Validate checks the values as written; an unset base URL is fine until
// a command needs Jira.
func (s Settings) Validate() error {
	if s.BaseURL != "" {
		return httpx.CheckEndpoint("jira.base_url", s.BaseURL)
	}
	return nil
}

// Config is the client configuration for these settings and token.
func (s Settings) Config(token string) Config {
	return Config{BaseURL: s.BaseURL, Email: s.Email, Token: token, Project: s.Project, IssueType: s.IssueType}
}
