package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/score"
)

const initLong = `Write a commented uar.yaml and policy.yaml in the current folder and create
the evidence store. Existing files are never overwritten.

Secrets are never written to uar.yaml: set UAR_OKTA_TOKEN, UAR_JIRA_TOKEN,
UAR_CONFLUENCE_TOKEN, UAR_SLACK_TOKEN (and UAR_ANTHROPIC_API_KEY for the
optional AI pass) in the environment.

Examples:
  uar init
  uar init --db evidence/uar.db

EXIT STATUS
  0  ok
  1  a file could not be written
  2  usage error`

func newInitCmd(env *Env, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Write a commented uar.yaml and policy.yaml and create the store",
		Long:  initLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runInit(c.Context(), env, g)
		},
	}
}

func runInit(ctx context.Context, env *Env, g *globalOptions) error {
	u := ui{env: env, g: g}
	cfgPath := g.configFile
	if cfgPath == "" {
		cfgPath = "uar.yaml"
	}
	var written []string
	tmpl := configTemplate
	if g.db != "" {
		// The config written must point at the store created: the next
		// command (without --db) must find it.
		q, err := json.Marshal(g.db) // a YAML double-quoted scalar
		if err != nil {
			return err
		}
		tmpl = strings.Replace(tmpl, "db: uar.db                      #", fmt.Sprintf("db: %s #", q), 1)
		if dir := filepath.Dir(g.db); dir != "." {
			if err := os.MkdirAll(env.path(dir), 0o700); err != nil {
				return fmt.Errorf("init: --db %s: %w", g.db, err)
			}
		}
	}
	wrote, err := writeNew(env.path(cfgPath), []byte(tmpl))
	if err != nil {
		return err
	}
	if wrote {
		written = append(written, cfgPath)
	} else {
		u.Infof("%s exists: left unchanged", cfgPath)
	}
	// The config decides where the policy and the store go.
	gg := *g
	gg.configFile = cfgPath
	cfg, err := loadConfig(env, &gg, true)
	if err != nil {
		return err
	}
	wrote, err = writeNew(env.path(cfg.Policy), []byte(score.ExamplePolicy))
	if err != nil {
		return err
	}
	if wrote {
		written = append(written, cfg.Policy)
	} else {
		u.Infof("%s exists: left unchanged", cfg.Policy)
	}
	_, statErr := os.Stat(env.path(cfg.DB))
	err = withRun(ctx, env, &gg, runSpec{command: "init", args: g.args, createStore: true, configNeeded: true},
		func(ctx context.Context, rc *runCtx) error { return nil })
	if err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		written = append(written, cfg.DB)
	} else {
		u.Infof("%s exists: left unchanged", cfg.DB)
	}
	if g.json {
		if written == nil {
			written = []string{}
		}
		return writeJSON(env.Stdout, map[string]any{"written": written})
	}
	for _, w := range written {
		fmt.Fprintln(env.Stdout, w)
	}
	u.Infof("next: set UAR_OKTA_TOKEN and okta.org_url, list your systems in %s, then run 'uar snapshot'", cfgPath)
	return nil
}

// writeNew writes data to path only if nothing is there (O_EXCL), so init
// can never overwrite a file the user edited.
func writeNew(path string, data []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("init: write %s: %w", path, err)
	}
	return true, f.Close()
}

const configTemplate = `# uar configuration. Every key can be overridden from the environment as
# UAR_<SECTION>_<KEY> (e.g. UAR_OKTA_ORG_URL). An unknown key is an error:
# a typo must never silently disable a control.
#
# Secrets are NEVER read from this file. Set them in the environment:
#   UAR_OKTA_TOKEN        Okta API token (SSWS)
#   UAR_JIRA_TOKEN        Atlassian API token for jira.email
#   UAR_CONFLUENCE_TOKEN  defaults to UAR_JIRA_TOKEN
#   UAR_SLACK_TOKEN       Slack bot token (xoxb-...)
#   UAR_ANTHROPIC_API_KEY optional AI pass (falls back to ANTHROPIC_API_KEY)

db: uar.db                      # the evidence store (SQLite); hand it to your auditor

okta:
  org_url: https://acme.okta.com  # http:// is accepted only for loopback hosts
  group_prefix: "SOX-"            # only groups whose name starts with this (case-sensitive)
  page_size: 200
  concurrency: 4
  max_requests_per_minute: 300    # stay well under the org's limit; 429s are honoured too
  auth_mode: ssws                 # ssws (UAR_OKTA_TOKEN) or private_key (OAuth service app)
  # client_id: 0oa...             # private_key only
  # scopes: [okta.groups.read, okta.users.read, okta.groups.manage, okta.logs.read]
  # private_key_file: okta.pem    # private_key only: a path, never the key itself
  # private_key_id: ""            # private_key only: the key id (kid), if registered with one
  # request_timeout: 2m0s         # per Okta call, retries included
  employee_id_attribute: employeeNumber  # the profile attribute read as the employee id (HR listings match on it)

jira:
  base_url: https://acme.atlassian.net
  email: svc-uar@acme.com
  project: UAR
  issue_type: Task

confluence:
  base_url: https://acme.atlassian.net  # API paths add /wiki/api/v2/...
  email: ""                             # defaults to jira.email
  space: SOX
  parent_page_id: ""

slack:
  channel: "#sox-uar"
  api_url: ""                     # default https://slack.com/api/

ai:
  enabled: false                  # optional, advisory only; never drives a revocation
  model: claude-sonnet-5-5
  base_url: ""
  pseudonymize: true              # identities are replaced by stable tokens before leaving

systems:                          # which groups belong to which system, and who reviews them
  - name: NetSuite
    groups: ["SOX-NetSuite-*"]    # globs over group names
    owner: nina.patel@acme.com    # Jira user (email; or owner_account_id)
    owner_account_id: ""
    backup_reviewer: cfo@acme.com # reviews the owner's own access
    delegates: []
# Groups matched by no system fall back to SOX-<System>-<Role> naming.

policy: policy.yaml

review:
  window_days: 30                 # owners decide within this many days of the first publish
  remind_days: [7, 3, 1]          # uar remind nudges this many days before the deadline
  certify_all_covers_high: false  # false: CERTIFY: all leaves accesses with an open HIGH finding pending

snapshot:
  max_import_age: 168h            # imports exported longer ago are refused unless accepted explicitly

revoke:
  max_per_run: 25                 # blast-radius cap; more needs --max N explicitly
`
