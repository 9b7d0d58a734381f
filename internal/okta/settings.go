package okta

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
)

// Settings is the okta: section of uar.yaml (DESIGN §5). The token is
// never a setting: it comes from UAR_OKTA_TOKEN (see [Settings.Config]).
type Settings struct {
	OrgURL      string `mapstructure:"org_url" yaml:"org_url"`
	GroupPrefix string `mapstructure:"group_prefix" yaml:"group_prefix"`
	PageSize    int    `mapstructure:"page_size" yaml:"page_size"`
	Concurrency int    `mapstructure:"concurrency" yaml:"concurrency"`
	// MaxRequestsPerMinute is the client-side cap; 0 disables it (the SDK
	// still honours 429s and uar still pauses on a low X-Rate-Limit-Remaining).
	MaxRequestsPerMinute int           `mapstructure:"max_requests_per_minute" yaml:"max_requests_per_minute"`
	AuthMode             string        `mapstructure:"auth_mode" yaml:"auth_mode"`
	ClientID             string        `mapstructure:"client_id" yaml:"client_id"`
	Scopes               []string      `mapstructure:"scopes" yaml:"scopes"`
	PrivateKeyFile       string        `mapstructure:"private_key_file" yaml:"private_key_file"`
	PrivateKeyID         string        `mapstructure:"private_key_id" yaml:"private_key_id"`
	RequestTimeout       time.Duration `mapstructure:"request_timeout" yaml:"request_timeout"`
	// EmployeeIDAttribute is the Okta profile attribute read into
	// model.User.EmployeeNumber (the HR listing is matched on it).
	EmployeeIDAttribute string `mapstructure:"employee_id_attribute" yaml:"employee_id_attribute"`
}

// DefaultSettings are the okta: defaults.
func DefaultSettings() Settings {
	return Settings{
		GroupPrefix: "SOX-", PageSize: DefaultPageSize, Concurrency: DefaultConcurrency,
		MaxRequestsPerMinute: DefaultMaxRequestsPerMinute, AuthMode: AuthSSWS,
		Scopes:              []string{"okta.groups.read", "okta.users.read", "okta.groups.manage", "okta.logs.read"},
		RequestTimeout:      120 * time.Second,
		EmployeeIDAttribute: DefaultEmployeeIDAttribute,
	}
}

// Validate checks the values as written (not whether a token is set);
// errors name the key.
func (s Settings) Validate() error {
	var errs []error
	if s.OrgURL != "" {
		if err := httpx.CheckEndpoint("okta.org_url", s.OrgURL); err != nil {
			errs = append(errs, err)
		}
	}
	if s.GroupPrefix == "" {
		errs = append(errs, errors.New("okta.group_prefix: is empty: it would select every group"))
	}
	if s.PageSize < 1 || s.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("okta.page_size: %d is out of range 1..1000", s.PageSize))
	}
	if s.Concurrency < 1 || s.Concurrency > 32 {
		errs = append(errs, fmt.Errorf("okta.concurrency: %d is out of range 1..32", s.Concurrency))
	}
	if s.MaxRequestsPerMinute < 0 {
		errs = append(errs, errors.New("okta.max_requests_per_minute: must be 0 (no client-side cap) or more"))
	}
	switch s.AuthMode {
	case AuthSSWS, AuthPrivateKey:
	default:
		errs = append(errs, fmt.Errorf("okta.auth_mode: %q: want ssws or private_key", s.AuthMode))
	}
	if s.RequestTimeout <= 0 {
		errs = append(errs, errors.New("okta.request_timeout: must be positive"))
	}
	if s.EmployeeIDAttribute == "" || strings.ContainsAny(s.EmployeeIDAttribute, " \"\\./") {
		errs = append(errs, fmt.Errorf("okta.employee_id_attribute: %q: want a profile attribute name such as employeeNumber", s.EmployeeIDAttribute))
	}
	return errors.Join(errs...)
}

// Config is the client configuration for these settings and token.
func (s Settings) Config(token string) Config {
	perMin := s.MaxRequestsPerMinute
	if perMin == 0 {
		perMin = -1 // the file's "no cap"
	}
	return Config{
		OrgURL: s.OrgURL, Token: token, AuthMode: s.AuthMode, ClientID: s.ClientID, Scopes: s.Scopes,
		PrivateKeyFile: s.PrivateKeyFile, PrivateKeyID: s.PrivateKeyID, PageSize: s.PageSize,
		Concurrency: s.Concurrency, MaxRequestsPerMinute: perMin, RequestTimeout: s.RequestTimeout,
		EmployeeIDAttribute: s.EmployeeIDAttribute,
	}
}
