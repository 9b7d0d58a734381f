package cli

// Secrets come only from the environment, never from uar.yaml or flags,
// and are scrubbed from everything uar stores or prints.

import (
	"slices"
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
	return append(out, env.users.list()...)
}

// knownUsers are the basic-auth user names (emails) read from the config
// files loaded so far, so an error printed after the config was read is
// scrubbed of base64(email:token) too. Shared by copies of an Env.
type knownUsers struct {
	mu    sync.Mutex
	names []string
}

func (k *knownUsers) add(names ...string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range names {
		if n != "" && !slices.Contains(k.names, n) {
			k.names = append(k.names, n)
		}
	}
}

func (k *knownUsers) list() []string {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.names)
}
