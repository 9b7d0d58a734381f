package review

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

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
	// Workers bounds concurrent Jira calls (tickets read, replies posted);
	// 0 means DefaultPublishWorkers.
	Workers int
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
		if res.Comments, err = readComments(ctx, s, client, &in, workersOr(o.Workers)); err != nil {
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
		n, err := postReplies(ctx, s, client, out.Replies, workersOr(o.Workers))
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
	// The accesses of each system, as BuildView groups them (the system
	// each group was mapped to at snapshot time; systems with members, by
	// name), without building the view's display rows: at 500,000
	// memberships those cost about 500 MB of garbage.
	users := make(map[string]*model.User, len(snap.Users))
	for i := range snap.Users {
		users[snap.Users[i].ID] = &snap.Users[i]
	}
	groups := make(map[string]*model.Group, len(snap.Groups))
	for i := range snap.Groups {
		groups[snap.Groups[i].ID] = &snap.Groups[i]
	}
	access := map[string][]decisions.Access{}
	for _, m := range snap.Memberships {
		g := groups[m.GroupID]
		if g == nil || g.System == "" {
			continue
		}
		a := decisions.Access{Login: m.UserID, GroupID: g.ID, Group: g.Name}
		if u := users[m.UserID]; u != nil {
			a.UserID, a.Login, a.Email = u.ID, u.Login, u.Email
		}
		access[g.System] = append(access[g.System], a)
	}
	conf := make(map[string]model.System, len(systems))
	for _, sys := range systems {
		conf[sys.Name] = sys
	}
	in := decisions.Input{Findings: findings}
	for _, name := range slices.Sorted(maps.Keys(access)) {
		sys, ok := conf[name]
		if !ok {
			sys = model.System{Name: name}
		}
		ds := decisions.System{Name: name}
		if t, ok := ix.Tickets[name]; ok {
			ds.JiraKey = t.ExternalKey
		}
		for _, r := range reviewers {
			if r.System != name {
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
			ds.Owner.Email = sys.Owner
		}
		if ds.Backup.Email == "" {
			ds.Backup.Email = sys.BackupReviewer
		}
		ds.Access = access[name]
		slices.SortFunc(ds.Access, func(a, b decisions.Access) int {
			return cmp.Or(strings.Compare(a.Group, b.Group), strings.Compare(a.Login, b.Login))
		})
		isAdmin := map[string]bool{} // per group: the policy's globs, matched once
		for i := range ds.Access {
			g := ds.Access[i].Group
			v, ok := isAdmin[g]
			if !ok {
				v = admin(g)
				isAdmin[g] = v
			}
			ds.Access[i].Admin = v
		}
		in.Systems = append(in.Systems, ds)
	}
	return in
}

// readComments reads every comment on each system's ticket (uar's own
// comments, its replies, are left out) into in.
func readComments(ctx context.Context, s *Step, client DecisionJira, in *decisions.Input, workers int) (int, error) {
	me, err := client.Myself(ctx)
	if err != nil {
		return 0, err
	}
	comments := make([][]decisions.Comment, len(in.Systems))
	var mu sync.Mutex
	read := 0
	err = forEach(ctx, workers, len(in.Systems), func(ctx context.Context, i int) error {
		sys := &in.Systems[i]
		if sys.JiraKey == "" {
			return nil
		}
		cs, err := client.ListComments(ctx, sys.JiraKey)
		if err != nil {
			return fmt.Errorf("decisions: comments of %s (%s): %w", sys.JiraKey, sys.Name, err)
		}
		var out []decisions.Comment
		for _, c := range cs {
			if c.Author.AccountID == me.AccountID {
				continue
			}
			dc, err := decisions.FromJira(c)
			if err != nil {
				return fmt.Errorf("decisions: %s: %w", sys.JiraKey, err)
			}
			out = append(out, dc)
		}
		comments[i] = out
		mu.Lock()
		read++
		s.Out.Progress("parse-decisions: %d/%d tickets read", read, len(in.Systems))
		mu.Unlock()
		return nil
	}, func(error) bool { return true })
	s.Out.ProgressDone()
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range in.Systems {
		in.Systems[i].Comments = append(in.Systems[i].Comments, comments[i]...)
		n += len(comments[i])
	}
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

// postReplies answers the replies not posted before. The new replies of
// one ticket go out as one comment (a few, if they would pass
// maxReplyBytes), so an owner reads one answer per pass rather than one
// per line; each reply is recorded under its own key with the comment's
// id, so none is ever posted twice. Tickets are answered workers at a
// time; it returns the number of replies posted.
func postReplies(ctx context.Context, s *Step, client CommentPoster, replies []decisions.Reply, workers int) (int, error) {
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
	var batches [][]decisions.Reply
	open := map[string]int{} // Jira key -> its batch being filled
	size := map[int]int{}
	for _, r := range replies {
		if posted[r.Key] || r.JiraKey == "" {
			continue
		}
		posted[r.Key] = true // a key twice in one pass is answered once
		i, ok := open[r.JiraKey]
		if !ok || size[i]+len(r.Body) > maxReplyBytes {
			i = len(batches)
			batches = append(batches, nil)
			open[r.JiraKey] = i
		}
		batches[i] = append(batches[i], r)
		size[i] += len(r.Body)
	}
	var mu sync.Mutex
	n := 0
	var errs []error
	err = forEach(ctx, workers, len(batches), func(ctx context.Context, i int) error {
		batch := batches[i]
		body, err := joinADF(batch)
		if err != nil {
			return err
		}
		cm, err := client.AddComment(ctx, batch[0].JiraKey, body)
		if err != nil {
			mu.Lock()
			errs = append(errs, &PublishError{Service: store.ServiceJira, Object: "reply on " + batch[0].JiraKey, Err: err})
			mu.Unlock()
			return nil
		}
		pubs := make([]store.Publication, len(batch))
		for k, r := range batch {
			pubs[k] = store.Publication{Service: store.ServiceJira, Kind: KindReply, System: r.System,
				Action: store.ActionCreated, ExternalID: cm.ID, ExternalKey: r.Key, ServiceTime: store.FormatTime(cm.Created)}
		}
		if _, err := recordPublications(ctx, s, pubs, ""); err != nil {
			return err
		}
		mu.Lock()
		n += len(batch)
		mu.Unlock()
		return nil
	}, func(error) bool { return true })
	if err != nil {
		return n, err
	}
	if len(errs) > 0 {
		return n, &IncompleteError{Published: n, Errs: errs}
	}
	return n, nil
}

// maxReplyBytes bounds the ADF of one reply comment, well under Jira's
// 32,767-character comment limit.
const maxReplyBytes = 24 << 10

// joinADF is one ADF document holding each reply's content in turn,
// separated by rules.
func joinADF(replies []decisions.Reply) (json.RawMessage, error) {
	type doc struct {
		Type    string            `json:"type"`
		Version int               `json:"version"`
		Content []json.RawMessage `json:"content"`
	}
	out := doc{Type: "doc", Version: 1, Content: []json.RawMessage{}}
	for i, r := range replies {
		var d doc
		if err := json.Unmarshal(r.Body, &d); err != nil || d.Type != "doc" {
			return nil, fmt.Errorf("decisions: reply %s is not an ADF document: %v", r.Key, err)
		}
		if i > 0 {
			out.Content = append(out.Content, json.RawMessage(`{"type":"rule"}`))
		}
		out.Content = append(out.Content, d.Content...)
	}
	return json.Marshal(out)
}

// workersOr is n, or DefaultPublishWorkers when n is not positive.
func workersOr(n int) int {
	if n <= 0 {
		return DefaultPublishWorkers
	}
	return n
}
