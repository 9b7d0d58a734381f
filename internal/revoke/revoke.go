// Package revoke plans and applies revocations (DESIGN §9): each accepted
// REVOKE becomes the removal of one Okta group membership, proven by
// re-reading the group's members, and is never repeated once proven.
//
// # Plan
//
// [Plan] takes the accepted requests and the latest recorded outcome per
// membership and keeps what is not yet proven done or absent (a failed or
// merely planned removal is planned again); it refuses a membership of a
// group outside the review's snapshot.
//
// # Apply
//
// [Apply] works through the plan a few memberships at a time. A membership
// that the pre-check finds absent is "already_absent" (no removal is
// sent; a re-run after a crash between the removal and its record lands
// here, with the member listing as proof). Otherwise the removal is sent
// and the members are read again: gone is "done", still there is
// "failed". Okta refusing the removal (403 E0000006 for an APP_GROUP or
// BUILT_IN group, 404 for an unknown group or user) is "failed" with
// Okta's reason; it never stops the others, and is not an authentication
// failure of the run. A rule-managed membership is removed (Okta adds a
// rule exclusion) and flagged in the reason.
package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
)

// Membership is one group membership of the review's snapshot.
type Membership struct {
	System    string
	GroupID   string
	GroupName string
	GroupType string // OKTA_GROUP, APP_GROUP, BUILT_IN, IMPORT
	UserID    string
	UserLogin string
	Source    string // direct, rule, app
}

// Key identifies a membership.
func (m Membership) Key() string { return m.GroupID + "/" + m.UserID }

// Request is one accepted REVOKE for one membership.
type Request struct {
	Membership
	DecisionID  int64
	RequestedBy string // the decision's author (accountId or email)
	DecidedAt   time.Time
	JiraKey     string
	CommentID   string
}

// Outcome statuses (DESIGN §6.4).
const (
	Planned       = model.RevocationPlanned
	Done          = model.RevocationDone
	AlreadyAbsent = model.RevocationAlreadyAbsent
	Failed        = model.RevocationFailed
	Skipped       = model.RevocationSkipped
)

// Final reports whether status ends a membership's revocation: it is not
// planned again.
func Final(status string) bool { return status == Done || status == AlreadyAbsent }

// Plan returns the requests not yet final, sorted by system, group name,
// user login. done maps Membership.Key to the latest recorded status.
// inSnapshot says whether a group id belongs to the review's snapshot; a
// request outside it is an error (uar never touches such a group).
func Plan(reqs []Request, done map[string]string, inSnapshot func(groupID string) bool) ([]Request, error) {
	var out []Request
	seen := map[string]bool{}
	for _, r := range reqs {
		if !inSnapshot(r.GroupID) {
			return nil, fmt.Errorf("revoke: group %s (%s) is not in the review's snapshot: refusing to touch it", r.GroupName, r.GroupID)
		}
		if seen[r.Key()] || Final(done[r.Key()]) {
			continue
		}
		seen[r.Key()] = true
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Request) int {
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		if c := strings.Compare(a.GroupName, b.GroupName); c != 0 {
			return c
		}
		return strings.Compare(a.UserLogin, b.UserLogin)
	})
	return out, nil
}

// Removal is what the identity provider answered to a removal.
type Removal struct {
	RequestID string // Okta's X-Okta-Request-Id
}

// Deprovisioner removes memberships and reads them back; review adapts
// *okta.Client to it.
type Deprovisioner interface {
	// Remove removes userID from groupID. Errors are *httpx.StatusError
	// for refusals (403 E0000006, 404), anything else for transport.
	Remove(ctx context.Context, groupID, userID string) (Removal, error)
	// IsMember re-reads the group's members (no cache) and reports whether
	// userID is one.
	IsMember(ctx context.Context, groupID, userID string) (bool, error)
}

// AuditLog finds the identity provider's own record of a removal (Okta's
// System Log event); ok is false when it is not (yet) there.
type AuditLog interface {
	RemovalEvent(ctx context.Context, groupID, userID string, since time.Time) (id string, at time.Time, ok bool, err error)
}

// Outcome is what Apply did for one request.
type Outcome struct {
	Request
	Status     string
	Reason     string
	ExecutedAt time.Time // the removal was sent (zero if none was)
	VerifiedAt time.Time // the members were read and the user was absent
	RequestID  string
	// The System Log event of the removal, when it could be found.
	LogEventID   string
	LogEventTime time.Time
}

// Latency is the time from the decision to the verified removal.
func (o Outcome) Latency() time.Duration {
	if o.VerifiedAt.IsZero() || o.DecidedAt.IsZero() {
		return 0
	}
	return o.VerifiedAt.Sub(o.DecidedAt)
}

// Apply applies plan through d with up to workers removals under way at
// once (each an independent membership; Okta's rate limit is the client's
// to keep), calling record before each removal (with Status Planned, so a
// crash leaves evidence of the attempt) and after it (the outcome); record
// is never called concurrently. A record error stops Apply from starting
// more removals (uar must not act on what it cannot record); those under
// way finish. now reads the clock for the proof times; log (optional) adds
// the System Log event to a done removal. Apply returns the outcomes of
// the finished removals in plan order, and the first record error or
// ctx's error.
func Apply(ctx context.Context, plan []Request, workers int, d Deprovisioner, log AuditLog, now func() time.Time, record func(Outcome) error) ([]Outcome, error) {
	workers = max(1, min(workers, len(plan)))
	var (
		recordMu sync.Mutex
		errMu    sync.Mutex
		firstErr error
	)
	serialRecord := func(o Outcome) error {
		recordMu.Lock()
		defer recordMu.Unlock()
		return record(o)
	}
	stop := make(chan struct{})
	fail := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstErr == nil {
			firstErr = err
			close(stop)
		}
	}
	outcomes := make([]Outcome, len(plan))
	finished := make([]bool, len(plan))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				o, err := applyOne(ctx, plan[i], d, log, now, serialRecord)
				if err != nil {
					fail(err)
					continue
				}
				outcomes[i], finished[i] = o, true
			}
		})
	}
feed:
	for i := range plan {
		select {
		case next <- i:
		case <-stop:
			break feed
		case <-ctx.Done():
			fail(ctx.Err())
			break feed
		}
	}
	close(next)
	wg.Wait()
	var out []Outcome
	for i, o := range outcomes {
		if finished[i] {
			out = append(out, o)
		}
	}
	return out, firstErr
}

func applyOne(ctx context.Context, r Request, d Deprovisioner, log AuditLog, now func() time.Time, record func(Outcome) error) (Outcome, error) {
	o := Outcome{Request: r}
	finish := func(status, reason string) (Outcome, error) {
		o.Status, o.Reason = status, reason
		if r.Source == model.SourceRule && status == Done {
			o.Reason = strings.TrimPrefix(o.Reason+"; ", "; ") + "rule-managed membership: Okta adds the user to the rule's exclusions"
		}
		return o, record(o)
	}
	if r.GroupType == model.GroupTypeImport {
		return finish(Skipped, "imported from an app export: remove it in the application itself")
	}
	present, err := d.IsMember(ctx, r.GroupID, r.UserID)
	if err != nil {
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
		return finish(Failed, "cannot read the group's members: "+err.Error())
	}
	if !present {
		o.VerifiedAt = now().UTC()
		return finish(AlreadyAbsent, "not a member when revoke read the group")
	}
	o.Status = Planned
	if err := record(o); err != nil {
		return o, err
	}
	o.ExecutedAt = now().UTC()
	rm, err := d.Remove(ctx, r.GroupID, r.UserID)
	o.RequestID = rm.RequestID
	if err != nil {
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
		return finish(Failed, refusal(err))
	}
	gone, err := d.IsMember(ctx, r.GroupID, r.UserID)
	if err != nil {
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
		return finish(Failed, "removed, but the members could not be read back to prove it: "+err.Error())
	}
	if gone {
		return finish(Failed, "still a member after the removal (a group rule may have added the user back)")
	}
	o.VerifiedAt = now().UTC()
	if log != nil {
		// Bounded by the removal's own time: Okta's log lags a little, so
		// an event not found now is noted, never waited for.
		id, at, ok, err := log.RemovalEvent(ctx, r.GroupID, r.UserID, o.ExecutedAt.Add(-time.Minute))
		switch {
		case err != nil && ctx.Err() != nil:
			return o, ctx.Err()
		case err != nil:
			o.Reason = "System Log not readable: " + err.Error()
		case ok:
			o.LogEventID, o.LogEventTime = id, at.UTC()
		default:
			o.Reason = "no System Log event yet (the log lags; the member listing is the proof)"
		}
	}
	return finish(Done, o.Reason)
}

// refusal explains why Okta did not remove the membership.
func refusal(err error) string {
	var se *httpx.StatusError
	if errors.As(err, &se) {
		switch {
		case se.Status == http.StatusForbidden && se.Code == "E0000006":
			return "Okta refused (403 E0000006): the group is managed outside Okta (APP_GROUP or BUILT_IN); remove the access in its source directory: " + se.Message
		case se.Status == http.StatusNotFound:
			return fmt.Sprintf("Okta answered 404 %s: %s", se.Code, se.Message)
		}
		return fmt.Sprintf("Okta answered %d %s: %s", se.Status, se.Code, se.Message)
	}
	return err.Error()
}
