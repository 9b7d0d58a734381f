package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/uar-dev/uar/internal/sandbox"
)

func init() {
	extraScriptCmds["fake-atlassian"] = cmdFakeAtlassian
	extraScriptCmds["fake-slack"] = cmdFakeSlack
	extraScriptCmds["fake-requests"] = cmdFakeRequests
	extraScriptCmds["fake-count"] = cmdFakeCount
	extraScriptCmds["fake-down"] = cmdFakeDown
	extraScriptCmds["fake-state"] = cmdFakeState
	extraScriptCmds["fake-body"] = cmdFakeBody
	extraScriptCmds["fake-slack-fail"] = cmdFakeSlackFail
	extraScriptCmds["fake-comment"] = cmdFakeComment
}

// fake-comment KEY AUTHOR_EMAIL TEXT... adds a comment on issue KEY as if
// AUTHOR had written it in Jira (one paragraph per line of TEXT; "\n" in
// TEXT is a line break), at the fake's clock.
func cmdFakeComment(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: fake-comment KEY AUTHOR_EMAIL TEXT...")
	}
	f := fakesOf(ts)
	if f.jira == nil {
		ts.Fatalf("fake-comment: no fake-atlassian started")
	}
	text := strings.ReplaceAll(strings.Join(args[2:], " "), `\n`, "\n")
	if _, err := f.jira.AddComment(args[0], args[1], text, fakeClock(), time.Time{}); err != nil {
		ts.Fatalf("fake-comment: %v", err)
	}
}

// Credentials the publishing fakes accept (tests grep the store for them).
const (
	fakeAtlassianEmail = "svc-uar@company.com"
	fakeJiraToken      = "jira-test-token-0123456789"
	fakeSlackToken     = "xoxb-slack-test-token-0123456789"
)

// publishFakes are one script's Jira, Confluence and Slack fakes.
type publishFakes struct {
	jira  *sandbox.Jira
	conf  *sandbox.Confluence
	slack *sandbox.Slack
	down  map[string]*atomic.Bool
}

var (
	publishFakesMu sync.Mutex
	publishFakesBy = map[*testscript.TestScript]*publishFakes{}
)

func fakesOf(ts *testscript.TestScript) *publishFakes {
	publishFakesMu.Lock()
	defer publishFakesMu.Unlock()
	f := publishFakesBy[ts]
	if f == nil {
		f = &publishFakes{down: map[string]*atomic.Bool{"jira": {}, "confluence": {}, "slack": {}}}
		publishFakesBy[ts] = f
		ts.Defer(func() {
			publishFakesMu.Lock()
			delete(publishFakesBy, ts)
			publishFakesMu.Unlock()
		})
	}
	return f
}

// downable answers 503 (Retry-After: 0, so clients give up at once after
// their bounded retries) while its switch is on: the service is "down".
func downable(h http.Handler, down *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"errors":[{"status":503,"code":"SERVICE_UNAVAILABLE","title":"Service Unavailable"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func fakeClock() time.Time { return sandbox.ReferenceNow }

// fake-atlassian starts the sandbox Jira (project UAR) and Confluence
// (space SOX) and points UAR_JIRA_BASE_URL, UAR_JIRA_EMAIL, UAR_JIRA_TOKEN
// and UAR_CONFLUENCE_BASE_URL at them (Confluence takes the Jira token).
func cmdFakeAtlassian(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: fake-atlassian")
	}
	f := fakesOf(ts)
	f.jira = sandbox.NewJira(sandbox.JiraOptions{Email: fakeAtlassianEmail, Token: fakeJiraToken, Projects: []string{"UAR"}, Clock: fakeClock})
	f.conf = sandbox.NewConfluence(sandbox.ConfluenceOptions{Email: fakeAtlassianEmail, Token: fakeJiraToken, Spaces: []string{"SOX"}, Clock: fakeClock})
	js := httptest.NewServer(downable(f.jira, f.down["jira"]))
	ts.Defer(js.Close)
	cs := httptest.NewServer(downable(f.conf, f.down["confluence"]))
	ts.Defer(cs.Close)
	ts.Setenv("UAR_JIRA_BASE_URL", js.URL)
	ts.Setenv("UAR_JIRA_EMAIL", fakeAtlassianEmail)
	ts.Setenv("UAR_JIRA_TOKEN", fakeJiraToken)
	ts.Setenv("UAR_CONFLUENCE_BASE_URL", cs.URL)
}

// fake-slack starts the sandbox Slack (channel #sox-uar) and points
// UAR_SLACK_API_URL and UAR_SLACK_TOKEN at it.
func cmdFakeSlack(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fake-slack", flag.ContinueOnError)
	fail := fs.String("fail", "", "METHOD:CODE: the next call of METHOD answers ok:false CODE")
	if neg || fs.Parse(args) != nil {
		ts.Fatalf("usage: fake-slack [-fail METHOD:CODE]")
	}
	f := fakesOf(ts)
	f.slack = sandbox.NewSlack(sandbox.SlackOptions{Token: fakeSlackToken, Clock: fakeClock})
	if *fail != "" {
		method, code, ok := strings.Cut(*fail, ":")
		if !ok {
			ts.Fatalf("fake-slack: -fail wants METHOD:CODE")
		}
		f.slack.FailWith(method, 1, code)
	}
	srv := httptest.NewServer(downable(f.slack, f.down["slack"]))
	ts.Defer(srv.Close)
	ts.Setenv("UAR_SLACK_API_URL", srv.URL+"/api/")
	ts.Setenv("UAR_SLACK_TOKEN", fakeSlackToken)
}

func (f *publishFakes) log(ts *testscript.TestScript, service string) *sandbox.RequestLog {
	switch {
	case service == "jira" && f.jira != nil:
		return f.jira.Log()
	case service == "confluence" && f.conf != nil:
		return f.conf.Log()
	case service == "slack" && f.slack != nil:
		return f.slack.Requests()
	case service == "okta":
		oktaFakesMu.Lock()
		o := oktaFakes[ts]
		oktaFakesMu.Unlock()
		if o != nil {
			return o.Requests()
		}
	}
	ts.Fatalf("no fake %s started", service)
	return nil
}

// fake-requests SERVICE prints "METHOD PATH STATUS" for every request the
// fake received; fake-requests SERVICE reset forgets them.
func cmdFakeRequests(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[1] != "reset") {
		ts.Fatalf("usage: fake-requests jira|confluence|slack [reset]")
	}
	l := fakesOf(ts).log(ts, args[0])
	if len(args) == 2 {
		l.Reset()
		return
	}
	for _, r := range l.All() {
		fmt.Fprintf(ts.Stdout(), "%s %s %d\n", r.Method, r.Path, r.Status)
	}
}

// fake-count SERVICE METHOD PATH N asserts how many such requests the fake
// received (METHOD or PATH "*" matches any).
func cmdFakeCount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: fake-count SERVICE METHOD PATH N")
	}
	want, err := strconv.Atoi(args[3])
	if err != nil {
		ts.Fatalf("fake-count: %v", err)
	}
	m, p := args[1], args[2]
	if m == "*" {
		m = ""
	}
	if p == "*" {
		p = ""
	}
	if got := fakesOf(ts).log(ts, args[0]).Count(m, p); got != want {
		ts.Fatalf("%s received %d %s %s requests, want %d", args[0], got, args[1], args[2], want)
	}
}

// fake-down SERVICE on|off takes a fake down (503 to everything) or back up.
func cmdFakeDown(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "on" && args[1] != "off") {
		ts.Fatalf("usage: fake-down jira|confluence|slack on|off")
	}
	d, ok := fakesOf(ts).down[args[0]]
	if !ok {
		ts.Fatalf("fake-down: unknown service %q", args[0])
	}
	d.Store(args[1] == "on")
}

// fake-state SERVICE prints what the fake holds: Jira issues (key, summary,
// priority, labels), Confluence pages (id, title, parent, version) or Slack
// messages (channel, ts, edits), one per line, sorted.
func cmdFakeState(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fake-state jira|confluence|slack")
	}
	f := fakesOf(ts)
	var lines []string
	switch args[0] {
	case "jira":
		for _, is := range f.jira.Issues() {
			lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%v\t%s", is.Key, is.Summary, is.Priority, is.Labels, is.Assignee))
		}
	case "confluence":
		for _, p := range f.conf.Pages() {
			c := p.Current()
			lines = append(lines, fmt.Sprintf("%s\t%s\tparent=%s\tv%d\t%d bytes", p.ID, p.Title, p.ParentID, c.Number, len(c.Body)))
		}
	case "slack":
		for _, m := range f.slack.Messages() {
			lines = append(lines, fmt.Sprintf("%s\t%s\tedits=%d\t%s", m.Channel, m.TS, m.Edits, m.Text))
		}
	default:
		ts.Fatalf("fake-state: unknown service %q", args[0])
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// fake-body jira KEY | confluence TITLE prints an issue's description (ADF
// JSON) or a page's current storage body.
func cmdFakeBody(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fake-body jira KEY | confluence TITLE")
	}
	f := fakesOf(ts)
	switch args[0] {
	case "jira":
		for _, is := range f.jira.Issues() {
			if is.Key == args[1] {
				fmt.Fprintln(ts.Stdout(), string(is.Description))
				return
			}
		}
	case "confluence":
		for _, p := range f.conf.Pages() {
			if p.Title == args[1] {
				fmt.Fprintln(ts.Stdout(), p.Current().Body)
				return
			}
		}
	}
	ts.Fatalf("fake-body: no %s %q", args[0], args[1])
}

// fake-slack-fail METHOD CODE makes the next call of METHOD on the running
// fake Slack answer ok:false CODE (e.g. chat.update message_not_found).
func cmdFakeSlackFail(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fake-slack-fail METHOD CODE")
	}
	f := fakesOf(ts)
	if f.slack == nil {
		ts.Fatalf("fake-slack-fail: no fake slack started")
	}
	f.slack.FailWith(args[0], 1, args[1])
}
