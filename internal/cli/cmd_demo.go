package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
)

type demoOptions struct{ dir string }

const demoLong = `Play a whole quarterly review offline, in a minute, against fake Okta, Jira,
Confluence and Slack servers started inside this process (the sandbox, loaded
with a small reference org):

  snapshot -> score -> publish -> owners comment in Jira -> parse-decisions
  -> revoke -> report -> verify

The owners' comments are scripted, including the ones uar must refuse or
hold: a non-owner's REVOKE, an owner certifying her own access, and a
CERTIFY: all over accesses with HIGH findings. Every step is the real command
(the same code a real review runs); each one is narrated on stderr, and a
summary ends on stdout.

The folder (--dir, default ./uar-demo) keeps what a real review leaves: the
evidence store uar.db, report.xlsx, report.html, uar.yaml and policy.yaml.
Running the demo again in the same folder starts it afresh; a folder with
other files is refused.

Examples:
  uar demo
  uar demo --dir /tmp/uar-demo
  cd uar-demo && uar verify && uar query access

EXIT STATUS
  0  the whole loop ran
  1  a step failed (its error is printed)
  2  usage error, or --dir holds files the demo did not write`

const demoMarker = ".uar-demo"

func newDemoCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play a whole review offline against built-in fake services",
		Long:  demoLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDemo(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "uar-demo", "folder for the demo's store, report and config")
	return cmd
}

// demo is one demo run: the sandbox, the folder and the narration.
type demo struct {
	env  *Env
	g    *globalOptions
	sb   *sandbox.Running
	dir  string
	step int
	sum  demoSummary
}

// demoSummary is the demo's result (the --json document).
type demoSummary struct {
	Dir         string         `json:"dir"`
	Store       string         `json:"store"`
	Reports     []string       `json:"reports"`
	Findings    map[string]int `json:"findings"`
	Accepted    int            `json:"decisions_accepted"`
	Refused     []string       `json:"decisions_refused"`
	Pending     int            `json:"accesses_pending"`
	Revocations map[string]int `json:"revocations"`
	Verified    bool           `json:"verified"`
}

func runDemo(ctx context.Context, env *Env, g *globalOptions, o *demoOptions) error {
	dir, err := filepath.Abs(env.path(o.dir))
	if err != nil {
		return usageErrorf("--dir: %v", err)
	}
	if err := demoFolder(dir); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Clock: sandbox.Clock(env.Now)})
	if err != nil {
		return err
	}
	defer sb.Close()
	d := &demo{env: env, g: g, sb: sb, dir: dir, sum: demoSummary{Dir: dir, Store: filepath.Join(dir, "uar.db"),
		Findings: map[string]int{}, Revocations: map[string]int{}, Refused: []string{}, Reports: []string{}}}
	if err := d.writeConfig(); err != nil {
		return err
	}
	start := time.Now()
	for _, st := range []struct {
		say string
		run func(context.Context) error
	}{
		{"snapshot: freezing who has access (Okta groups SOX-*, every page kept as evidence)", d.snapshot},
		{"score: segregation of duties, contractors, dormant and inactive accounts", d.score},
		{"publish: Confluence review page, one Jira ticket per system, a Slack summary", d.publish},
		{"owners answer in their tickets (scripted: including lines uar must refuse)", d.comment},
		{"parse-decisions: every line recorded, accepted or refused with a reason", d.decisions},
		{"revoke: removing the revoked accesses in Okta and proving each one", d.revoke},
		{"report: the auditor's workbook", d.report},
		{"verify: the evidence chain, blobs, derived tables, schema and runs", d.verify},
	} {
		d.step++
		d.say("%d/8 %s", d.step, st.say)
		if err := st.run(ctx); err != nil {
			return fmt.Errorf("demo step %d: %w", d.step, err)
		}
	}
	d.say("done in %s", time.Since(start).Round(100*time.Millisecond))
	return d.print()
}

// demoFolder makes dir ready: created, or emptied of an earlier demo; any
// other content is refused (the demo never deletes a user's files).
func demoFolder(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return fmt.Errorf("demo: %w", err)
	case len(ents) == 0:
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
		return WithHint(usageErrorf("--dir %s is not empty and was not written by uar demo", dir), "pass --dir with a new folder")
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("demo: clear %s: %w", dir, err)
		}
	}
	return nil
}

func (d *demo) say(format string, args ...any) {
	if !d.g.quiet && !d.g.json {
		fmt.Fprintf(d.env.Stderr, "uar demo: "+format+"\n", args...)
	}
}

// writeConfig writes uar.yaml (absolute paths, the sandbox's URLs),
// policy.yaml and the marker.
func (d *demo) writeConfig() error {
	cfg := sandboxConfig(&sandboxOptions{}, d.sb, sandbox.ReferenceSystems())
	cfg.DB = filepath.Join(d.dir, "uar.db")
	cfg.Policy = filepath.Join(d.dir, "policy.yaml")
	body, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := "# Written by 'uar demo': every URL is a FAKE service that existed only while the demo ran.\n"
	for name, data := range map[string]string{"uar.yaml": header + string(body), "policy.yaml": score.ExamplePolicy,
		demoMarker: "written by uar demo; running it again here starts afresh\n"} {
		if err := os.WriteFile(filepath.Join(d.dir, name), []byte(data), 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// uar runs one real command against the demo's config and fake tokens and
// decodes its --json output into out (nil: discarded).
func (d *demo) uar(ctx context.Context, out any, args ...string) error {
	env := *d.env
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr, env.StdoutTTY, env.StderrTTY = &stdout, &stderr, false, false
	vars := map[string]string{
		"UAR_CONFIG": filepath.Join(d.dir, "uar.yaml"), EnvOktaToken: sandbox.OktaToken, EnvJiraToken: sandbox.JiraToken,
		EnvSlackToken: sandbox.SlackToken, EnvAnthropicKey: sandbox.AnthropicKey, "UAR_ACTOR": "uar-demo",
	}
	env.Getenv = func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		if strings.HasPrefix(k, "UAR_") || k == "ANTHROPIC_API_KEY" {
			return "" // the demo ignores the caller's uar settings and secrets
		}
		return d.env.Getenv(k)
	}
	full := append(args, "--json")
	if code := Main(ctx, full, &env); code != 0 {
		return fmt.Errorf("uar %s exited %d: %s", strings.Join(args, " "), code, strings.TrimSpace(stderr.String()))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(&stdout).Decode(out)
}

func (d *demo) snapshot(ctx context.Context) error {
	var res struct {
		Totals map[string]int `json:"totals"`
	}
	if err := d.uar(ctx, &res, "snapshot"); err != nil {
		return err
	}
	d.say("    %d groups, %d users, %d memberships", res.Totals["groups"], res.Totals["users"], res.Totals["memberships"])
	return nil
}

func (d *demo) score(ctx context.Context) error {
	var res struct {
		Findings []struct {
			Risk      string `json:"risk"`
			UserLogin string `json:"user_login"`
			RuleID    string `json:"rule_id"`
		} `json:"findings"`
	}
	if err := d.uar(ctx, &res, "score"); err != nil {
		return err
	}
	for _, f := range res.Findings {
		d.sum.Findings[f.Risk]++
		if f.Risk == "HIGH" {
			d.say("    HIGH %s: %s", f.RuleID, f.UserLogin)
		}
	}
	return nil
}

func (d *demo) publish(ctx context.Context) error {
	var res struct {
		Publications []struct {
			Service, Kind, System, URL string
			ExternalKey                string `json:"external_key"`
		} `json:"publications"`
	}
	if err := d.uar(ctx, &res, "publish"); err != nil {
		return err
	}
	for _, p := range res.Publications {
		if p.Kind == "ticket" && p.ExternalKey != "" {
			d.say("    %s ticket %s", p.System, p.ExternalKey)
		}
	}
	return nil
}

// demoComments are the owners' answers: NetSuite's owner certifies all
// (held back on the HIGH accesses, refused on her own) and revokes two
// accesses; a non-owner tries a revocation; the CFO decides the owner's
// own access; Workday's and Salesforce's owners answer too.
var demoComments = []struct{ key, author, text string }{
	{"UAR-1", "nina.patel@company.com", "CERTIFY: all"},
	{"UAR-1", "nina.patel@company.com", "REVOKE: ivan.petrov@company.com -- the consultancy ended in November"},
	{"UAR-1", "nina.patel@company.com", "REVOKE: dave.kim@company.com from SOX-NetSuite-Admins -- IT must not administer the ERP"},
	{"UAR-1", "sam.rivera@company.com", "REVOKE: alice.nguyen@company.com"},
	{"UAR-1", "cfo@company.com", "CERTIFY: nina.patel@company.com -- the owner's own access, reviewed by the CFO"},
	{"UAR-2", "sam.rivera@company.com", "CERTIFY: grace.lee@company.com -- Sales operations lead; AD group reviewed"},
	{"UAR-3", "erin.lopez@company.com", "CERTIFY: all"},
}

func (d *demo) comment(_ context.Context) error {
	for _, c := range demoComments {
		if _, err := d.sb.Jira.AddComment(c.key, c.author, c.text, d.env.Now(), time.Time{}); err != nil {
			return err
		}
		d.say("    %s %s: %s", c.key, c.author, c.text)
	}
	return nil
}

func (d *demo) decisions(ctx context.Context) error {
	var res struct {
		Systems []struct {
			System                      string `json:"system"`
			Certified, Revoked, Pending int
		} `json:"systems"`
		Rejected []struct {
			Line   string `json:"line"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	if err := d.uar(ctx, &res, "parse-decisions"); err != nil {
		return err
	}
	for _, s := range res.Systems {
		d.sum.Accepted += s.Certified + s.Revoked
		d.sum.Pending += s.Pending
		d.say("    %s: %d certified, %d revoked, %d pending", s.System, s.Certified, s.Revoked, s.Pending)
	}
	for _, r := range res.Rejected {
		d.sum.Refused = append(d.sum.Refused, fmt.Sprintf("%q: %s", r.Line, r.Reason))
		d.say("    refused %q: %s", r.Line, r.Reason)
	}
	return nil
}

func (d *demo) revoke(ctx context.Context) error {
	var res struct {
		Revocations []struct {
			User   string `json:"user_login"`
			Group  string `json:"group_name"`
			Status string `json:"status"`
		} `json:"revocations"`
	}
	if err := d.uar(ctx, &res, "revoke"); err != nil {
		return err
	}
	for _, r := range res.Revocations {
		d.sum.Revocations[r.Status]++
		d.say("    %s from %s: %s", r.User, r.Group, r.Status)
	}
	return nil
}

func (d *demo) report(ctx context.Context) error {
	for _, f := range []struct{ name, format string }{{"report.xlsx", "xlsx"}, {"report.html", "html"}} {
		path := filepath.Join(d.dir, f.name)
		if err := d.uar(ctx, nil, "report", "--format", f.format, "-o", path); err != nil {
			return err
		}
		d.sum.Reports = append(d.sum.Reports, path)
		d.say("    %s", path)
	}
	return nil
}

func (d *demo) verify(ctx context.Context) error {
	var res struct {
		OK bool `json:"ok"`
	}
	if err := d.uar(ctx, &res, "verify", "--rederive"); err != nil {
		return err
	}
	d.sum.Verified = res.OK
	return nil
}

func (d *demo) print() error {
	if d.g.json {
		return writeJSON(d.env.Stdout, d.sum)
	}
	w := d.env.Stdout
	fmt.Fprintf(w, "uar demo: a whole review of the reference org, offline\n\n")
	fmt.Fprintf(w, "findings        %d HIGH, %d MEDIUM, %d LOW\n", d.sum.Findings["HIGH"], d.sum.Findings["MEDIUM"], d.sum.Findings["LOW"])
	fmt.Fprintf(w, "decisions       %d accesses decided, %d refused lines, %d accesses still pending\n", d.sum.Accepted, len(d.sum.Refused), d.sum.Pending)
	fmt.Fprintf(w, "revocations     %d done (proven in Okta), %d failed\n", d.sum.Revocations["done"], d.sum.Revocations["failed"])
	fmt.Fprintf(w, "evidence        %s (verify: ok)\n", d.sum.Store)
	for _, r := range d.sum.Reports {
		fmt.Fprintf(w, "report          %s\n", r)
	}
	fmt.Fprintf(w, "\nnext:\n  cd %s\n  uar verify                 # the chain, blobs, derived tables, schema\n", d.dir)
	fmt.Fprintf(w, "  uar query access           # who has access, and each decision\n  uar query --list           # the auditor's named queries\n")
	// The sandbox gets a folder of its own, beside this one: it refuses to
	// replace the demo's uar.yaml (not one it wrote), and a demo folder
	// holding anything else is not started afresh.
	fmt.Fprintf(w, "  uar sandbox --dir ../uar-sandbox  # the fake services, to play the loop by hand\n")
	return nil
}
