package cli

// This file is the only one that touches viper. Precedence: flags >
// environment (UAR_<SECTION>_<KEY>) > config file > defaults. Secrets are
// never config keys: they are read from the environment by name only.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
)

// Config is uar.yaml (DESIGN §5).
type Config struct {
	DB         string           `mapstructure:"db"`
	Okta       OktaConfig       `mapstructure:"okta"`
	Jira       JiraConfig       `mapstructure:"jira"`
	Confluence ConfluenceConfig `mapstructure:"confluence"`
	Slack      SlackConfig      `mapstructure:"slack"`
	AI         AIConfig         `mapstructure:"ai"`
	Systems    []SystemConfig   `mapstructure:"systems"`
	Policy     string           `mapstructure:"policy"`
	Review     ReviewConfig     `mapstructure:"review"`
	Revoke     RevokeConfig     `mapstructure:"revoke"`

	// File is the config file read ("" when none was found and defaults apply).
	File string `mapstructure:"-"`
}

// OktaConfig is the okta: section.
type OktaConfig struct {
	OrgURL               string        `mapstructure:"org_url"`
	GroupPrefix          string        `mapstructure:"group_prefix"`
	PageSize             int           `mapstructure:"page_size"`
	Concurrency          int           `mapstructure:"concurrency"`
	MaxRequestsPerMinute int           `mapstructure:"max_requests_per_minute"`
	AuthMode             string        `mapstructure:"auth_mode"` // ssws | private_key
	ClientID             string        `mapstructure:"client_id"`
	Scopes               []string      `mapstructure:"scopes"`
	PrivateKeyFile       string        `mapstructure:"private_key_file"`
	PrivateKeyID         string        `mapstructure:"private_key_id"`
	RequestTimeout       time.Duration `mapstructure:"request_timeout"`
}

// JiraConfig is the jira: section.
type JiraConfig struct {
	BaseURL   string `mapstructure:"base_url"`
	Email     string `mapstructure:"email"`
	Project   string `mapstructure:"project"`
	IssueType string `mapstructure:"issue_type"`
}

// ConfluenceConfig is the confluence: section.
type ConfluenceConfig struct {
	BaseURL      string `mapstructure:"base_url"`
	Email        string `mapstructure:"email"`
	Space        string `mapstructure:"space"`
	ParentPageID string `mapstructure:"parent_page_id"`
}

// SlackConfig is the slack: section.
type SlackConfig struct {
	Channel string `mapstructure:"channel"`
	APIURL  string `mapstructure:"api_url"`
}

// AIConfig is the ai: section.
type AIConfig struct {
	Enabled      bool   `mapstructure:"enabled"`
	Model        string `mapstructure:"model"`
	BaseURL      string `mapstructure:"base_url"`
	Pseudonymize bool   `mapstructure:"pseudonymize"`
}

// SystemConfig is one entry of systems:.
type SystemConfig struct {
	Name           string   `mapstructure:"name"`
	Groups         []string `mapstructure:"groups"`
	Owner          string   `mapstructure:"owner"`
	OwnerAccountID string   `mapstructure:"owner_account_id"`
	BackupReviewer string   `mapstructure:"backup_reviewer"`
	Delegates      []string `mapstructure:"delegates"`
}

// ReviewConfig is the review: section.
type ReviewConfig struct {
	WindowDays int `mapstructure:"window_days"`
}

// RevokeConfig is the revoke: section.
type RevokeConfig struct {
	MaxPerRun int `mapstructure:"max_per_run"`
}

// defaults holds every scalar key: viper only applies environment
// overrides to keys it knows (viper #188/#522), and the list doubles as
// the set of keys UAR_* variables may override.
var defaults = map[string]any{
	"db":                           "uar.db",
	"okta.org_url":                 "",
	"okta.group_prefix":            "SOX-",
	"okta.page_size":               200,
	"okta.concurrency":             4,
	"okta.max_requests_per_minute": 300,
	"okta.auth_mode":               "ssws",
	"okta.client_id":               "",
	"okta.scopes":                  []string{"okta.groups.read", "okta.users.read", "okta.groups.manage", "okta.logs.read"},
	"okta.private_key_file":        "",
	"okta.private_key_id":          "",
	"okta.request_timeout":         "120s",
	"jira.base_url":                "",
	"jira.email":                   "",
	"jira.project":                 "UAR",
	"jira.issue_type":              "Task",
	"confluence.base_url":          "",
	"confluence.email":             "",
	"confluence.space":             "SOX",
	"confluence.parent_page_id":    "",
	"slack.channel":                "#sox-uar",
	"slack.api_url":                "",
	"ai.enabled":                   false,
	"ai.model":                     "claude-sonnet-5-5",
	"ai.base_url":                  "",
	"ai.pseudonymize":              true,
	"policy":                       "policy.yaml",
	"review.window_days":           30,
	"revoke.max_per_run":           25,
}

// Secret environment variables (never config keys).
const (
	EnvOktaToken       = "UAR_OKTA_TOKEN"
	EnvJiraToken       = "UAR_JIRA_TOKEN"
	EnvConfluenceToken = "UAR_CONFLUENCE_TOKEN"
	EnvSlackToken      = "UAR_SLACK_TOKEN"
	EnvAnthropicKey    = "UAR_ANTHROPIC_API_KEY"
)

// secretEnvNames lists every variable whose value must be scrubbed from
// anything uar stores or prints.
var secretEnvNames = []string{EnvOktaToken, EnvJiraToken, EnvConfluenceToken, EnvSlackToken, EnvAnthropicKey, "ANTHROPIC_API_KEY"}

// envKey is the UAR_* variable that overrides a config key.
func envKey(key string) string {
	return "UAR_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// loadConfig reads the config file (explicit path, $UAR_CONFIG, or
// ./uar.yaml if present), applies environment overrides and flags, and
// validates. required means a missing file is an error even when implied.
func loadConfig(env *Env, g *globalOptions, required bool) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	file, explicit := g.configFile, g.configFile != ""
	if !explicit {
		if f := env.Getenv("UAR_CONFIG"); f != "" {
			file, explicit = f, true
		} else {
			file = "uar.yaml"
		}
	}
	data, err := os.ReadFile(file)
	switch {
	case err == nil:
		if err := checkKeys(file, data); err != nil {
			return nil, err
		}
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, usageErrorf("config %s: %v", file, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit && !required:
		file = ""
	case errors.Is(err, fs.ErrNotExist):
		return nil, WithHint(usageErrorf("config %s: file not found", file), "run 'uar init' to write one, or pass --config")
	default:
		return nil, usageErrorf("config %s: %v", file, err)
	}
	where := file
	if where == "" {
		where = "defaults"
	}
	// Environment overrides, read through Env so tests control them.
	for k := range defaults {
		if val := env.Getenv(envKey(k)); val != "" {
			if k == "okta.scopes" {
				v.Set(k, strings.Fields(strings.ReplaceAll(val, ",", " ")))
				continue
			}
			v.Set(k, val)
		}
	}
	if g.db != "" {
		v.Set("db", g.db)
	}
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return nil, usageErrorf("config %s: %s", where, tidyDecodeError(err))
	}
	c.File = file
	if err := c.validate(); err != nil {
		return nil, usageErrorf("config %s: %v", where, err)
	}
	return &c, nil
}

// tidyDecodeError shortens mapstructure's multi-line error to its causes,
// which name the key ("'okta.page_size' cannot parse 'abc' as int").
func tidyDecodeError(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*"))
		if l == "" || strings.HasPrefix(l, "decoding failed") || strings.HasSuffix(l, "error(s):") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, "; ")
}

// checkKeys rejects keys the Config does not define, naming file, line and
// key: a typo must never silently disable a control.
func checkKeys(file string, data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return usageErrorf("config %s: %v", file, err)
	}
	if len(root.Content) == 0 {
		return nil
	}
	var problems []string
	walkKeys(file, root.Content[0], reflect.TypeOf(Config{}), "", &problems)
	if len(problems) > 0 {
		return usageErrorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func walkKeys(file string, n *yaml.Node, t reflect.Type, prefix string, problems *[]string) {
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(time.Duration(0)) {
			return
		}
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			*problems = append(*problems, fmt.Sprintf("%s:%d:%d: %s: want a mapping", file, n.Line, n.Column, strings.TrimSuffix(prefix, ".")))
			return
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s:%d:%d: %s%s: unknown key", file, k.Line, k.Column, prefix, k.Value))
				continue
			}
			walkKeys(file, n.Content[i+1], ft, prefix+k.Value+".", problems)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				walkKeys(file, item, t.Elem(), fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i), problems)
			}
		}
	}
}

// validate checks values, naming the key of each problem.
func (c *Config) validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	if c.DB == "" {
		bad("db", "is empty")
	}
	if c.Okta.GroupPrefix == "" {
		bad("okta.group_prefix", "is empty: it would select every group")
	}
	if c.Okta.PageSize < 1 || c.Okta.PageSize > 1000 {
		bad("okta.page_size", "%d is out of range 1..1000", c.Okta.PageSize)
	}
	if c.Okta.Concurrency < 1 || c.Okta.Concurrency > 32 {
		bad("okta.concurrency", "%d is out of range 1..32", c.Okta.Concurrency)
	}
	if c.Okta.MaxRequestsPerMinute < 0 {
		bad("okta.max_requests_per_minute", "must be 0 (no client-side cap) or more")
	}
	switch c.Okta.AuthMode {
	case "ssws", "private_key":
	default:
		bad("okta.auth_mode", "%q: want ssws or private_key", c.Okta.AuthMode)
	}
	if c.Okta.RequestTimeout <= 0 {
		bad("okta.request_timeout", "must be positive")
	}
	for _, u := range []struct{ key, val string }{
		{"okta.org_url", c.Okta.OrgURL}, {"jira.base_url", c.Jira.BaseURL},
		{"confluence.base_url", c.Confluence.BaseURL}, {"slack.api_url", c.Slack.APIURL}, {"ai.base_url", c.AI.BaseURL},
	} {
		if u.val != "" {
			if err := httpx.CheckEndpoint(u.key, u.val); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if c.Review.WindowDays < 1 {
		bad("review.window_days", "must be at least 1")
	}
	if c.Revoke.MaxPerRun < 1 {
		bad("revoke.max_per_run", "must be at least 1")
	}
	seen := map[string]bool{}
	for i, s := range c.Systems {
		key := fmt.Sprintf("systems[%d]", i)
		if strings.TrimSpace(s.Name) == "" {
			bad(key+".name", "is empty")
		} else if seen[strings.ToLower(s.Name)] {
			bad(key+".name", "%q is listed twice", s.Name)
		}
		seen[strings.ToLower(s.Name)] = true
		for j, g := range s.Groups {
			if _, err := path.Match(g, ""); err != nil {
				bad(fmt.Sprintf("%s.groups[%d]", key, j), "bad glob %q", g)
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// modelSystems converts the configured systems.
func (c *Config) modelSystems() []model.System {
	out := make([]model.System, 0, len(c.Systems))
	for _, s := range c.Systems {
		out = append(out, model.System{Name: s.Name, Groups: s.Groups, Owner: s.Owner, OwnerAccountID: s.OwnerAccountID,
			BackupReviewer: s.BackupReviewer, Delegates: s.Delegates})
	}
	return out
}

// requireSet returns a usage error naming every empty key among pairs
// (key, value), for commands that need a service configured.
func requireSet(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return usageErrorf("config: %s not set", strings.Join(missing, ", "))
	}
	return nil
}

// secret reads a secret from the environment; fallbacks are tried in order.
func secret(env *Env, names ...string) string {
	for _, n := range names {
		if v := env.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// secretValues returns every secret set in the environment, to scrub.
func secretValues(env *Env) []string {
	var out []string
	for _, n := range secretEnvNames {
		if v := env.Getenv(n); v != "" {
			out = append(out, v)
		}
	}
	return out
}
