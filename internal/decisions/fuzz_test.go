package decisions

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/model"
)

// Seeds beyond the committed corpus in testdata/fuzz: every line of the
// grammar tables.
func grammarSeeds() []string {
	return []string{
		"REVOKE: ivan.petrov@acme.com\nREVOKE: dave.kim@acme.com from SOX-NetSuite-Admins\nCERTIFY: all",
		"CERTIFY: carol.wong@acme.com -- covering the Q4 close, approved by the CFO",
		"* *REVOKE:* [a@x.com|mailto:a@x.com], <mailto:b@x.com>; c — why",
		"{quote}\nREVOKE: a@x.com\n{quote}\n```\nCERTIFY: all\n```\nbq. REVOKE: q@x.com",
		"REVOKE ivan@x\nCERTIFY: everyone\nREVOKE: bob from\nAPPROVE: a@x.com\nPlease REVOKE: b@x.com",
		"CERTIFY: all from SOX-A -- ok\nREVOKE: all\nCERTIFY: all, a@x.com\n`REVOKE: x@y.z`",
	}
}

// checkLines holds for the lines of any comment.
func checkLines(t *testing.T, lines []Line) {
	t.Helper()
	if len(lines) > MaxLines+1 {
		t.Fatalf("%d lines, more than MaxLines+1", len(lines))
	}
	for i, l := range lines {
		if l.Index != i {
			t.Fatalf("line %d has index %d", i, l.Index)
		}
		if len(l.Raw) > MaxLineLen || strings.TrimSpace(l.Raw) != l.Raw || l.Raw == "" {
			t.Fatalf("raw %q", l.Raw)
		}
		for _, s := range append([]string{l.Raw, l.Subject, l.Group, l.Justification, l.Malformed}, l.Targets...) {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Fatalf("invalid UTF-8 or a control character in %q", s)
			}
		}
		if l.Malformed != "" {
			if l.Action != "" || l.All || l.Targets != nil {
				t.Fatalf("malformed line with a decision: %+v", l)
			}
			continue
		}
		if l.Action != model.ActionCertify && l.Action != model.ActionRevoke {
			t.Fatalf("action %q", l.Action)
		}
		if l.All == (len(l.Targets) > 0) || l.All && l.Action == model.ActionRevoke || len(l.Targets) > MaxTargets {
			t.Fatalf("bad subject %+v", l)
		}
		seen := map[string]bool{}
		for _, tg := range l.Targets {
			low := strings.ToLower(tg)
			if seen[low] || !isEmail(tg) && !isLogin(tg) || notAddresses[low] || low == "all" {
				t.Fatalf("bad target %q in %+v", tg, l)
			}
			seen[low] = true
		}
		if strings.EqualFold(l.Group, "") != (l.Group == "") || len(l.Group) > 256 {
			t.Fatalf("group %q", l.Group)
		}
	}
}

// checkResolve resolves lines as if the owner, a delegate and a stranger
// had each written them, and checks the result.
func checkResolve(t *testing.T, lines []Line) {
	t.Helper()
	in := fixture()
	for i, who := range []Author{nina, dan, stranger, {AccountID: "acc-h", DisplayName: "REVOKE: x@y.z\nCERTIFY: all"}} {
		addComment(&in, "NetSuite", Comment{ID: string(rune('1' + i)), Author: who, Created: t0, Lines: lines})
	}
	res := Resolve(in)
	accepted := map[[3]string]int{}
	for _, d := range res.Decisions {
		if d.Status == model.DecisionAccepted {
			accepted[[3]string{d.System, d.UserID, d.GroupName}]++
		}
		if d.Status != model.DecisionAccepted && d.Status != model.DecisionRejected && d.Status != model.DecisionSuperseded {
			t.Fatalf("status %q", d.Status)
		}
		if d.Status != model.DecisionRejected && d.UserID == "" {
			t.Fatalf("a %s record must name an access: %+v", d.Status, d)
		}
	}
	for k, n := range accepted {
		if n > 1 {
			t.Fatalf("%v has %d accepted records", k, n)
		}
	}
	for _, st := range res.Access {
		if (st.Winner == nil) != (st.Decision == model.AccessPending) {
			t.Fatalf("state %+v", st)
		}
	}
	for _, r := range res.Replies {
		if got, err := ParseADF(r.Body); err != nil || len(got) != 0 {
			t.Fatalf("reply body read back: %+v %v", got, err)
		}
		if got := ParseText(r.Text); len(got) != 0 {
			t.Fatalf("reply text read back: %+v\n%s", got, r.Text)
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range grammarSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := ParseText(s)
		checkLines(t, lines)
		if again := ParseText(s); !slices.EqualFunc(lines, again, func(a, b Line) bool { return a.Raw == b.Raw && a.Malformed == b.Malformed }) {
			t.Fatal("not deterministic")
		}
		// Quoted, nothing is read.
		norm := strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
		if got := ParseText("> " + strings.ReplaceAll(norm, "\n", "\n> ")); len(got) != 0 {
			t.Fatalf("quoted text read: %+v", got)
		}
		checkResolve(t, lines)
	})
}

func FuzzParseADF(f *testing.F) {
	for _, s := range grammarSeeds() {
		b, _ := json.Marshal(map[string]any{"type": "doc", "version": 1, "content": []any{
			map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": s}}}}})
		f.Add(string(b))
	}
	f.Add(`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"REVOKE: "},{"type":"text","text":"a@x.com","marks":[{"type":"link","attrs":{"href":"mailto:a@x.com"}}]},{"type":"hardBreak"},{"type":"text","text":"CERTIFY: all","marks":[{"type":"code"}]}]}]}`)
	f.Add(`"REVOKE: [a@x.com|mailto:a@x.com]"`)
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := ParseADF(json.RawMessage(s))
		if err != nil {
			if json.Valid([]byte(s)) {
				t.Fatalf("valid JSON gave %v", err)
			}
			return
		}
		checkLines(t, lines)
		// Inside a blockquote (or a panel), nothing is read.
		if t2 := strings.TrimSpace(s); strings.HasPrefix(t2, "{") || strings.HasPrefix(t2, "[") {
			for _, box := range []string{"blockquote", "panel", "codeBlock", "expand"} {
				wrapped := `{"type":"doc","content":[{"type":"` + box + `","content":[` + strings.TrimSuffix(strings.TrimPrefix(t2, "["), "]") + `]}]}`
				if strings.HasPrefix(t2, "{") {
					wrapped = `{"type":"doc","content":[{"type":"` + box + `","content":[` + t2 + `]}]}`
				}
				if got, err := ParseADF(json.RawMessage(wrapped)); err == nil && len(got) != 0 {
					t.Fatalf("%s: quoted content read: %+v", box, got)
				}
			}
		}
		checkResolve(t, lines)
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("system,action,target,group,decided_by_email,decided_at,justification\nNetSuite,REVOKE,a@acme.com,,n@acme.com,2026-12-01T09:00:00Z,left\n"))
	f.Add([]byte("decided_at;target;action;system;decided_by_email\n2026-12-01T09:00:00+02:00;all;certify;workday;n@acme.com\n"))
	f.Add([]byte("system,action,target,decided_by_email,decided_at\n\"x\n,,,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseCSV("f.csv", data, systemNames)
		if err != nil {
			var ce *CSVError
			if rows != nil || !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("rows %v, err %v", rows, err)
			}
			if n := strings.Count(err.Error(), "\n"); n > MaxCSVProblems {
				t.Fatalf("%d lines of error", n+1)
			}
			return
		}
		if len(rows) == 0 {
			t.Fatal("no rows and no error")
		}
		for _, r := range rows {
			if !slices.Contains(systemNames, r.System) || r.DecidedAt.Location().String() != "UTC" || r.DecidedBy != strings.ToLower(r.DecidedBy) {
				t.Fatalf("row %+v", r)
			}
			checkLines(t, []Line{func() Line { l := r.Comment().Lines[0]; l.Index = 0; return l }()})
			// The recorded line is the row: read back under the same
			// header, it gives the same row.
			again, err := ParseCSV("f.csv", []byte(headerOf(data)+"\n"+r.Raw+"\n"), systemNames)
			if err != nil || len(again) != 1 || again[0].Target != r.Target || again[0].Justification != r.Justification ||
				again[0].Action != r.Action || again[0].Group != r.Group || !again[0].DecidedAt.Equal(r.DecidedAt) {
				t.Fatalf("raw %q reads back as %+v, %v; want %+v", r.Raw, again, err, r)
			}
		}
		in := fixture()
		if err := in.AddCSV(rows); err != nil {
			t.Fatal(err)
		}
		res := Resolve(in)
		if len(res.Replies) != 0 {
			t.Fatalf("replies to CSV rows: %+v", res.Replies)
		}
	})
}

// headerOf returns the header row of a CSV file re-encoded as ParseCSV
// reads it (same delimiter).
func headerOf(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	if hdr, _, _ := bytes.Cut(data, []byte("\n")); bytes.Contains(hdr, []byte(";")) && !bytes.Contains(hdr, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	h, _ := r.Read()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = r.Comma
	_ = w.Write(h)
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}
