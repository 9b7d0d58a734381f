package review

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// BenchmarkParseDecisions400Tickets reads a published 400-system review
// whose every ticket carries 50 comments (the owner's CERTIFY: all, two
// REVOKEs, two malformed lines, a decision by someone who is not the
// owner and 44 lines of discussion), with the sandbox Jira answering
// after BENCH_LATENCY (default 50ms). It reports the Jira calls the pass
// made, the comments read, the replies posted and the wall time.
func BenchmarkParseDecisions400Tickets(b *testing.B) {
	latency := 50 * time.Millisecond
	if v := os.Getenv("BENCH_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("BENCH_LATENCY: %v", err)
		}
		latency = d
	}
	const systemsN, perTicket = 400, 50
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 11, Users: 5000, SOXGroups: 3 * systemsN, Systems: systemsN, Memberships: 40000})
	snap := orgSnapshot(org)
	systems := InferSystemsFromSnapshot(snap)
	if len(systems) != systemsN {
		b.Fatalf("%d systems generated, want %d", len(systems), systemsN)
	}
	members := systemMembers(snap)
	pol, err := score.ParsePolicy("policy.yaml", []byte(score.ExamplePolicy))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		st := testStore(b)
		sb, err := sandbox.Start(ctx, sandbox.StartOptions{Org: &sandbox.Org{}, Clock: testClock})
		if err != nil {
			b.Fatal(err)
		}
		s, _ := newStep(b, st, "snapshot", rev)
		seedPopulation(b, s, snap)
		s, _ = newStep(b, st, "score", rev)
		if _, err := Score(ctx, s, ScoreInput{Policy: pol, PolicyFile: "policy.yaml"}); err != nil {
			b.Fatal(err)
		}
		s, _ = newStep(b, st, "publish", rev)
		res, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems))
		if err != nil {
			b.Fatal(err)
		}
		at := testNow.Add(time.Hour)
		for _, p := range res.Publications {
			if p.Kind != store.KindTicket {
				continue
			}
			for i, body := range ticketThread(p.System, members[p.System], perTicket) {
				author := fmt.Sprintf("colleague%d@x.com", i%7)
				if i < 5 {
					author = "owner@x.com"
				} else if i == 5 {
					author = "someone.else@x.com"
				}
				if _, err := sb.Jira.AddComment(p.ExternalKey, author, body, at.Add(time.Duration(i)*time.Second), time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		sb.Jira.SetLatency(latency)
		before := len(sb.Jira.Requests())
		s, _ = newStep(b, st, "parse-decisions", rev)
		c := jira.New(jira.Config{BaseURL: sb.URL(sandbox.ServiceJira), Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Project: sandbox.JiraProject},
			recorded(s, store.ServiceJira), jira.WithSleep(noSleep))
		o := DecisionsOptions{Systems: systems, Connect: func() (DecisionJira, error) { return c, nil }}
		b.StartTimer()
		start := time.Now()
		out, err := ParseDecisions(ctx, s, o)
		wall := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if out.Comments != systemsN*perTicket {
			b.Fatalf("read %d comments, want %d", out.Comments, systemsN*perTicket)
		}
		if len(out.Summaries) != systemsN {
			b.Fatalf("%d system summaries, want %d", len(out.Summaries), systemsN)
		}
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(float64(len(sb.Jira.Requests())-before), "jira_calls")
		b.ReportMetric(float64(out.Comments), "comments")
		b.ReportMetric(float64(out.Replies), "replies")
		b.ReportMetric(float64(len(out.Rejected)), "rejected_lines")
		sb.Close()
	}
}

// systemMembers is each system's member logins, in snapshot order.
func systemMembers(snap *model.Snapshot) map[string][]string {
	sysOf := map[string]string{}
	for _, g := range snap.Groups {
		sysOf[g.ID] = g.System
	}
	login := map[string]string{}
	for _, u := range snap.Users {
		login[u.ID] = u.Login
	}
	out := map[string][]string{}
	for _, m := range snap.Memberships {
		if sys := sysOf[m.GroupID]; sys != "" {
			out[sys] = append(out[sys], login[m.UserID])
		}
	}
	return out
}

// ticketThread is n comment bodies: the owner's five (CERTIFY: all, two
// REVOKEs of members, two malformed lines), one decision by someone who
// is not the owner, and discussion.
func ticketThread(system string, members []string, n int) []string {
	target := func(i int) string {
		if len(members) == 0 {
			return "nobody@x.com"
		}
		return members[i%len(members)]
	}
	out := []string{
		"CERTIFY: all",
		"REVOKE: " + target(0) + " -- left the " + system + " team",
		"Also:\nREVOKE: " + target(len(members)/2) + " -- no longer needed",
		"REVOKE " + target(1) + " please",
		"CERTIFY: someone-not-in-" + system + "@x.com",
		"REVOKE: " + target(2),
	}
	for i := len(out); i < n; i++ {
		out = append(out, fmt.Sprintf("Checked row %d of the %s access list with the team; nothing to add.", i, system))
	}
	return out
}
