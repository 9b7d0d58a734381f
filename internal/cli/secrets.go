package cli

// Secrets come only from the environment, never from uar.yaml or flags,
// and are scrubbed from everything uar stores or prints.

import (
	"net/url"
	"slices"
	"strings"
	"sync"
)

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

// basicUsers are the Atlassian accounts whose basic-auth credential
// (base64 of user:token) must be scrubbed: jira.email and
// confluence.email, as the environment or ./uar.yaml gives them. It reads
// the config quietly; an unreadable config contributes nothing.
func basicUsers(env *Env) []string {
	var out []string
	for _, k := range []string{"UAR_JIRA_EMAIL", "UAR_CONFLUENCE_EMAIL"} {
		if v := env.Getenv(k); v != "" {
			out = append(out, v)
		}
	}
	return append(out, env.seen.list()...)
}

// configSeen remembers what the configs loaded so far said, for the error
// report at the end of Main: the Atlassian emails (to scrub their
// basic-auth credentials), each endpoint's host (to name the setting of a
// host that was not found), and whether a config file was read at all.
// Copies of an Env share it.
type configSeen struct {
	mu    sync.Mutex
	users []string
	hosts map[string][]string // host -> config keys
	read  bool
	envOK bool // the UAR_* variables were checked
}

// firstEnvCheck reports true once: the first caller checks the variables.
func (c *configSeen) firstEnvCheck() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.envOK
	c.envOK = true
	return first
}

func (c *configSeen) note(cfg *Config) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range []string{cfg.Jira.Email, cfg.Confluence.Email} {
		if n != "" && !slices.Contains(c.users, n) {
			c.users = append(c.users, n)
		}
	}
	if c.hosts == nil {
		c.hosts = map[string][]string{}
	}
	for key, raw := range map[string]string{"okta.org_url": cfg.Okta.OrgURL, "jira.base_url": cfg.Jira.BaseURL,
		"confluence.base_url": cfg.Confluence.BaseURL, "slack.api_url": cfg.Slack.APIURL, "ai.base_url": cfg.AI.BaseURL} {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" && !slices.Contains(c.hosts[u.Hostname()], key) {
			c.hosts[u.Hostname()] = append(c.hosts[u.Hostname()], key)
			slices.Sort(c.hosts[u.Hostname()])
		}
	}
	c.read = c.read || cfg.File != ""
}

func (c *configSeen) list() []string {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.users)
}

// keysFor names the settings whose URL has host, or every URL setting.
func (c *configSeen) keysFor(host string) string {
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if keys := c.hosts[host]; len(keys) > 0 {
			return strings.Join(keys, ", ")
		}
	}
	return "okta.org_url, jira.base_url, confluence.base_url, slack.api_url and ai.base_url"
}

func (c *configSeen) configRead() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}
