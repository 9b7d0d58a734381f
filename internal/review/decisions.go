package review

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/decisions"
	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// Publication kind of a reply uar posted to a rejected, malformed or
// held-back decision; its ExternalKey is decisions.Reply.Key, so a reply is
// never posted twice.
const KindReply = "reply"

// Query name of a decisions CSV file kept in the ledger.
const decisionsCSVFile = "decisions.csv"

// DecisionJira is the Jira side of parse-decisions; *jira.Client is one.
type DecisionJira interface {
	UserFinder
	Myself(ctx context.Context) (jira.User, error)
	ListComments(ctx context.Context, key string) ([]jira.Comment, error)
	CommentPoster
}

// DecisionsOptions configures a decisions pass.
type DecisionsOptions struct {
	Systems              []model.System // systems: of uar.yaml
	CertifyAllCoversHigh bool           // review.certify_all_covers_high
	// CSV, when set, is a decisions file gathered outside Jira, kept as a
	// blob and read (with every one kept before) on this and later passes.
	CSV *CSVFile
	// Connect builds the Jira client; nil, or returning nil, means the
	// pass reads only the CSV files (no comments, no replies).
	Connect func() (DecisionJira, error)
}

// CSVFile is a decisions file as given.
type CSVFile struct {
	Name string
	Data []byte
}

// DecisionsParams are the params of a "decisions" derive row.
type DecisionsParams struct {
	PassID               string   `json:"pass_id"`
	Systems              []string `json:"systems"`
	Comments             int      `json:"comments"`
	CSVFiles             []string `json:"csv_files"` // blob hashes of the decisions files read
	CertifyAllCoversHigh bool     `json:"certify_all_covers_high"`
	ScoringID            int64    `json:"scoring_id"`
}

// DecisionsResult is what a decisions pass recorded and replied.
type DecisionsResult struct {
	Summaries []decisions.Summary
	Rejected  []model.Decision // rejected lines (one per line), with their reasons
	Replies   int              // replies posted by this pass
	Comments  int              // comments read
}

// ParseDecisions reads every decision of the review — each system
// ticket's comments, and every decisions CSV kept so far — resolves them
// with the rules of DESIGN §8 over the current population and findings,
// and records one pass per system (rows sealed by a "decisions" derive
// row), replacing what the previous pass derived. Then it answers each
// rejected or malformed line (and each system's held-back HIGH accesses)
// with one reply comment, never twice.
func ParseDecisions(ctx context.Context, s *Step, o DecisionsOptions) (*DecisionsResult, error) {
	sc, err := LoadScored(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	ix, err := LoadPublications(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	var client DecisionJira
	if o.Connect != nil {
		if client, err = o.Connect(); err != nil {
			return nil, err
		}
	}
	if client == nil && o.CSV == nil {
		return nil, prerequisite("configure jira.base_url and UAR_JIRA_TOKEN, or pass --from-csv", "no source of decisions")
	}
	if client != nil && len(ix.Tickets) == 0 && o.CSV == nil {
		return nil, prerequisite("run 'uar publish --review "+s.Review+"' first", "review %s has no tickets to read decisions from", s.Review)
	}
	if o.CSV != nil {
		if _, err := decisions.ParseCSV(o.CSV.Name, o.CSV.Data, systemNames(sc.Snap)); err != nil {
			return nil, err // nothing is kept from a bad file
		}
		if err := s.Store.WithTx(ctx, func(tx *store.Tx) error {
			_, err := s.Ledger.RecordFile(ctx, tx, decisionsCSVFile, o.CSV.Name, o.CSV.Data, 0)
			return err
		}); err != nil {
			return nil, err
		}
	}
	reviewers, err := ResolveReviewers(ctx, s, client, o.Systems)
	if err != nil {
		return nil, err
	}
	admin, err := adminGroups(ctx, s.Store, sc.Scoring)
	if err != nil {
		return nil, err
	}
	in := decisionsInput(sc.Snap, sc.Scoring.Findings, o.Systems, reviewers, ix, admin)
	in.CertifyAllCoversHigh = o.CertifyAllCoversHigh
	res := &DecisionsResult{}
	if client != nil {
		if res.Comments, err = readComments(ctx, s, client, &in); err != nil {
			return nil, err
		}
	}
	csvFiles, err := addRecordedCSV(ctx, s.Store, s.Review, &in, systemNames(sc.Snap))
	if err != nil {
		return nil, err
	}
	out := decisions.Resolve(in)
	res.Summaries = out.Summaries
	res.Rejected = rejectedLines(out.Decisions)
	if err := recordDecisions(ctx, s, in, out, res.Comments, csvFiles, sc.Scoring.ID, o.CertifyAllCoversHigh); err != nil {
		return nil, err
	}
	if client != nil {
		n, err := postReplies(ctx, s, client, out.Replies)
		res.Replies = n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// rejectedLines are the rejected decision lines, once per line and
// access, without the accesses CERTIFY: all held back for an open HIGH
// finding (those are pending, and listed in the system's reply).
func rejectedLines(ds []model.Decision) []model.Decision {
	var out []model.Decision
	for _, d := range ds {
		if d.Status != model.DecisionRejected || (d.FromAll && strings.HasPrefix(d.Reason, "open HIGH finding")) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func systemNames(snap *model.Snapshot) []string {
	var out []string
	for _, g := range snap.Groups {
		if g.System != "" && !slices.Contains(out, g.System) {
			out = append(out, g.System)
		}
	}
	slices.Sort(out)
	return out
}

// adminGroups matches the admin groups of the scoring's recorded policy
// (multi_system_admin.admin_groups), which flag a reviewer who administers
// the system they review.
func adminGroups(ctx context.Context, st *store.Store, sc *store.Scoring) (func(string) bool, error) {
	seal, err := sealOf(ctx, st, sc.EvidenceID)
	if err != nil {
		return nil, err
	}
	var p ScoreParams
	if err := evidence.DeriveParams(seal, &p); err != nil {
		return nil, err
	}
	raw, err := blobBytes(ctx, st, p.PolicyBlob)
	if err != nil {
		return nil, fmt.Errorf("decisions: the scoring's policy: %w", err)
	}
	pol, err := score.ParsePolicy(p.PolicyFile, raw)
	if err != nil {
		return nil, fmt.Errorf("decisions: the scoring's policy: %w", err)
	}
	globs := pol.Checks.MultiSystemAdmin.AdminGroups
	return func(name string) bool {
		for _, g := range globs {
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
		return false
	}, nil
}

// decisionsInput builds the resolution input of every system with members.
func decisionsInput(snap *model.Snapshot, findings []model.Finding, systems []model.System, reviewers []store.Reviewer,
	ix *PublicationIndex, admin func(string) bool) decisions.Input {
	v := BuildView(systems, snap, nil, "")
	users := map[string]model.User{}
	for _, u := range snap.Users {
		users[u.Login] = u
	}
	groupID := map[string]string{}
	for _, g := range snap.Groups {
		groupID[g.System+"\x00"+g.Name] = g.ID
	}
	in := decisions.Input{Findings: findings}
	for _, sv := range v.Systems {
		ds := decisions.System{Name: sv.System.Name}
		if t, ok := ix.Tickets[sv.System.Name]; ok {
			ds.JiraKey = t.ExternalKey
		}
		for _, r := range reviewers {
			if r.System != sv.System.Name {
				continue
			}
			rv := decisions.Reviewer{AccountID: r.AccountID, Email: r.Email}
			switch r.Role {
			case store.RoleOwner:
				ds.Owner = rv
			case store.RoleDelegate:
				ds.Delegates = append(ds.Delegates, rv)
			case store.RoleBackup:
				ds.Backup = rv
			}
		}
		// Reviewers without a Jira account still decide by email (CSV).
		if ds.Owner.Email == "" {
			ds.Owner.Email = sv.System.Owner
		}
		if ds.Backup.Email == "" {
			ds.Backup.Email = sv.System.BackupReviewer
		}
		for _, a := range sv.Access {
			u := users[a.UserLogin]
			ds.Access = append(ds.Access, decisions.Access{UserID: u.ID, Login: a.UserLogin, Email: a.UserEmail,
				GroupID: groupID[sv.System.Name+"\x00"+a.GroupName], Group: a.GroupName, Admin: admin(a.GroupName)})
		}
		in.Systems = append(in.Systems, ds)
	}
	return in
}

// readComments reads every comment on each system's ticket (uar's own
// comments, its replies, are left out) into in.
func readComments(ctx context.Context, s *Step, client DecisionJira, in *decisions.Input) (int, error) {
	me, err := client.Myself(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range in.Systems {
		sys := &in.Systems[i]
		if sys.JiraKey == "" {
			continue
		}
		s.Out.Progress("parse-decisions: %s (%d/%d tickets)", sys.JiraKey, i+1, len(in.Systems))
		cs, err := client.ListComments(ctx, sys.JiraKey)
		if err != nil {
			s.Out.ProgressDone()
			return n, fmt.Errorf("decisions: comments of %s (%s): %w", sys.JiraKey, sys.Name, err)
		}
		for _, c := range cs {
			if c.Author.AccountID == me.AccountID {
				continue
			}
			dc, err := decisions.FromJira(c)
			if err != nil {
				s.Out.ProgressDone()
				return n, fmt.Errorf("decisions: %s: %w", sys.JiraKey, err)
			}
			sys.Comments = append(sys.Comments, dc)
			n++
		}
	}
	s.Out.ProgressDone()
	return n, nil
}

// addRecordedCSV adds every decisions CSV kept in the review's ledger to
// in, oldest first, each file once; it returns their blob hashes.
func addRecordedCSV(ctx context.Context, st *store.Store, review string, in *decisions.Input, systems []string) ([]string, error) {
	rows, err := st.FindEvidence(ctx, store.EvidenceFilter{Review: review, Kind: evidence.KindFile, QueryName: decisionsCSVFile})
	if err != nil {
		return nil, err
	}
	hashes := []string{}
	for _, r := range rows {
		if slices.Contains(hashes, r.BlobHash) {
			continue
		}
		data, err := blobBytes(ctx, st, r.BlobHash)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(r.QueryText, "read ")
		parsed, err := decisions.ParseCSV(name, data, systems)
		if err != nil {
			return nil, fmt.Errorf("decisions: recorded file %s (seq %d): %w", name, r.Seq, err)
		}
		if err := in.AddCSV(parsed); err != nil {
			return nil, err
		}
		hashes = append(hashes, r.BlobHash)
	}
	return hashes, nil
}

// recordDecisions writes one pass per system, sealed together.
func recordDecisions(ctx context.Context, s *Step, in decisions.Input, out decisions.Result, comments int, csvFiles []string, scoringID int64, coversHigh bool) error {
	bySystem := map[string][]store.Decision{}
	for _, d := range out.Decisions {
		bySystem[d.System] = append(bySystem[d.System], storeDecision(d))
	}
	lines := map[string]int{}
	for _, sm := range out.Summaries {
		lines[sm.System] = sm.Lines
	}
	var names []string
	for _, sys := range in.Systems {
		names = append(names, sys.Name)
	}
	params := DecisionsParams{PassID: s.Run.ID, Systems: names, Comments: comments, CSVFiles: csvFiles, CertifyAllCoversHigh: coversHigh, ScoringID: scoringID}
	return s.Store.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "decisions", func(evID string) (evidence.Derived, error) {
			for _, sys := range in.Systems {
				source := store.DecisionFromJira
				if len(sys.Comments) == 0 && len(csvFiles) > 0 {
					source = store.DecisionFromCSV
				}
				p := store.DecisionPass{Review: s.Review, PassID: s.Run.ID, RunID: s.Run.ID, System: sys.Name, Source: source,
					JiraKey: sys.JiraKey, Comments: len(sys.Comments), Lines: lines[sys.Name]}
				if err := tx.InsertDecisionPass(ctx, p, bySystem[sys.Name], evID); err != nil {
					return evidence.Derived{}, err
				}
			}
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "decisions", Scope: s.Run.ID}, {Table: "decision_passes", Scope: s.Run.ID}},
				Params: params}, nil
		})
		return err
	})
}

func storeDecision(d model.Decision) store.Decision {
	return store.Decision{System: d.System, Action: d.Action, Target: d.Target, GroupName: d.GroupName, UserID: d.UserID, GroupID: d.GroupID,
		DecidedBy: d.DecidedBy, DecidedByName: d.AuthorName, DecidedByEmail: d.AuthorEmail, DecidedAt: store.FormatTime(d.DecidedAt),
		Status: d.Status, Reason: d.Reason, Justification: d.Justification, JiraKey: d.JiraKey, CommentID: d.CommentID,
		CommentUpdated: store.FormatTime(d.Updated), Edited: d.Edited, Line: d.Line, LineNo: d.LineIndex, Source: d.Source,
		CertifyAll: d.FromAll, ReviewerRole: d.ReviewerRole, ReviewerAdmin: d.ReviewerIsAdmin}
}

// postReplies posts each reply not yet posted (by its key) and records it.
func postReplies(ctx context.Context, s *Step, client CommentPoster, replies []decisions.Reply) (int, error) {
	pubs, err := s.Store.Publications(ctx, s.Review)
	if err != nil {
		return 0, err
	}
	posted := map[string]bool{}
	for _, p := range pubs {
		if p.Kind == KindReply {
			posted[p.ExternalKey] = true
		}
	}
	n := 0
	var errs []error
	for _, r := range replies {
		if posted[r.Key] || r.JiraKey == "" {
			continue
		}
		cm, err := client.AddComment(ctx, r.JiraKey, r.Body)
		if err != nil {
			errs = append(errs, &PublishError{Service: store.ServiceJira, Object: "reply on " + r.JiraKey, Err: err})
			continue
		}
		if _, err := RecordPublication(ctx, s, store.Publication{Service: store.ServiceJira, Kind: KindReply, System: r.System,
			Action: store.ActionCreated, ExternalID: cm.ID, ExternalKey: r.Key, ServiceTime: store.FormatTime(cm.Created)}, ""); err != nil {
			return n, err
		}
		posted[r.Key] = true
		n++
	}
	if len(errs) > 0 {
		return n, &IncompleteError{Published: n, Errs: errs}
	}
	return n, nil
}
