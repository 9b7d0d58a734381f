package main

import (
	"flag"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/uar-dev/uar/internal/sandbox"
)

func init() {
	extraScriptCmds["fake-okta"] = cmdFakeOkta
	extraScriptCmds["fake-member"] = cmdFakeMember
}

// oktaFakes are the scripts' fake Oktas, for fake-member.
var (
	oktaFakesMu sync.Mutex
	oktaFakes   = map[*testscript.TestScript]*sandbox.Okta{}
)

// fake-member GROUP_ID USER_ID asserts that the fake Okta has the
// membership (! fake-member: that it does not).
func cmdFakeMember(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake-member GROUP_ID USER_ID")
	}
	oktaFakesMu.Lock()
	f := oktaFakes[ts]
	oktaFakesMu.Unlock()
	if f == nil {
		ts.Fatalf("fake-member: no fake-okta started")
	}
	if got := f.IsMember(args[0], args[1]); got == neg {
		ts.Fatalf("fake-member %s %s: member = %v", args[0], args[1], got)
	}
}

// fake-okta [-org FILE] [-token T] [-429 N] [-500 N] [-skew GROUP=N] starts
// the sandbox Okta serving the reference org (or FILE) and points
// UAR_OKTA_ORG_URL and UAR_OKTA_TOKEN at it for the rest of the script.
// -skew makes the group's usersCount (expand=stats) off by N.
func cmdFakeOkta(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fake-okta", flag.ContinueOnError)
	orgFile := fs.String("org", "", "org JSON file")
	token := fs.String("token", "test-okta-token", "token the fake accepts")
	n429 := fs.Int("429", 0, "answer the next N member-list requests with 429")
	n500 := fs.Int("500", 0, "answer the next N requests with 500")
	skew := fs.String("skew", "", "GROUP=N: the group's usersCount is off by N")
	if neg || fs.Parse(args) != nil {
		ts.Fatalf("usage: fake-okta [-org FILE] [-token T] [-429 N] [-500 N] [-skew GROUP=N]")
	}
	org := sandbox.ReferenceOrg()
	if *orgFile != "" {
		var err error
		if org, err = sandbox.LoadOrgFile(ts.MkAbs(*orgFile)); err != nil {
			ts.Fatalf("fake-okta: %v", err)
		}
	}
	fake := sandbox.NewOkta(org, sandbox.OktaOptions{Token: *token, Clock: func() time.Time { return sandbox.ReferenceNow }})
	if *n429 > 0 {
		fake.Fail429(*n429, "/api/v1/groups/", -1)
	}
	if *n500 > 0 {
		fake.Fail500(*n500, "")
	}
	if *skew != "" {
		gid, n, ok := strings.Cut(*skew, "=")
		delta, err := strconv.Atoi(n)
		if !ok || err != nil {
			ts.Fatalf("fake-okta: -skew %q: want GROUP=N", *skew)
		}
		fake.SetStatsSkew(gid, delta)
	}
	srv := httptest.NewServer(fake)
	ts.Defer(srv.Close)
	oktaFakesMu.Lock()
	oktaFakes[ts] = fake
	oktaFakesMu.Unlock()
	ts.Defer(func() {
		oktaFakesMu.Lock()
		delete(oktaFakes, ts)
		oktaFakesMu.Unlock()
	})
	ts.Setenv("UAR_OKTA_ORG_URL", srv.URL)
	ts.Setenv("UAR_OKTA_TOKEN", *token)
}

func init() { extraScriptCmds["fake-anthropic"] = cmdFakeAnthropic }

// fake-anthropic [-529 N] [-invalid N] starts the sandbox Anthropic API and
// points UAR_AI_BASE_URL and UAR_ANTHROPIC_API_KEY at it.
func cmdFakeAnthropic(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fake-anthropic", flag.ContinueOnError)
	n529 := fs.Int("529", 0, "answer the next N requests with 529 overloaded")
	invalid := fs.Int("invalid", 0, "answer the next N requests with invalid JSON")
	if neg || fs.Parse(args) != nil {
		ts.Fatalf("usage: fake-anthropic [-529 N] [-invalid N]")
	}
	const key = "sk-ant-test-key-0123456789"
	fake := sandbox.NewAnthropic(sandbox.AnthropicOptions{APIKey: key, Clock: func() time.Time { return sandbox.ReferenceNow }})
	if *n529 > 0 {
		fake.Overload(*n529, "0")
	}
	if *invalid > 0 {
		fake.InvalidJSON(*invalid)
	}
	srv := httptest.NewServer(fake)
	ts.Defer(srv.Close)
	ts.Setenv("UAR_AI_BASE_URL", srv.URL)
	ts.Setenv("UAR_ANTHROPIC_API_KEY", key)
}
