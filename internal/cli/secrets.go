package cli

// Secrets come only from the environment, never from uar.yaml or flags,
// and are scrubbed from everything uar stores or prints.

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
