package decisions_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/decisions"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
)

// A command reads each ticket's comments, parses their bodies, resolves
// the whole review in one call, then stores every record, posts the
// replies whose keys it has not posted before, and prints the summaries.
func ExampleResolve() {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	body := jira.Doc(
		jira.Paragraph(jira.Text("REVOKE: "), jira.Link("ivan@acme.com", "mailto:ivan@acme.com"), jira.Text(" -- left in October")),
		jira.Paragraph(jira.Text("CERTIFY: all")),
		jira.Paragraph(jira.Text("REVOKE dave@acme.com")),
	).Raw()
	// As read by jira.Client.ListComments.
	c, err := decisions.FromJira(jira.Comment{ID: "10001", Body: body, Created: at, Updated: at,
		Author: jira.User{AccountID: "acc-nina", DisplayName: "Nina Patel", EmailAddress: "nina@acme.com"}})
	if err != nil {
		panic(err)
	}
	in := decisions.Input{
		Systems: []decisions.System{{
			Name: "NetSuite", JiraKey: "UAR-1",
			Owner:  decisions.Reviewer{AccountID: "acc-nina", Email: "nina@acme.com"},
			Backup: decisions.Reviewer{AccountID: "acc-cfo", Email: "cfo@acme.com"},
			Access: []decisions.Access{
				{UserID: "u1", Login: "ivan@acme.com", Email: "ivan@acme.com", GroupID: "g1", Group: "SOX-NetSuite-Users"},
				{UserID: "u2", Login: "dave@acme.com", Email: "dave@acme.com", GroupID: "g2", Group: "SOX-NetSuite-Admins", Admin: true},
				{UserID: "u3", Login: "nina@acme.com", Email: "nina@acme.com", GroupID: "g1", Group: "SOX-NetSuite-Users"},
			},
			Comments: []decisions.Comment{c},
		}},
		Findings: []model.Finding{{RuleID: "SOD-IT-ERP-ADMIN", Risk: model.RiskHigh, UserID: "u2", Groups: []string{"SOX-NetSuite-Admins"}}},
	}
	res := decisions.Resolve(in)
	for _, d := range res.Decisions {
		row := fmt.Sprintf("%d %-7s %-13s %-19s %-10s %s", d.LineIndex, d.Action, d.Target, d.GroupName, d.Status, d.Reason)
		fmt.Println(strings.TrimRight(row, " "))
	}
	for _, a := range res.Access {
		fmt.Printf("%s in %s: %s\n", a.Access.Email, a.Access.Group, a.Decision)
	}
	for _, r := range res.Replies {
		fmt.Println("reply", r.Key[:strings.Index(r.Key, "/")], "on", r.JiraKey)
	}
	s := res.Summaries[0]
	fmt.Printf("%s: %d decided, %d pending, %d rejected lines\n", s.System, s.Decided(), s.Pending, s.Rejected)
	// Output:
	// 0 REVOKE  ivan@acme.com SOX-NetSuite-Users  accepted
	// 1 CERTIFY dave@acme.com SOX-NetSuite-Admins rejected   open HIGH finding SOD-IT-ERP-ADMIN on this access: all does not certify it; it needs its own line with a justification, or a revocation
	// 1 CERTIFY ivan@acme.com SOX-NetSuite-Users  superseded a specific decision for this access takes precedence over all: REVOKE in comment 10001 line 0 (2026-12-01T09:00:00Z)
	// 1 CERTIFY nina@acme.com SOX-NetSuite-Users  rejected   self-review: nobody decides their own access; the backup reviewer (cfo@acme.com) decides it
	// 2         dave@acme.com                     rejected   malformed: missing colon after REVOKE (write REVOKE, a colon, then the addresses or all)
	// dave@acme.com in SOX-NetSuite-Admins: pending
	// ivan@acme.com in SOX-NetSuite-Users: revoked
	// nina@acme.com in SOX-NetSuite-Users: pending
	// reply decision-line on UAR-1
	// reply decision-line on UAR-1
	// reply pending-high on UAR-1
	// NetSuite: 1 decided, 2 pending, 2 rejected lines
}
