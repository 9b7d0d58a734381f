package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/review"
)

type snapshotOptions struct {
	review     string
	importFile string
	system     string
	kind       string
	allowEmpty bool
}

const snapshotLong = `Freeze the review's access population: every Okta group whose name starts with
okta.group_prefix (case-sensitive), its type, its members with their profile,
and the active group rules, so memberships of rule-targeted groups are marked
"rule" and APP_GROUP ones "app". Okta cannot tell, per member, whether a rule
or an admin added a user: every membership of a group an ACTIVE rule targets
is reported as "rule".

Every Okta response page is a ledger row with its raw body kept as a blob. The
parsed rows are written only when the whole snapshot succeeded, closed by a
derivation row that hashes them. A failure or Ctrl-C leaves the recorded pages
(evidence is never deleted) and no snapshot. A review can be snapshotted more
than once; its current snapshot is the latest complete one.

A listing that matches no group at all is a failure naming okta.group_prefix
(an empty population must never pass as a complete one); --allow-empty records
it on purpose. A configured system that matches no group is a warning.

--import FILE --system NAME adds an app-native export (CSV with a header row:
user_email, entitlement and optional user_name, department, title,
user_type, status, last_login; or JSON with the same keys) for a system not
behind Okta. The file itself is kept as a blob. Every bad row is reported
with its line number and nothing is stored from a bad file.

--import FILE --kind hr keeps the review's HR listing (CSV or JSON: email,
status active|terminated|leave, and optional employee_id, termination_date
YYYY-MM-DD, department, title, manager_email; docs/policy.md). It feeds the
HR checks of 'uar score' (leavers, sign-ins after termination, members with
no HR record, movers who kept their access). One listing per review is
current: a new import replaces the earlier one, and 'uar score' must run
again. It is validated, kept and refused like an app export.

Secrets: UAR_OKTA_TOKEN (auth_mode ssws), or okta.client_id and
okta.private_key_file (auth_mode private_key).

Examples:
  uar snapshot
  uar snapshot --review 2026-Q4 --json
  uar snapshot --import netsuite-roles.csv --system NetSuite
  uar snapshot --import hr.csv --kind hr

EXIT STATUS
  0  the snapshot is complete
  1  failure (nothing but the recorded pages is kept), or no group matched
  2  usage or config error, or a bad import file
  4  Okta refused the credentials
  130 interrupted`

func newSnapshotCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &snapshotOptions{}
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Freeze who has access: Okta SOX groups and members, or an app export",
		Long:  snapshotLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runSnapshot(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.review, "review", "", "review label (default: the current quarter in UTC, e.g. 2026-Q4)")
	cmd.Flags().StringVar(&o.importFile, "import", "", "app-native entitlement export (CSV or JSON) to add")
	cmd.Flags().StringVar(&o.system, "system", "", "the system the --import file belongs to")
	cmd.Flags().StringVar(&o.kind, "kind", "app", "what the --import file is: app (an app export, with --system) or hr (the HR listing)")
	cmd.Flags().BoolVar(&o.allowEmpty, "allow-empty", false, "record a snapshot that matched no group (a deliberate empty population)")
	return cmd
}

func runSnapshot(ctx context.Context, env *Env, g *globalOptions, o *snapshotOptions) error {
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	switch {
	case o.kind != "app" && o.kind != "hr":
		return usageErrorf("--kind %q: want app or hr", o.kind)
	case o.kind == "hr" && (o.importFile == "" || o.system != ""):
		return usageErrorf("--kind hr takes --import FILE and no --system")
	case o.kind == "app" && (o.importFile == "") != (o.system == ""):
		return usageErrorf("--import and --system go together")
	}
	spec := runSpec{command: "snapshot", args: g.args, review: rev, createStore: true, configNeeded: o.importFile == ""}
	if o.kind == "hr" {
		return runSnapshotHR(ctx, env, g, spec, o.importFile)
	}
	if o.importFile != "" {
		// Parse before opening anything: a bad file stores nothing.
		data, err := os.ReadFile(env.path(o.importFile))
		if err != nil {
			return usageErrorf("--import: %v", err)
		}
		name := filepath.Base(o.importFile)
		imp, err := importer.Parse(name, data, o.system)
		if err != nil {
			return &UsageError{Err: err}
		}
		return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
			res, err := review.SnapshotImport(ctx, rc.step, review.ImportFile{Name: name, Data: data, System: o.system, Parsed: imp})
			if err != nil {
				return err
			}
			return printSnapshotSummary(rc, res)
		})
	}
	return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		oc, err := oktaClientConfig(rc)
		if err != nil {
			return err
		}
		client, err := okta.New(ctx, oc, rc.httpClient("okta", oc.RequestTimeout))
		if err != nil {
			return err
		}
		res, err := review.SnapshotOkta(ctx, rc.step, client, review.OktaSnapshotOptions{
			Prefix: rc.cfg.Okta.GroupPrefix, Systems: rc.cfg.Systems, OrgURL: oc.OrgURL, AllowEmpty: o.allowEmpty})
		if err != nil {
			return err
		}
		return printSnapshotSummary(rc, res)
	})
}

// oktaClientConfig is the Okta client configuration of rc's config and
// environment: a usage error naming the setting when one is missing.
func oktaClientConfig(rc *runCtx) (okta.Config, error) {
	s := rc.cfg.Okta
	if err := requireSet("okta.org_url", s.OrgURL); err != nil {
		return okta.Config{}, err
	}
	oc := s.Config(secret(rc.env, EnvOktaToken))
	oc.Now = rc.env.Now
	oc.PrivateKeyFile = rc.env.path(oc.PrivateKeyFile)
	if err := oc.Validate(); err != nil {
		if oc.Token == "" && oc.AuthMode == okta.AuthSSWS {
			return okta.Config{}, WithHint(&UsageError{Err: err}, "export "+EnvOktaToken+" (with 'uar sandbox': run '. ./sandbox.env' in its folder)")
		}
		return okta.Config{}, &UsageError{Err: err}
	}
	return oc, nil
}

func printSnapshotSummary(rc *runCtx, res *review.SnapshotResult) error {
	counts := review.SystemCounts(res.Snap)
	if rc.g.json {
		return writeJSON(rc.env.Stdout, map[string]any{
			"snapshot_id": res.ID, "review": rc.step.Review, "run_id": rc.step.Run.ID, "systems": counts,
			"totals": map[string]int{"groups": len(res.Snap.Groups), "users": len(res.Snap.Users), "memberships": len(res.Snap.Memberships)},
		})
	}
	rows := make([][]string, 0, len(counts))
	for _, c := range counts {
		rows = append(rows, []string{c.System, fmt.Sprint(c.Groups), fmt.Sprint(c.Users), fmt.Sprint(c.Memberships)})
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"SYSTEM", "GROUPS", "USERS", "MEMBERSHIPS"}, rows)
}

// runSnapshotHR keeps the review's HR listing: the file is parsed before
// anything is opened, so a bad file stores nothing.
func runSnapshotHR(ctx context.Context, env *Env, g *globalOptions, spec runSpec, file string) error {
	data, err := os.ReadFile(env.path(file))
	if err != nil {
		return usageErrorf("--import: %v", err)
	}
	name := filepath.Base(file)
	recs, err := importer.ParseHR(name, data)
	if err != nil {
		return &UsageError{Err: err}
	}
	return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		res, err := review.SnapshotHR(ctx, rc.step, review.HRFile{Name: name, Data: data, Records: recs})
		if err != nil {
			return err
		}
		if rc.g.json {
			return writeJSON(rc.env.Stdout, map[string]any{"review": rc.step.Review, "run_id": rc.step.Run.ID, "file": name,
				"hr_listing_id": res.ListingID, "replaces": res.Replaces, "people": res.People, "terminated": res.Terminated, "leave": res.Leave})
		}
		return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"HR LISTING", "FILE", "PEOPLE", "TERMINATED", "LEAVE"},
			[][]string{{fmt.Sprint(res.ListingID), name, fmt.Sprint(res.People), fmt.Sprint(res.Terminated), fmt.Sprint(res.Leave)}})
	})
}
