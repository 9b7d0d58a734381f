package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/sandbox"
)

// sandboxRun is a `uar sandbox` running in the background of a test.
type sandboxRun struct {
	out, errb *bytes.Buffer
	cancel    context.CancelFunc
	done      chan int
	urls      map[string]string
}

// startSandbox runs `uar sandbox args...` with its own streams (the
// foreground commands of the test use te's), waits for its ready file and
// loads the fake tokens of sandbox.env into te's environment.
func startSandbox(t *testing.T, te *testEnv, dir string, args ...string) *sandboxRun {
	t.Helper()
	env := *te.Env
	sr := &sandboxRun{out: &bytes.Buffer{}, errb: &bytes.Buffer{}, done: make(chan int, 1)}
	env.Stdout, env.Stderr = sr.out, sr.errb
	ctx, cancel := context.WithCancel(context.Background())
	sr.cancel = cancel
	ready := filepath.Join(te.dir, "ready")
	full := append([]string{"sandbox", "--dir", dir, "--ready-file", ready}, args...)
	go func() { sr.done <- Main(ctx, full, &env) }()
	t.Cleanup(func() { sr.stop(t) })
	// Poll for readiness (bounded); an early exit is a failure.
	for i := 0; ; i++ {
		if b, err := os.ReadFile(ready); err == nil {
			sr.urls = map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				name, u, _ := strings.Cut(l, " ")
				sr.urls[name] = u
			}
			break
		}
		select {
		case code := <-sr.done:
			sr.done <- code
			t.Fatalf("sandbox exited %d before it was ready: %s", code, sr.errb)
		case <-time.After(20 * time.Millisecond):
		}
		if i > 1500 {
			t.Fatal("sandbox not ready after 30 s")
		}
	}
	f, err := os.Open(filepath.Join(dir, "sandbox.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && !strings.HasPrefix(k, "#") {
			te.vars[k] = v
		}
	}
	return sr
}

// stop cancels the sandbox (as Ctrl-C would) and returns its exit code.
func (sr *sandboxRun) stop(t *testing.T) int {
	t.Helper()
	sr.cancel()
	code := <-sr.done
	sr.done <- code
	return code
}

func TestSandboxReferenceOrgWorksWithSnapshotAndScore(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	dir := filepath.Join(te.dir, "sb")
	sr := startSandbox(t, te, dir)

	for _, name := range []string{"okta", "jira", "confluence", "slack", "anthropic"} {
		if !strings.HasPrefix(sr.urls[name], "http://127.0.0.1:") {
			t.Errorf("ready file: %s = %q, want a loopback URL", name, sr.urls[name])
		}
	}
	if !strings.HasSuffix(sr.urls["slack"], "/api/") {
		t.Errorf("slack URL %q should end in /api/", sr.urls["slack"])
	}
	// The written config loads and points at the services.
	cfg, err := loadConfig(te.Env, &globalOptions{configFile: filepath.Join(dir, "uar.yaml")}, true)
	if err != nil {
		t.Fatalf("written uar.yaml does not load: %v", err)
	}
	if cfg.Okta.OrgURL != sr.urls["okta"] || cfg.Jira.BaseURL != sr.urls["jira"] || cfg.Confluence.BaseURL != sr.urls["confluence"] ||
		cfg.Slack.APIURL != sr.urls["slack"] || cfg.AI.BaseURL != sr.urls["anthropic"] {
		t.Errorf("config URLs %+v do not match the ready file %v", cfg, sr.urls)
	}
	if len(cfg.Systems) != 3 || cfg.Systems[0].Name != "NetSuite" || cfg.Systems[0].Owner != "nina.patel@company.com" {
		t.Errorf("systems = %+v, want the reference systems", cfg.Systems)
	}
	if te.vars[EnvOktaToken] == "" || te.vars[EnvJiraToken] == "" || te.vars[EnvSlackToken] == "" || te.vars[EnvAnthropicKey] == "" {
		t.Errorf("sandbox.env lacks a token: %v", te.vars)
	}

	// uar snapshot against it, in another "process" (its own Env).
	cfgFlag := "--config=" + filepath.Join(dir, "uar.yaml")
	if code := te.run(context.Background(), "snapshot", cfgFlag, "--db", "t.db", "--review", "2026-Q4", "--json"); code != 0 {
		t.Fatalf("snapshot exit %d: %s", code, te.err)
	}
	var sum struct {
		Systems []review.SystemCount `json:"systems"`
		Totals  map[string]int       `json:"totals"`
	}
	if err := json.Unmarshal(te.out.Bytes(), &sum); err != nil {
		t.Fatalf("snapshot JSON: %v: %s", err, te.out)
	}
	if sum.Totals["groups"] != 4 || sum.Totals["users"] != 8 || sum.Totals["memberships"] != 9 {
		t.Errorf("totals = %v, want 4 groups, 8 users, 9 memberships", sum.Totals)
	}
	want := []review.SystemCount{{System: "NetSuite", Groups: 2, Users: 7, Memberships: 7}, {System: "Salesforce", Groups: 1, Users: 1, Memberships: 1}, {System: "Workday", Groups: 1, Users: 1, Memberships: 1}}
	if len(sum.Systems) != len(want) {
		t.Fatalf("systems = %+v, want %+v", sum.Systems, want)
	}
	for i := range want {
		if sum.Systems[i] != want[i] {
			t.Errorf("systems[%d] = %+v, want %+v", i, sum.Systems[i], want[i])
		}
	}
	// The policy.yaml it wrote scores, and the fake Anthropic answers the
	// optional AI pass with the key from sandbox.env.
	if code := te.run(context.Background(), "score", cfgFlag, "--db", "t.db", "--review", "2026-Q4", "--policy", filepath.Join(dir, "policy.yaml"), "--ai"); code != 0 {
		t.Fatalf("score --ai exit %d: %s", code, te.err)
	}
	// The fake Slack accepts the sandbox's Slack token.
	req := must(http.NewRequest(http.MethodPost, sr.urls["slack"]+"auth.test", strings.NewReader("token="+te.vars[EnvSlackToken])))(t)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sl struct {
		OK bool `json:"ok"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sl)
	resp.Body.Close()
	if !sl.OK {
		t.Error("fake Slack refused the sandbox token")
	}

	if code := sr.stop(t); code != 0 {
		t.Fatalf("sandbox exit %d after cancel, want 0: %s", code, sr.errb)
	}
	if !strings.Contains(sr.out.String(), "okta "+sr.urls["okta"]+"\n") || !strings.Contains(sr.out.String(), "jira "+sr.urls["jira"]+"\n") {
		t.Errorf("stdout should list the services:\n%s", sr.out)
	}
	if !strings.Contains(sr.errb.String(), "sandbox.env") {
		t.Errorf("stderr should say how to use it:\n%s", sr.errb)
	}
	if _, err := os.Stat(filepath.Join(te.dir, "ready")); !os.IsNotExist(err) {
		t.Errorf("ready file left behind after stop: %v", err)
	}
	// No store: the sandbox is a fixture, not a review step.
	if m := must(filepath.Glob(filepath.Join(dir, "*.db")))(t); len(m) != 0 {
		t.Errorf("sandbox created a store: %v", m)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sandbox.env")); !strings.Contains(string(b), "FAKE") {
		t.Errorf("sandbox.env must say its tokens are fake:\n%s", b)
	}
	// Every service stopped listening.
	if c, err := net.Dial("tcp", strings.TrimPrefix(sr.urls["okta"], "http://")); err == nil {
		c.Close()
		t.Error("okta still listening after stop")
	}
}

func TestSandboxGeneratedOrgOktaOnly(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	dir := filepath.Join(te.dir, "gen")
	sr := startSandbox(t, te, dir, "--okta-only", "--generate", "users=300,groups=12,memberships=2500,seed=7", "--json")
	if len(sr.urls) != 1 || sr.urls["okta"] == "" {
		t.Fatalf("--okta-only serves %v, want okta only", sr.urls)
	}
	cfg, err := loadConfig(te.Env, &globalOptions{configFile: filepath.Join(dir, "uar.yaml")}, true)
	if err != nil {
		t.Fatalf("written uar.yaml does not load: %v", err)
	}
	if cfg.Jira.BaseURL != "" || cfg.Slack.APIURL != "" || te.vars[EnvJiraToken] != "" {
		t.Errorf("--okta-only configured other services: jira %q slack %q", cfg.Jira.BaseURL, cfg.Slack.APIURL)
	}
	// The same options give the same org (Now is the env clock).
	org := sandbox.Generate(sandbox.GenerateOptions{Users: 300, SOXGroups: 12, Memberships: 2500, Seed: 7, Now: sandbox.ReferenceNow})
	wantGroups, wantMembers := 0, 0
	systems := map[string]bool{}
	for _, g := range org.Groups {
		if strings.HasPrefix(g.Name, "SOX-") {
			wantGroups++
			wantMembers += len(g.Members)
			systems[strings.Split(g.Name, "-")[1]] = true
		}
	}
	if len(cfg.Systems) != len(systems) {
		t.Errorf("inferred %d systems, want %d", len(cfg.Systems), len(systems))
	}
	for _, s := range cfg.Systems {
		if !systems[s.Name] || s.Owner == "" || s.BackupReviewer == "" || s.Owner == s.BackupReviewer {
			t.Errorf("system %+v: want a known system with distinct owner and backup", s)
		}
	}
	if code := te.run(context.Background(), "snapshot", "--config", filepath.Join(dir, "uar.yaml"), "--db", "g.db", "--json"); code != 0 {
		t.Fatalf("snapshot exit %d: %s", code, te.err)
	}
	var sum struct {
		Systems []review.SystemCount `json:"systems"`
		Totals  map[string]int       `json:"totals"`
	}
	if err := json.Unmarshal(te.out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Totals["groups"] != wantGroups || sum.Totals["memberships"] != wantMembers {
		t.Errorf("totals = %v, want %d groups and %d memberships", sum.Totals, wantGroups, wantMembers)
	}
	for _, s := range sum.Systems {
		if !systems[s.System] {
			t.Errorf("snapshot system %q is not one the sandbox configured", s.System)
		}
	}
	if code := sr.stop(t); code != 0 {
		t.Fatalf("sandbox exit %d: %s", code, sr.errb)
	}
	var doc struct {
		Services map[string]string `json:"services"`
	}
	if err := json.Unmarshal(sr.out.Bytes(), &doc); err != nil || doc.Services["okta"] != sr.urls["okta"] {
		t.Errorf("--json stdout = %s (%v), want the services object", sr.out, err)
	}
}

func TestSandboxRefusesNonLoopbackListen(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:0", "example.com:0", "10.0.0.1:8080"} {
		code := te.run(context.Background(), "sandbox", "--dir", "sb", "--listen", addr)
		if code != ExitUsage {
			t.Errorf("--listen %s: exit %d, want 2", addr, code)
		}
		if !strings.Contains(te.err.String(), "loopback") {
			t.Errorf("--listen %s: stderr %q should say loopback", addr, te.err)
		}
	}
	if _, err := os.Stat(filepath.Join(te.dir, "sb", "uar.yaml")); !os.IsNotExist(err) {
		t.Errorf("a refused sandbox wrote uar.yaml: %v", err)
	}
}

func TestSandboxNeverOverwritesConfig(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	const mine = "db: mine.db\n"
	te.write(t, "uar.yaml", mine)
	code := te.run(context.Background(), "sandbox")
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "uar.yaml exists") {
		t.Errorf("stderr = %q", te.err)
	}
	if b, _ := os.ReadFile(filepath.Join(te.dir, "uar.yaml")); string(b) != mine {
		t.Errorf("uar.yaml changed to %q", b)
	}
	if _, err := os.Stat(filepath.Join(te.dir, "sandbox.env")); !os.IsNotExist(err) {
		t.Errorf("sandbox.env written despite the refusal: %v", err)
	}
}

func TestSandboxPortInUseFails(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code := te.run(context.Background(), "sandbox", "--dir", "sb", "--okta-only", "--listen", ln.Addr().String())
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "okta") {
		t.Errorf("stderr should name the service: %q", te.err)
	}
	if _, err := os.Stat(filepath.Join(te.dir, "sb", "uar.yaml")); !os.IsNotExist(err) {
		t.Errorf("uar.yaml written although nothing listens: %v", err)
	}
}

func TestSandboxUsageErrors(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.write(t, "bad-org.json", `{"users":[{"id":"u1","login":"a@x"}],"groups":[{"id":"g1","name":"SOX-A-B","type":"OKTA_GROUP","members":["nobody"]}]}`)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--generate", "users=10,colour=3"}, "unknown key"},
		{[]string{"--generate", "users=0"}, "positive integer"},
		{[]string{"--generate", "users=ten"}, "positive integer"},
		{[]string{"--generate", "users"}, "key=value"},
		{[]string{"--generate", "users=5,users=6"}, "twice"},
		{[]string{"--generate", "users=99999999999"}, "at most"},
		{[]string{"--generate", "users=5", "--org", "x.json"}, "exclusive"},
		{[]string{"--org", "missing.json"}, "missing.json"},
		{[]string{"--org", "bad-org.json"}, "unknown member"},
		{[]string{"--latency", "-1s"}, "negative"},
		{[]string{"--okta-rate-limit", "-1"}, "okta-rate-limit"},
		{[]string{"--listen", "127.0.0.1"}, "HOST:PORT"},
		{[]string{"--listen", "127.0.0.1:65534"}, "port"},
		{[]string{"extra-arg"}, "unknown command"},
	}
	for _, c := range cases {
		code := te.run(context.Background(), append([]string{"sandbox", "--dir", "sb"}, c.args...)...)
		if code != ExitUsage || !strings.Contains(te.err.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, te.err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(te.dir, "sb", "uar.yaml")); !os.IsNotExist(err) {
		t.Errorf("a usage error wrote uar.yaml: %v", err)
	}
}
