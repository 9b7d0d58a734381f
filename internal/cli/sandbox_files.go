package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
)

const sandboxYAMLHeader = `# Written by 'uar sandbox': every URL below is a FAKE service on loopback.
# The ports change on every start; rerun 'uar sandbox' in an empty folder.
# Credentials: '. ./sandbox.env' (fake tokens accepted only by the sandbox).
# The sandbox Okta has no rate limit unless --okta-rate-limit was given,
# hence max_requests_per_minute: 0 (no client cap); keep a cap for a real org.
`

// sandboxConfig is the uar.yaml for a running sandbox: the defaults, with
// every endpoint pointing at a fake and the systems of the org served.
func sandboxConfig(o *sandboxOptions, sb *sandbox.Running, systems []model.System) Config {
	c := DefaultConfig()
	c.Okta.OrgURL = sb.URL(sandbox.ServiceOkta)
	c.Okta.GroupPrefix = sandbox.GroupPrefix
	c.Okta.PageSize = 1000
	c.Okta.MaxRequestsPerMinute = 0
	if o.rateLimit > 0 {
		c.Okta.MaxRequestsPerMinute = max(1, o.rateLimit/2) // stay well under the org's limit, as for a real org
	}
	if !o.oktaOnly {
		c.Jira.BaseURL, c.Jira.Email, c.Jira.Project = sb.URL(sandbox.ServiceJira), sandbox.JiraEmail, sandbox.JiraProject
		c.Confluence.BaseURL, c.Confluence.Space = sb.URL(sandbox.ServiceConfluence), sandbox.SpaceKey
		c.Slack.Channel, c.Slack.APIURL = sandbox.SlackChannel, sb.URL(sandbox.ServiceSlack)
		c.AI.BaseURL = sb.URL(sandbox.ServiceAnthropic)
	}
	c.Systems = systems
	return c
}

// sandboxWriteFiles writes uar.yaml (exclusively), sandbox.env and, if
// absent, policy.yaml; it returns the paths written.
func sandboxWriteFiles(o *sandboxOptions, cfgPath string, sb *sandbox.Running, systems []model.System) ([]string, error) {
	body, err := yaml.Marshal(sandboxConfig(o, sb, systems))
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := sandboxWriteExcl(cfgPath, append([]byte(sandboxYAMLHeader), body...), 0o644); err != nil {
		return nil, err
	}
	written := []string{cfgPath}

	var envFile strings.Builder
	envFile.WriteString("# Written by 'uar sandbox'. These are SANDBOX-ONLY FAKE tokens: the fake\n" +
		"# services on loopback accept them and nothing real does. Never put a real\n" +
		"# token in a file; export real ones from a secret store instead.\n")
	fmt.Fprintf(&envFile, "export %s=%s\n", EnvOktaToken, sandbox.OktaToken)
	if !o.oktaOnly {
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvJiraToken, sandbox.JiraToken)
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvConfluenceToken, sandbox.JiraToken)
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvSlackToken, sandbox.SlackToken)
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvAnthropicKey, sandbox.AnthropicKey)
	}
	envPath := filepath.Join(o.dir, "sandbox.env")
	// The tokens are fixed, so an existing sandbox.env from an earlier
	// start is rewritten (it holds no user data); uar.yaml is never.
	if err := os.WriteFile(envPath, []byte(envFile.String()), 0o600); err != nil {
		return written, fmt.Errorf("sandbox: %w", err)
	}
	written = append(written, envPath)

	polPath := filepath.Join(o.dir, "policy.yaml")
	if err := sandboxWriteExcl(polPath, []byte(score.ExamplePolicy), 0o644); err == nil {
		written = append(written, polPath)
	} else if !errors.Is(err, fs.ErrExist) {
		return written, err
	}
	return written, nil
}

// sandboxWriteHR writes the HR listings that go with the served org, if
// absent: the reference org's (orgs/README.md), or those generated for a
// generated org (same seed); an org loaded from a file has none.
func sandboxWriteHR(o *sandboxOptions, org *sandbox.Org) ([]string, error) {
	var files sandbox.HRFiles
	switch {
	case o.generate != "":
		gen, err := sandboxParseGenerate(o.generate)
		if err != nil {
			return nil, err
		}
		files = sandbox.GenerateHR(org, gen.Seed)
	case o.org == "reference":
		files = sandbox.HRFiles{Current: sandbox.ReferenceHR(), Previous: sandbox.ReferenceHRPrevious()}
	default:
		return nil, nil
	}
	var written []string
	for name, data := range map[string][]byte{"hr.csv": files.Current, "hr-previous.csv": files.Previous} {
		p := filepath.Join(o.dir, name)
		if err := sandboxWriteExcl(p, data, 0o644); err == nil {
			written = append(written, p)
		} else if !errors.Is(err, fs.ErrExist) {
			return written, err
		}
	}
	slices.Sort(written)
	return written, nil
}

// sandboxWriteExcl creates path with data, failing if it exists (O_EXCL
// also closes the race with another process creating it meanwhile).
func sandboxWriteExcl(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		if filepath.Base(path) == "uar.yaml" {
			return WithHint(usageErrorf("%s exists: the sandbox never overwrites a config", path),
				"pass --dir with another folder, or remove the file")
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("sandbox: write %s: %w", path, err)
	}
	return f.Close()
}

func sandboxLines(services []sandbox.Service) string {
	var b strings.Builder
	for _, s := range services {
		fmt.Fprintf(&b, "%s %s\n", s.Name, s.URL)
	}
	return b.String()
}

// sandboxWriteReady writes the URL lines to path atomically (a temporary
// file renamed into place), so a script polling for it never reads half.
func sandboxWriteReady(path string, services []sandbox.Service) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(sandboxLines(services)), 0o644); err != nil {
		return fmt.Errorf("sandbox: --ready-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sandbox: --ready-file: %w", err)
	}
	return nil
}

func sandboxPrint(env *Env, g *globalOptions, services []sandbox.Service, files []string) error {
	if g.json {
		urls := map[string]string{}
		for _, s := range services {
			urls[s.Name] = s.URL
		}
		return writeJSON(env.Stdout, map[string]any{"services": urls, "files": files})
	}
	_, err := fmt.Fprint(env.Stdout, sandboxLines(services))
	return err
}
