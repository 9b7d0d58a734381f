package decisions

import (
	"fmt"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
)

// benchReview is the measuring point: 400 tickets × 50 comments,
// here with 250 accesses per system (100,000 memberships), a HIGH finding
// on every 25th user, and comments mixing CERTIFY: all, revocations,
// explicit certifications, malformed lines and strangers.
func benchReview() (Input, []jira.Comment) {
	var in Input
	var raw []jira.Comment
	for s := range 400 {
		sys := System{Name: fmt.Sprintf("Sys%03d", s), JiraKey: fmt.Sprintf("UAR-%d", s+1),
			Owner: Reviewer{AccountID: fmt.Sprintf("own-%d", s), Email: fmt.Sprintf("own%d@acme.com", s)}}
		for u := range 250 {
			g := fmt.Sprintf("SOX-Sys%03d-G%d", s, u%5)
			user := fmt.Sprintf("u%d-%d", s, u)
			sys.Access = append(sys.Access, Access{UserID: user, Login: user + "@acme.com", Email: user + "@acme.com", Group: g, Admin: u%5 == 0})
			if u%25 == 0 {
				in.Findings = append(in.Findings, model.Finding{RuleID: "R", Risk: model.RiskHigh, UserID: user, Groups: []string{g}})
			}
		}
		for c := range 50 {
			var body *jira.Node
			switch c % 5 {
			case 0:
				body = jira.Doc(jira.Paragraph(jira.Text("CERTIFY: all")))
			case 1:
				body = jira.Doc(jira.BulletList(jira.Text(fmt.Sprintf("REVOKE: u%d-%d@acme.com -- left", s, c)), jira.Text(fmt.Sprintf("CERTIFY: u%d-%d@acme.com, u%d-%d@acme.com -- ok", s, c+1, s, c+2))))
			case 2:
				body = jira.Doc(jira.Paragraph(jira.Text("thanks, will look tomorrow")), &jira.Node{Type: "blockquote", Content: []*jira.Node{jira.Paragraph(jira.Text("CERTIFY: all"))}})
			case 3:
				body = jira.Doc(jira.Paragraph(jira.Text(fmt.Sprintf("REVOKE u%d-%d@acme.com", s, c))))
			default:
				body = jira.Doc(jira.Paragraph(jira.Text(fmt.Sprintf("REVOKE: u%d-%d@acme.com from SOX-Sys%03d-G%d", s, c, s, c%5))))
			}
			author := fmt.Sprintf("own-%d", s)
			if c%7 == 6 {
				author = "stranger"
			}
			at := time.Date(2026, 12, 1, 0, c, 0, 0, time.UTC)
			raw = append(raw, jira.Comment{ID: fmt.Sprint(s*1000 + c), Author: jira.User{AccountID: author}, Body: body.Raw(), Created: at, Updated: at})
			sys.Comments = append(sys.Comments, Comment{ID: fmt.Sprint(s*1000 + c)})
		}
		in.Systems = append(in.Systems, sys)
	}
	return in, raw
}

func BenchmarkParseAndResolveReview(b *testing.B) {
	in, raw := benchReview()
	b.ResetTimer()
	for b.Loop() {
		k := 0
		for si := range in.Systems {
			for ci := range in.Systems[si].Comments {
				c := raw[k]
				k++
				lines, err := ParseADF(c.Body)
				if err != nil {
					b.Fatal(err)
				}
				in.Systems[si].Comments[ci] = Comment{ID: c.ID, Author: Author{AccountID: c.Author.AccountID}, Created: c.Created, Updated: c.Updated, Lines: lines}
			}
		}
		res := Resolve(in)
		if len(res.Summaries) != 400 {
			b.Fatal(len(res.Summaries))
		}
		b.ReportMetric(float64(len(res.Decisions)), "records")
	}
}
