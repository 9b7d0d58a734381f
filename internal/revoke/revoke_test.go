package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
)

// fakeOkta is a Deprovisioner over a set of memberships.
type fakeOkta struct {
	mu        sync.Mutex
	inFlight  int             // removals under way now
	maxFlight int             // most removals ever under way at once
	members   map[string]bool // "gid/uid"
	refuse    map[string]error
	readd     map[string]bool // a rule puts the user back at once
	removed   []string
	readErr   error
	requestID int
	// sequential: Apply runs with one worker (no overlap to wait for).
	sequential bool
}

func (f *fakeOkta) Remove(_ context.Context, gid, uid string) (Removal, error) {
	f.mu.Lock()
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	f.mu.Unlock()
	// Hold the removal open until another worker starts one (or a short
	// deadline passes), so concurrent removals really overlap.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		n := f.inFlight
		f.mu.Unlock()
		if n > 1 || f.sequential {
			break
		}
		runtime.Gosched()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() { f.inFlight-- }()
	k := gid + "/" + uid
	if err := f.refuse[k]; err != nil {
		return Removal{}, err
	}
	f.removed = append(f.removed, k)
	f.requestID++
	if !f.readd[k] {
		delete(f.members, k)
	}
	return Removal{RequestID: "req-" + string(rune('0'+f.requestID))}, nil
}

func (f *fakeOkta) IsMember(_ context.Context, gid, uid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members[gid+"/"+uid], f.readErr
}

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func req(gid, uid string) Request {
	return Request{Membership: Membership{System: "NetSuite", GroupID: gid, GroupName: "SOX-NetSuite-" + gid, GroupType: model.GroupTypeOkta,
		UserID: uid, UserLogin: uid + "@x.com", Source: model.SourceDirect}, DecisionID: 1, RequestedBy: "owner", DecidedAt: t0}
}

func TestPlanSkipsFinalAndRefusesForeignGroups(t *testing.T) {
	in := func(gid string) bool { return gid != "evil" }
	plan, err := Plan([]Request{req("g2", "u1"), req("g1", "u1"), req("g1", "u2"), req("g1", "u1")},
		map[string]string{"g1/u2": Done, "g2/u1": Failed}, in)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range plan {
		keys = append(keys, p.Key())
	}
	if strings.Join(keys, ",") != "g1/u1,g2/u1" {
		t.Errorf("plan = %v, want g1/u1 (new, once) and g2/u1 (failed before: retried), not g1/u2 (done)", keys)
	}
	if _, err := Plan([]Request{req("evil", "u1")}, nil, in); err == nil || !strings.Contains(err.Error(), "not in the review's snapshot") {
		t.Errorf("foreign group: %v", err)
	}
}

func TestApplyOutcomes(t *testing.T) {
	app := &httpx.StatusError{Service: "okta", Status: http.StatusForbidden, Code: "E0000006", Message: "You do not have permission to perform the requested action"}
	f := &fakeOkta{
		sequential: true,
		members:    map[string]bool{"g1/u1": true, "gapp/u1": true, "grule/u1": true, "gback/u1": true},
		refuse:     map[string]error{"gapp/u1": app},
		readd:      map[string]bool{"gback/u1": true},
	}
	rule := req("grule", "u1")
	rule.Source = model.SourceRule
	imp := req("gimp", "u1")
	imp.GroupType = model.GroupTypeImport
	plan := []Request{req("g1", "u1"), req("gapp", "u1"), rule, req("gback", "u1"), req("gone", "u1"), imp}
	clock := t0.Add(90 * time.Second)
	var recorded []string
	out, err := Apply(context.Background(), plan, 1, f, nil, func() time.Time { return clock }, func(o Outcome) error {
		recorded = append(recorded, o.Key()+"="+o.Status)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"g1/u1": Done, "gapp/u1": Failed, "grule/u1": Done, "gback/u1": Failed, "gone/u1": AlreadyAbsent, "gimp/u1": Skipped}
	for _, o := range out {
		if o.Status != want[o.Key()] {
			t.Errorf("%s: %s (%s), want %s", o.Key(), o.Status, o.Reason, want[o.Key()])
		}
	}
	if o := out[0]; o.RequestID == "" || o.VerifiedAt != clock || o.Latency() != 90*time.Second {
		t.Errorf("done outcome lacks its proof: %+v", o)
	}
	if o := out[1]; !strings.Contains(o.Reason, "E0000006") || !strings.Contains(o.Reason, "APP_GROUP") {
		t.Errorf("APP_GROUP refusal reason: %q", o.Reason)
	}
	if o := out[2]; !strings.Contains(o.Reason, "rule") {
		t.Errorf("rule-managed removal not flagged: %q", o.Reason)
	}
	if o := out[3]; !strings.Contains(o.Reason, "still a member") {
		t.Errorf("re-added membership: %q", o.Reason)
	}
	if o := out[4]; !o.ExecutedAt.IsZero() || o.VerifiedAt.IsZero() {
		t.Errorf("already absent: no removal sent, absence verified: %+v", o)
	}
	// A planned record precedes every removal that was sent.
	if got := strings.Join(recorded, " "); !strings.Contains(got, "g1/u1=planned g1/u1=done") || strings.Contains(got, "gone/u1=planned") {
		t.Errorf("records: %s", got)
	}
	if strings.Join(f.removed, ",") != "g1/u1,grule/u1,gback/u1" {
		t.Errorf("removals sent: %v", f.removed)
	}
}

// A record that cannot be written stops Apply before the next removal.
func TestApplyStopsWhenRecordingFails(t *testing.T) {
	f := &fakeOkta{sequential: true, members: map[string]bool{"g1/u1": true, "g2/u1": true}}
	boom := errors.New("disk full")
	out, err := Apply(context.Background(), []Request{req("g1", "u1"), req("g2", "u1")}, 1, f, nil, func() time.Time { return t0 }, func(Outcome) error { return boom })
	if !errors.Is(err, boom) || len(out) != 0 || len(f.removed) != 0 {
		t.Errorf("err %v, outcomes %d, removals %v: nothing may be removed that cannot be recorded", err, len(out), f.removed)
	}
}

// Reading the members failing is a failed outcome, not a stop; the
// others continue.
func TestApplyReadFailureIsFailed(t *testing.T) {
	f := &fakeOkta{sequential: true, members: map[string]bool{"g1/u1": true}, readErr: errors.New("connection reset")}
	out, err := Apply(context.Background(), []Request{req("g1", "u1")}, 1, f, nil, func() time.Time { return t0 }, func(Outcome) error { return nil })
	if err != nil || len(out) != 1 || out[0].Status != Failed || !strings.Contains(out[0].Reason, "connection reset") {
		t.Errorf("%v %+v", err, out)
	}
}

// With several workers, removals overlap, yet every removal is preceded by
// its planned record, records never run at once, and the outcomes come
// back in plan order.
func TestApplyConcurrent(t *testing.T) {
	f := &fakeOkta{members: map[string]bool{}}
	var plan []Request
	for i := range 12 {
		r := req(fmt.Sprintf("g%02d", i), "u1")
		f.members[r.Key()] = true
		plan = append(plan, r)
	}
	var recording atomic.Int32
	var mu sync.Mutex
	var recorded []string
	out, err := Apply(context.Background(), plan, 4, f, nil, func() time.Time { return t0 }, func(o Outcome) error {
		if recording.Add(1) != 1 {
			t.Error("record called concurrently")
		}
		defer recording.Add(-1)
		mu.Lock()
		recorded = append(recorded, o.Key()+"="+o.Status)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.maxFlight < 2 || f.maxFlight > 4 {
		t.Errorf("at most %d removals under way at once, want 2 to 4", f.maxFlight)
	}
	if len(out) != len(plan) {
		t.Fatalf("%d outcomes for %d requests", len(out), len(plan))
	}
	for i, o := range out {
		if o.Key() != plan[i].Key() || o.Status != Done {
			t.Errorf("outcome %d: %s %s, want %s done", i, o.Key(), o.Status, plan[i].Key())
		}
		planned, done := -1, -1
		for j, r := range recorded {
			switch r {
			case o.Key() + "=planned":
				planned = j
			case o.Key() + "=done":
				done = j
			}
		}
		if planned < 0 || done < planned {
			t.Errorf("%s: planned record at %d, done at %d", o.Key(), planned, done)
		}
	}
}

// A record failure with several workers stops new removals; those under
// way finish, and nothing is removed without its planned record.
func TestApplyConcurrentStopsOnRecordFailure(t *testing.T) {
	f := &fakeOkta{members: map[string]bool{}}
	var plan []Request
	for i := range 20 {
		r := req(fmt.Sprintf("g%02d", i), "u1")
		f.members[r.Key()] = true
		plan = append(plan, r)
	}
	boom := errors.New("disk full")
	var mu sync.Mutex
	plannedOK := map[string]bool{}
	calls := 0
	out, err := Apply(context.Background(), plan, 3, f, nil, func() time.Time { return t0 }, func(o Outcome) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls > 4 {
			return boom
		}
		if o.Status == Planned {
			plannedOK[o.Key()] = true
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the record error", err)
	}
	if len(f.removed) > 6 || len(out) >= len(plan) {
		t.Errorf("%d removals sent, %d outcomes after the record failed: Apply went on", len(f.removed), len(out))
	}
	for _, k := range f.removed {
		if !plannedOK[k] {
			t.Errorf("%s removed without a recorded plan", k)
		}
	}
}
