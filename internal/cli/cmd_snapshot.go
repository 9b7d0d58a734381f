package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type snapshotOptions struct {
	review     string
	importFile string
	system     string
	kind       string
	allowEmpty bool
	exportedAt string
	acceptGap  string
}

const snapshotLong = `Freeze the review's access population: every Okta group whose name starts with
okta.group_prefix (case-sensitive), its type, its members with their profile,
and the active group rules, so memberships of rule-targeted groups are marked
"rule" and APP_GROUP ones "app". Okta cannot tell, per member, whether a rule
or an admin added a user: every membership of a group an ACTIVE rule targets
is reported as "rule".

Every Okta response page is a ledger row with its raw body kept as a blob, and
is parsed once, from those bytes, as it arrives: its rows are written at once
but stay invisible to every view until the whole snapshot succeeded and a
derivation row has sealed them. A failure or Ctrl-C leaves the recorded pages
(evidence is never deleted) and no snapshot; rows written by a run that did
not finish are removed by the next snapshot. A review can be snapshotted more
than once; its current snapshot is the latest complete one.

Completeness: the group listing asks Okta for each group's own member count
(expand=stats, no extra call) and compares it with the distinct members
paged. A group that disagrees is read again once (its count, then its
members); if it still disagrees the snapshot is recorded with a gap (group,
both counts, both evidence ids), exits 1, and score and publish refuse it
until the gap is accepted with --accept-gap "reason" (recorded with who ran
it). 'uar query completeness' lists every listing with its counts. The
paged count is every distinct user the member listing returned, whatever
their status (deactivated users stay members); whether Okta's usersCount
counts deactivated members too is not documented, so a gap on a group with
DEPROVISIONED members may be only that, for a person to judge and accept.

A listing that matches no group at all is a failure naming okta.group_prefix
(an empty population must never pass as a complete one); --allow-empty records
it on purpose. A configured system that matches no group is a warning.

--import FILE --system NAME adds an app-native export (CSV with a header row:
user_email, entitlement and optional user_name, department, title,
user_type, status, last_login; or JSON with the same keys) for a system not
behind Okta. The file itself is kept as a blob. Every bad row is reported
with its line number and nothing is stored from a bad file. The file's sha256,
data rows, header and export time are recorded: --exported-at TIME (RFC 3339,
or a date), else the file's modification time with a warning. An export older
than snapshot.max_import_age is refused unless --accept-gap "reason".

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
  uar snapshot --import netsuite-roles.csv --system NetSuite --exported-at 2026-12-01T08:00:00Z
  uar snapshot --import hr.csv --kind hr

EXIT STATUS
  0  the snapshot is complete
  1  failure (nothing but the recorded pages is kept), or no group matched;
     or the snapshot was recorded with a completeness gap; or a stale import
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
	cmd.Flags().StringVar(&o.exportedAt, "exported-at", "", "when the --import file was exported (RFC 3339 or YYYY-MM-DD); default: its modification time")
	cmd.Flags().StringVar(&o.acceptGap, "accept-gap", "", "accept an --import older than snapshot.max_import_age, for this reason (recorded)")
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
	case o.kind == "hr" && (o.exportedAt != "" || o.acceptGap != ""):
		// Refused rather than ignored: the HR listing has no export-age
		// check yet, so these would record nothing.
		return usageErrorf("--exported-at and --accept-gap apply to app imports; an HR listing's export time is not checked yet")
	case o.kind == "app" && (o.importFile == "") != (o.system == ""):
		return usageErrorf("--import and --system go together")
	}
	if o.importFile == "" && (o.exportedAt != "" || o.acceptGap != "") {
		return usageErrorf("--exported-at and --accept-gap go with --import (an Okta snapshot's gaps are accepted by score and publish)")
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
		exported, from := time.Time{}, review.ExportedAtFlag
		if o.exportedAt != "" {
			if exported, err = parseExportedAt(o.exportedAt); err != nil {
				return usageErrorf("--exported-at: %v", err)
			}
		} else {
			fi, err := os.Stat(env.path(o.importFile))
			if err != nil {
				return usageErrorf("--import: %v", err)
			}
			exported, from = fi.ModTime().UTC(), review.ExportedAtMtime
		}
		name := filepath.Base(o.importFile)
		imp, err := importer.Parse(name, data, o.system)
		if err != nil {
			return &UsageError{Err: err}
		}
		return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
			res, err := review.SnapshotImport(ctx, rc.step, review.ImportFile{Name: name, Data: data, System: o.system, Parsed: imp,
				ExportedAt: exported, ExportedAtFrom: from, MaxAge: rc.cfg.Snapshot.MaxImportAge, AcceptGap: o.acceptGap})
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
			Prefix: rc.cfg.Okta.GroupPrefix, Systems: rc.cfg.Systems, OrgURL: oc.OrgURL, AllowEmpty: o.allowEmpty,
			EmployeeIDAttribute: rc.cfg.Okta.EmployeeIDAttribute})
		if res == nil {
			return err
		}
		// A snapshot recorded with a gap is printed, then fails (exit 1).
		if perr := printSnapshotSummary(rc, res); perr != nil {
			return perr
		}
		return err
	})
}

// parseExportedAt reads --exported-at: RFC 3339, or a date (midnight UTC).
func parseExportedAt(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-12-01T08:00:00Z) or a date (2026-12-01)", v)
	}
	return t, nil
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
	counts := res.Systems
	if counts == nil {
		counts = []review.SystemCount{}
	}
	if rc.g.json {
		gaps := 0
		for _, l := range res.Listings {
			if l.Status == store.ListingGap || l.Status == store.ListingStale {
				gaps++
			}
		}
		return writeJSON(rc.env.Stdout, map[string]any{
			"snapshot_id": res.ID, "review": rc.step.Review, "run_id": rc.step.Run.ID, "systems": counts,
			"totals":       map[string]int{"groups": res.Groups, "users": res.Users, "memberships": res.Memberships},
			"completeness": map[string]int{"listings": len(res.Listings), "gaps": gaps, "rereads": res.Stats.Rereads},
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
