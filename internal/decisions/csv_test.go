package decisions

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

var systemNames = []string{"NetSuite", "Workday"}

func TestParseCSV(t *testing.T) {
	data := "\xef\xbb\xbfSystem,Action,Target,Group,Decided_By_Email,Decided_At,Justification\n" +
		"netsuite,revoke,alice@acme.com,,Nina@Acme.com,2026-12-01T10:00:00+01:00,\n" +
		"NetSuite,CERTIFY,all,SOX-NetSuite-Users,nina@acme.com,2026-12-01T09:30:00Z,\"reviewed, with HR\"\n" +
		"Workday,Certify,zoe@acme.com,,wo@acme.com,2026-12-02T08:00:00Z,ok\n"
	rows, err := ParseCSV("d.csv", []byte(data), systemNames)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.Line != 2 || r.System != "NetSuite" || r.Action != "REVOKE" || r.Target != "alice@acme.com" || r.DecidedBy != "nina@acme.com" ||
		!r.DecidedAt.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) || r.DecidedAt.Location() != time.UTC ||
		r.Raw != "netsuite,revoke,alice@acme.com,,Nina@Acme.com,2026-12-01T10:00:00+01:00," {
		t.Fatalf("row 0 = %+v", r)
	}
	if r := rows[1]; r.Line != 3 || r.Target != "all" || r.Group != "SOX-NetSuite-Users" || r.Justification != "reviewed, with HR" || r.Raw != `NetSuite,CERTIFY,all,SOX-NetSuite-Users,nina@acme.com,2026-12-01T09:30:00Z,"reviewed, with HR"` {
		t.Fatalf("row 1 = %+v", r)
	}

	// Semicolons, columns in another order, optional ones left out.
	rows, err = ParseCSV("d.csv", []byte("decided_at;target;action;system;decided_by_email\n2026-12-01T09:00:00Z;bob;REVOKE;Workday;wo@acme.com\n"), nil)
	if err != nil || len(rows) != 1 || rows[0].Target != "bob" || rows[0].System != "Workday" {
		t.Fatalf("%+v, %v", rows, err)
	}
}

func TestParseCSVProblems(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"empty":          {"", "d.csv:1: empty file"},
		"no rows":        {"system,action,target,decided_by_email,decided_at\n", "d.csv:1: no decisions"},
		"unknown column": {"system,action,target,decided_by_email,decided_at,approver\n", `d.csv:1: header: unknown column "approver"`},
		"missing column": {"system,action,target,decided_at\n", "d.csv:1: header: missing required column decided_by_email"},
		"duplicate":      {"system,action,target,target,decided_by_email,decided_at\n", "d.csv:1: target: header: duplicate column (columns 3 and 4)"},
		"not utf-8":      {"system\xff\n", "d.csv:0: file is not valid UTF-8"},
		"fields":         {"system,action,target,decided_by_email,decided_at\nNetSuite,REVOKE\n", "d.csv:2: row has 2 fields, header has 5"},
		"quote":          {"system,action,target,decided_by_email,decided_at\nNetSuite,\"REVOKE,a,b,c\n", "d.csv:2: column"},
		"row": {"system,action,target,group,decided_by_email,decided_at,justification\n" +
			"Oracle,APPROVE,everyone,,nina,2026-12-01 09:00,\n" +
			",,,,,,\n" +
			"NetSuite,REVOKE,all,,nina@acme.com,2026-12-01T09:00:00Z,\"two\nlines\"\n",
			`d.csv:2: system: "Oracle" is not a system of this review (systems: NetSuite, Workday)` + "\n" +
				`d.csv:2: action: "APPROVE": want CERTIFY or REVOKE` + "\n" +
				`d.csv:2: target: "everyone" is not an e-mail address, a login or all (one target per row)` + "\n" +
				`d.csv:2: decided_by_email: "nina" is not an e-mail address` + "\n" +
				`d.csv:2: decided_at: "2026-12-01 09:00" is not an RFC 3339 time with an offset (e.g. 2026-12-01T09:30:00Z)` + "\n" +
				"d.csv:3: system: required\nd.csv:3: action: required\nd.csv:3: target: required\nd.csv:3: decided_by_email: required\nd.csv:3: decided_at: required\n" +
				"d.csv:4: justification: contains a control character (a line break or tab)"},
		"revoke all": {"system,action,target,decided_by_email,decided_at\nNetSuite,REVOKE,all,n@acme.com,2026-12-01T09:00:00Z\n", "d.csv:2: target: all is accepted only with CERTIFY"},
		"long field": {"system,action,target,decided_by_email,decided_at,justification\nNetSuite,REVOKE,a@acme.com,n@acme.com,2026-12-01T09:00:00Z," + strings.Repeat("x", MaxCSVField+1) + "\n",
			"d.csv:2: justification: longer than 1000 bytes"},
	} {
		rows, err := ParseCSV("d.csv", []byte(tc.in), systemNames)
		var ce *CSVError
		if rows != nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: rows %+v, err\n%v\nwant prefix\n%s", name, rows, err, tc.want)
		}
	}
}

func TestParseCSVErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("system,action,target,decided_by_email,decided_at\n")
	for range 150 {
		b.WriteString("NetSuite,NOPE,a@acme.com,n@acme.com,2026-12-01T09:00:00Z\n")
	}
	_, err := ParseCSV("d.csv", []byte(b.String()), nil)
	var ce *CSVError
	if !errors.As(err, &ce) || len(ce.Problems) != 150 {
		t.Fatalf("%v", err)
	}
	msg := err.Error()
	if n := strings.Count(msg, "\n"); n != MaxCSVProblems || !strings.HasSuffix(msg, "d.csv: and 50 more problems") || !strings.Contains(msg, "d.csv:101: action") {
		t.Fatalf("%d lines, ends %q", n, msg[len(msg)-60:])
	}

	b.Reset()
	b.WriteString("system,action,target,decided_by_email,decided_at\n")
	for range MaxCSVRows + 1 {
		b.WriteString("N,REVOKE,a@acme.com,n@acme.com,2026-12-01T09:00:00Z\n")
	}
	_, err = ParseCSV("d.csv", []byte(b.String()), nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("d.csv:%d: more than %d rows", MaxCSVRows+2, MaxCSVRows)) {
		t.Fatalf("%v", err)
	}
}

func TestCSVDecisionsResolve(t *testing.T) {
	data := "system,action,target,group,decided_by_email,decided_at,justification\n" +
		"NetSuite,REVOKE,alice@acme.com,,NINA@acme.com,2026-12-01T10:00:00Z,left\n" + // owner: accepted
		"NetSuite,CERTIFY,bob@acme.com,,mallory@acme.com,2026-12-01T10:00:00Z,\n" + // not a reviewer
		"NetSuite,CERTIFY,nina@acme.com,SOX-NetSuite-Users,cfo@acme.com,2026-12-01T10:00:00Z,CFO\n" + // backup, by e-mail
		"NetSuite,CERTIFY,all,,dan@acme.com,2026-12-01T11:00:00Z,\n" + // delegate's all
		"NetSuite,REVOKE,bob@acme.com,,dan@acme.com,2026-12-01T10:00:00Z,\n" // specific beats all
	rows, err := ParseCSV("d.csv", []byte(data), systemNames)
	if err != nil {
		t.Fatal(err)
	}
	in := fixture()
	if err := in.AddCSV(rows); err != nil {
		t.Fatal(err)
	}
	res := Resolve(in)
	byLine := map[int][]model.Decision{}
	for _, d := range res.Decisions {
		if d.Source != model.DecisionSourceCSV || d.JiraKey != "" || d.CommentID != "" {
			t.Fatalf("record %+v", d)
		}
		byLine[d.LineIndex] = append(byLine[d.LineIndex], d)
	}
	if d := byLine[2]; len(d) != 1 || d[0].Status != model.DecisionAccepted || d[0].DecidedBy != "nina@acme.com" || d[0].Justification != "left" ||
		d[0].Line != "NetSuite,REVOKE,alice@acme.com,,NINA@acme.com,2026-12-01T10:00:00Z,left" {
		t.Fatalf("line 2: %+v", d)
	}
	if d := byLine[3]; len(d) != 1 || d[0].Status != model.DecisionRejected || !strings.Contains(d[0].Reason, "not an authorised reviewer") {
		t.Fatalf("line 3: %+v", d)
	}
	if d := byLine[4]; len(d) != 1 || d[0].Status != model.DecisionAccepted || d[0].ReviewerRole != model.ReviewerBackup {
		t.Fatalf("line 4: %+v", d)
	}
	wantState(t, res, "alice", nsUsers, model.AccessRevoked)
	wantState(t, res, "bob", nsUsers, model.AccessRevoked)
	wantState(t, res, "bob", nsAdmins, model.AccessRevoked)
	wantState(t, res, "nina", nsUsers, model.AccessCertified)
	wantState(t, res, "nina", nsAdmins, model.AccessPending) // the delegate's all leaves the owner out
	wantState(t, res, "dave", nsAdmins, model.AccessPending) // the guard holds for CSV too
	if len(res.Replies) != 0 {
		t.Fatalf("CSV rows get no Jira replies: %+v", res.Replies)
	}

	// A Jira accountId is no authority for a CSV row: the e-mail is.
	in = fixture()
	in.Systems[0].Owner.Email = ""
	rows, _ = ParseCSV("d.csv", []byte("system,action,target,decided_by_email,decided_at\nNetSuite,REVOKE,alice@acme.com,nina@acme.com,2026-12-01T10:00:00Z\n"), nil)
	_ = in.AddCSV(rows)
	if d := Resolve(in).Decisions; len(d) != 1 || d[0].Status != model.DecisionRejected {
		t.Fatalf("%+v", d)
	}

	in = fixture()
	rows[0].System = "Oracle"
	if err := in.AddCSV(rows); err == nil || !strings.Contains(err.Error(), `line 2: system "Oracle"`) || len(in.Systems[0].Comments) != 0 {
		t.Fatalf("AddCSV with an unknown system: %v", err)
	}
}
