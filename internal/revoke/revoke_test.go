package revoke

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
)

// fakeOkta is a Deprovisioner over a set of memberships.
type fakeOkta struct {
	members   map[string]bool // "gid/uid"
	refuse    map[string]error
	readd     map[string]bool // a rule puts the user back at once
	removed   []string
	readErr   error
	requestID int
}

func (f *fakeOkta) Remove(_ context.Context, gid, uid string) (Removal, error) {
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
		members: map[string]bool{"g1/u1": true, "gapp/u1": true, "grule/u1": true, "gback/u1": true},
		refuse:  map[string]error{"gapp/u1": app},
		readd:   map[string]bool{"gback/u1": true},
	}
	rule := req("grule", "u1")
	rule.Source = model.SourceRule
	imp := req("gimp", "u1")
	imp.GroupType = model.GroupTypeImport
	plan := []Request{req("g1", "u1"), req("gapp", "u1"), rule, req("gback", "u1"), req("gone", "u1"), imp}
	clock := t0.Add(90 * time.Second)
	var recorded []string
	out, err := Apply(context.Background(), plan, f, nil, func() time.Time { return clock }, func(o Outcome) error {
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
	f := &fakeOkta{members: map[string]bool{"g1/u1": true, "g2/u1": true}}
	boom := errors.New("disk full")
	out, err := Apply(context.Background(), []Request{req("g1", "u1"), req("g2", "u1")}, f, nil, func() time.Time { return t0 }, func(Outcome) error { return boom })
	if !errors.Is(err, boom) || len(out) != 0 || len(f.removed) != 0 {
		t.Errorf("err %v, outcomes %d, removals %v: nothing may be removed that cannot be recorded", err, len(out), f.removed)
	}
}

// Reading the members failing is a failed outcome, not a stop; the
// others continue.
func TestApplyReadFailureIsFailed(t *testing.T) {
	f := &fakeOkta{members: map[string]bool{"g1/u1": true}, readErr: errors.New("connection reset")}
	out, err := Apply(context.Background(), []Request{req("g1", "u1")}, f, nil, func() time.Time { return t0 }, func(Outcome) error { return nil })
	if err != nil || len(out) != 1 || out[0].Status != Failed || !strings.Contains(out[0].Reason, "connection reset") {
		t.Errorf("%v %+v", err, out)
	}
}
