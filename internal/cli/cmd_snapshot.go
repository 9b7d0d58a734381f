package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/store"
)

func init() { extraCommands = append(extraCommands, newSnapshotCmd) }

type snapshotOptions struct {
	review     string
	importFile string
	system     string
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

--import FILE --system NAME adds an app-native export (CSV with a header row:
user_email, entitlement and optional user_name, department, title,
user_type, status, last_login; or JSON with the same keys) for a system not
behind Okta. The file itself is kept as a blob. Every bad row is reported
with its line number and nothing is stored from a bad file.

Secrets: UAR_OKTA_TOKEN (auth_mode ssws), or okta.client_id and
okta.private_key_file (auth_mode private_key).

Examples:
  uar snapshot
  uar snapshot --review 2026-Q4 --json
  uar snapshot --import netsuite-roles.csv --system NetSuite

EXIT STATUS
  0  the snapshot is complete
  1  failure (nothing but the recorded pages is kept)
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
	return cmd
}

func runSnapshot(ctx context.Context, env *Env, g *globalOptions, o *snapshotOptions) error {
	review, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	if (o.importFile == "") != (o.system == "") {
		return usageErrorf("--import and --system go together")
	}
	spec := runSpec{command: "snapshot", args: g.args, review: review, createStore: true, configNeeded: o.importFile == ""}
	if o.importFile != "" {
		// Parse before opening anything: a bad file stores nothing.
		data, err := os.ReadFile(o.importFile)
		if err != nil {
			return usageErrorf("--import: %v", err)
		}
		imp, err := importer.Parse(filepath.Base(o.importFile), data, o.system)
		if err != nil {
			return &UsageError{Err: err}
		}
		return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
			return saveImport(ctx, rc, filepath.Base(o.importFile), data, o.system, imp)
		})
	}
	return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		return snapshotOkta(ctx, rc)
	})
}

func oktaConfig(rc *runCtx) (okta.Config, error) {
	c := rc.cfg.Okta
	if err := requireSet("okta.org_url", c.OrgURL); err != nil {
		return okta.Config{}, err
	}
	perMin := c.MaxRequestsPerMinute
	if perMin == 0 {
		perMin = -1
	}
	oc := okta.Config{
		OrgURL: c.OrgURL, Token: secret(rc.env, EnvOktaToken), AuthMode: c.AuthMode, ClientID: c.ClientID,
		Scopes: c.Scopes, PrivateKeyFile: c.PrivateKeyFile, PrivateKeyID: c.PrivateKeyID,
		PageSize: c.PageSize, Concurrency: c.Concurrency, MaxRequestsPerMinute: perMin, RequestTimeout: c.RequestTimeout,
	}
	if err := oc.Validate(); err != nil {
		return okta.Config{}, &UsageError{Err: err}
	}
	return oc, nil
}

func snapshotOkta(ctx context.Context, rc *runCtx) error {
	oc, err := oktaConfig(rc)
	if err != nil {
		return err
	}
	client, err := okta.New(ctx, oc, rc.httpClient("okta", oc.RequestTimeout))
	if err != nil {
		return err
	}
	opts := okta.SnapshotOptions{
		Prefix: rc.cfg.Okta.GroupPrefix, Systems: rc.cfg.modelSystems(), TakenAt: rc.runAt,
		Progress: func(p okta.Progress) {
			rc.ui.Progress("snapshot: %s: %d/%d groups, %d memberships", p.Phase, p.GroupsDone, p.GroupsTotal, p.Memberships)
		},
	}
	snap, stats, err := client.Snapshot(ctx, opts)
	rc.ui.ProgressDone()
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	var sid int64
	err = rc.store.WithTx(ctx, func(tx *store.Tx) error {
		evID, err := evidence.NextID(ctx, tx)
		if err != nil {
			return err
		}
		sid, err = tx.InsertSnapshot(ctx, store.SnapshotHeader{Review: rc.review, Source: store.SnapshotOkta, RunID: rc.run.ID}, snap, evID)
		if err != nil {
			return err
		}
		_, err = rc.ledger.Seal(ctx, tx, "snapshot.okta", snapshotScopes(sid), map[string]any{
			"snapshot_id": sid, "prefix": opts.Prefix, "systems": opts.Systems, "org_url": oc.OrgURL,
			"stats": map[string]any{"requests": stats.Requests, "min_requests": stats.MinRequests, "group_pages": stats.GroupPages,
				"member_pages": stats.MemberPages, "rule_pages": stats.RulePages, "responses_429": stats.Responses429,
				"groups_dropped": stats.GroupsDropped},
		})
		return err
	})
	if err != nil {
		return err
	}
	rc.ui.Infof("snapshot %d of %s: %d groups, %d users, %d memberships (%d API calls; minimum %d)",
		sid, rc.review, len(snap.Groups), len(snap.Users), len(snap.Memberships), stats.Requests, stats.MinRequests)
	if stats.GroupsDropped > 0 {
		rc.ui.Infof("snapshot: %d groups matched Okta's case-insensitive search but not the prefix %q: dropped", stats.GroupsDropped, opts.Prefix)
	}
	return printSnapshotSummary(rc, sid, snap)
}

func snapshotScopes(sid int64) []evidence.Scope {
	return []evidence.Scope{{Table: "snapshots", Scope: sid}, {Table: "snapshot_groups", Scope: sid}, {Table: "snapshot_users", Scope: sid}, {Table: "snapshot_memberships", Scope: sid}}
}

func saveImport(ctx context.Context, rc *runCtx, fileName string, data []byte, system string, imp *importer.Import) error {
	snap := &model.Snapshot{Groups: imp.Groups, Users: imp.Users, Memberships: imp.Memberships}
	var sid int64
	err := rc.store.WithTx(ctx, func(tx *store.Tx) error {
		file, err := rc.ledger.RecordFile(ctx, tx, "snapshot.import.file", fileName, data, int64(len(imp.Memberships)))
		if err != nil {
			return err
		}
		evID, err := evidence.NextID(ctx, tx)
		if err != nil {
			return err
		}
		sid, err = tx.InsertSnapshot(ctx, store.SnapshotHeader{Review: rc.review, Source: store.SnapshotImport, System: system, RunID: rc.run.ID, FileName: fileName}, snap, evID)
		if err != nil {
			return err
		}
		_, err = rc.ledger.Seal(ctx, tx, "snapshot.import", snapshotScopes(sid), map[string]any{
			"snapshot_id": sid, "system": system, "file": fileName, "file_evidence_id": file.ID, "file_blob": file.BlobHash,
		})
		return err
	})
	if err != nil {
		return err
	}
	rc.ui.Infof("snapshot %d of %s: imported %s for %s: %d entitlements, %d accounts, %d memberships",
		sid, rc.review, fileName, system, len(snap.Groups), len(snap.Users), len(snap.Memberships))
	return printSnapshotSummary(rc, sid, snap)
}

type systemCount struct {
	System      string `json:"system"`
	Groups      int    `json:"groups"`
	Users       int    `json:"users"`
	Memberships int    `json:"memberships"`
}

func printSnapshotSummary(rc *runCtx, sid int64, snap *model.Snapshot) error {
	sysOf := map[string]string{}
	counts := map[string]*systemCount{}
	users := map[string]map[string]bool{}
	for _, gr := range snap.Groups {
		sysOf[gr.ID] = gr.System
		c := counts[gr.System]
		if c == nil {
			c = &systemCount{System: gr.System}
			counts[gr.System] = c
			users[gr.System] = map[string]bool{}
		}
		c.Groups++
	}
	for _, m := range snap.Memberships {
		s := sysOf[m.GroupID]
		counts[s].Memberships++
		users[s][m.UserID] = true
	}
	out := make([]systemCount, 0, len(counts))
	for s, c := range counts {
		c.Users = len(users[s])
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].System < out[j].System })
	if rc.g.json {
		return writeJSON(rc.env.Stdout, map[string]any{
			"snapshot_id": sid, "review": rc.review, "run_id": rc.run.ID, "systems": out,
			"totals": map[string]int{"groups": len(snap.Groups), "users": len(snap.Users), "memberships": len(snap.Memberships)},
		})
	}
	rows := make([][]string, 0, len(out))
	for _, c := range out {
		rows = append(rows, []string{c.System, fmt.Sprint(c.Groups), fmt.Sprint(c.Users), fmt.Sprint(c.Memberships)})
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"SYSTEM", "GROUPS", "USERS", "MEMBERSHIPS"}, rows)
}

// rederiveSnapshots re-parses every snapshot's raw evidence (recorded Okta
// pages, or the imported file) with the recorded options and compares the
// result with the stored rows. It needs no config: everything it uses is in
// the store.
func rederiveSnapshots(env *Env) evidence.Rederiver {
	return evidence.Rederiver{Name: "snapshots", Run: func(ctx context.Context, s *store.Store) ([]evidence.Problem, error) {
		snaps, err := s.Snapshots(ctx)
		if err != nil {
			return nil, err
		}
		var problems []evidence.Problem
		for _, sn := range snaps {
			seal, params, err := sealOf(ctx, s, sn.EvidenceID)
			if err != nil {
				return nil, err
			}
			var rebuilt *model.Snapshot
			switch sn.Source {
			case store.SnapshotOkta:
				rebuilt, err = rebuildOkta(ctx, s, sn, params)
			case store.SnapshotImport:
				rebuilt, err = rebuildImport(ctx, s, sn, params)
			default:
				err = fmt.Errorf("unknown source %q", sn.Source)
			}
			if err != nil {
				problems = append(problems, evidence.Problem{Seq: seal.Seq, Table: "snapshots", What: fmt.Sprintf("snapshot %d cannot be re-derived: %v", sn.ID, err)})
				continue
			}
			stored, err := s.LoadSnapshot(ctx, []int64{sn.ID})
			if err != nil {
				return nil, err
			}
			for _, d := range diffSnapshots(stored, rebuilt) {
				problems = append(problems, evidence.Problem{Seq: seal.Seq, Table: d.table, What: fmt.Sprintf("snapshot %d: %s", sn.ID, d.what)})
			}
		}
		return problems, nil
	}}
}

func init() { rederivers = append(rederivers, rederiveSnapshots) }

// sealOf returns the derive row with the given id and its decoded params.
func sealOf(ctx context.Context, s *store.Store, id string) (store.EvidenceRow, map[string]any, error) {
	rows, err := s.FindEvidence(ctx, store.EvidenceFilter{Kind: evidence.KindDerive})
	if err != nil {
		return store.EvidenceRow{}, nil, err
	}
	for _, r := range rows {
		if r.ID == id {
			var p map[string]any
			if err := jsonUnmarshal(r.QueryParams, &p); err != nil {
				return r, nil, err
			}
			return r, p, nil
		}
	}
	return store.EvidenceRow{}, nil, fmt.Errorf("derive row %s: %w", id, store.ErrNotFound)
}

func rebuildOkta(ctx context.Context, s *store.Store, sn store.SnapshotInfo, params map[string]any) (*model.Snapshot, error) {
	calls, err := s.FindEvidence(ctx, store.EvidenceFilter{RunID: sn.RunID, Source: "okta", Kind: evidence.KindCall})
	if err != nil {
		return nil, err
	}
	var pages []okta.Page
	for _, c := range calls {
		method, u, _ := strings.Cut(c.QueryText, " ")
		var p struct {
			Status int `json:"status"`
		}
		if err := jsonUnmarshal(c.QueryParams, &p); err != nil {
			return nil, err
		}
		if p.Status == 0 { // the call failed without a response
			continue
		}
		body, err := blobBytes(ctx, s, c.BlobHash)
		if err != nil {
			return nil, err
		}
		pages = append(pages, okta.Page{Method: method, URL: u, Status: p.Status, Body: body})
	}
	var systems []model.System
	if err := remarshal(params["systems"], &systems); err != nil {
		return nil, err
	}
	prefix, _ := params["prefix"].(string)
	return okta.BuildSnapshot(pages, okta.SnapshotOptions{Prefix: prefix, Systems: systems})
}

func rebuildImport(ctx context.Context, s *store.Store, sn store.SnapshotInfo, params map[string]any) (*model.Snapshot, error) {
	blob, _ := params["file_blob"].(string)
	data, err := blobBytes(ctx, s, blob)
	if err != nil {
		return nil, err
	}
	imp, err := importer.Parse(sn.FileName, data, sn.System)
	if err != nil {
		return nil, err
	}
	return &model.Snapshot{Groups: imp.Groups, Users: imp.Users, Memberships: imp.Memberships}, nil
}

func blobBytes(ctx context.Context, s *store.Store, hash string) ([]byte, error) {
	_, c, err := s.Blob(ctx, hash)
	if err != nil {
		return nil, err
	}
	return evidence.Decompress(c)
}

type snapDiff struct{ table, what string }

// diffSnapshots compares two snapshots row by row (times to the second,
// as the store keeps them) and describes up to a few differences per table.
func diffSnapshots(stored, rebuilt *model.Snapshot) []snapDiff {
	var out []snapDiff
	norm := func(s *model.Snapshot) {
		sort.Slice(s.Groups, func(i, j int) bool { return s.Groups[i].ID < s.Groups[j].ID })
		sort.Slice(s.Users, func(i, j int) bool { return s.Users[i].ID < s.Users[j].ID })
		sort.Slice(s.Memberships, func(i, j int) bool {
			a, b := s.Memberships[i], s.Memberships[j]
			if a.GroupID != b.GroupID {
				return a.GroupID < b.GroupID
			}
			return a.UserID < b.UserID
		})
		for i := range s.Users {
			s.Users[i].Created = s.Users[i].Created.Truncate(1e9).UTC()
			s.Users[i].LastLogin = s.Users[i].LastLogin.Truncate(1e9).UTC()
		}
	}
	norm(stored)
	norm(rebuilt)
	cmpRows(&out, "snapshot_groups", len(stored.Groups), len(rebuilt.Groups), func(i int) (string, bool) {
		return stored.Groups[i].Name, stored.Groups[i] == rebuilt.Groups[i]
	})
	cmpRows(&out, "snapshot_users", len(stored.Users), len(rebuilt.Users), func(i int) (string, bool) {
		return stored.Users[i].Login, stored.Users[i] == rebuilt.Users[i]
	})
	cmpRows(&out, "snapshot_memberships", len(stored.Memberships), len(rebuilt.Memberships), func(i int) (string, bool) {
		m := stored.Memberships[i]
		return m.GroupID + "/" + m.UserID, m == rebuilt.Memberships[i]
	})
	return out
}

func cmpRows(out *[]snapDiff, table string, nStored, nRebuilt int, same func(i int) (string, bool)) {
	if nStored != nRebuilt {
		*out = append(*out, snapDiff{table, fmt.Sprintf("%d rows stored, %d re-derived from the raw evidence", nStored, nRebuilt)})
		return
	}
	shown := 0
	for i := range nStored {
		if name, ok := same(i); !ok {
			if shown < 5 {
				*out = append(*out, snapDiff{table, fmt.Sprintf("row %q differs from the raw evidence", name)})
			}
			shown++
		}
	}
	if shown > 5 {
		*out = append(*out, snapDiff{table, fmt.Sprintf("and %d more rows differ", shown-5)})
	}
}
