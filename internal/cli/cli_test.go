package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

// testEnv is an Env with captured streams, a fixed clock and a private
// environment; relative paths resolve in the test's own temporary folder
// (Env.Dir; the process's directory is never changed), so every cli test
// runs in parallel.
type testEnv struct {
	*Env
	out, err *bytes.Buffer
	vars     map[string]string
	dir      string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	te := &testEnv{out: &bytes.Buffer{}, err: &bytes.Buffer{}, vars: map[string]string{"UAR_ACTOR": "go-test"}, dir: dir}
	now := sandbox.ReferenceNow
	te.Env = &Env{
		Stdin: strings.NewReader(""), Stdout: te.out, Stderr: te.err,
		Getenv:  func(k string) string { return te.vars[k] },
		Now:     func() time.Time { return now },
		HTTP:    &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Version: "test", Commit: "test",
		Hostname:     func() (string, error) { return "testhost", nil },
		Username:     func() string { return "tester" },
		PID:          os.Getpid(),
		ProcessAlive: func(int) bool { return false },
		seen:         &configSeen{},
		Dir:          dir,
		Environ: func() []string {
			var out []string
			for k, v := range te.vars {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
	return te
}

func (te *testEnv) run(ctx context.Context, args ...string) int {
	te.out.Reset()
	te.err.Reset()
	return Main(ctx, args, te.Env)
}

func (te *testEnv) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(te.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func openTestStore(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{ReadOnly: true, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// must fails the test on a read error, so no assertion ever runs on the
// zero value of a failed read: must(s.Runs(ctx))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return v
	}
}

func TestReportErrorNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.vars[EnvSlackToken] = "xoxb-secret-value-123"
	code := reportError(te.Env, fmt.Errorf("slack: upstream said: bad token xoxb-secret-value-123"), true)
	if code != ExitFailure {
		t.Fatalf("code %d", code)
	}
	if strings.Contains(te.err.String(), "xoxb-secret-value-123") || !strings.Contains(te.err.String(), "[REDACTED]") {
		t.Fatalf("stderr: %s", te.err)
	}
}

// An ANSI escape in upstream data (an Okta profile) cannot drive the
// reader's terminal: tables and messages show it as \x1b.
func TestControlCharactersNeutralised(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := writeTable(&b, true, []string{"USER"}, [][]string{{"mallory\x1b]0;pwned\x07\x1b[31m"}}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\x07") || !strings.Contains(b.String(), `mallory\x1b]0;pwned\x07\x1b[31m`) {
		t.Errorf("table: %q", b.String())
	}
	b.Reset()
	if err := writeTable(&b, false, []string{"USER"}, [][]string{{"a\x1bb\u009bc"}}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\u009b") {
		t.Errorf("TSV: %q", b.String())
	}
	te := newTestEnv(t)
	ui{env: te.Env, g: &globalOptions{}}.Warnf("user %s", "x\x1b[2J")
	if strings.Contains(te.err.String(), "\x1b") {
		t.Errorf("warning: %q", te.err.String())
	}
}

// --db naming a file that is not a uar store is refused (exit 2) and the
// file is left as it was.
func TestForeignFileIsNotAdopted(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.write(t, "notes.db", "meeting notes, not a database\n")
	te.write(t, "uar.yaml", "db: notes.db\n")
	if code := te.run(context.Background(), "init"); code != ExitUsage || !strings.Contains(te.err.String(), "not a uar") {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	if b, err := os.ReadFile(filepath.Join(te.dir, "notes.db")); err != nil || string(b) != "meeting notes, not a database\n" {
		t.Errorf("the file changed: %q %v", b, err)
	}
}

// Once the config named the Atlassian account, its basic-auth credential
// (base64 of email:token, bare or after "Basic ") is scrubbed from errors.
func TestReportErrorScrubsBasicAuth(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.vars[EnvJiraToken] = "jira-token-value-0123"
	te.write(t, "uar.yaml", "db: t.db\njira:\n  email: svc@acme.com\n")
	if _, err := loadConfig(te.Env, &globalOptions{}, true); err != nil {
		t.Fatal(err)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("svc@acme.com:jira-token-value-0123"))
	reportError(te.Env, fmt.Errorf("jira: server echoed Authorization: Basic %s and %s", cred, cred), true)
	if strings.Contains(te.err.String(), cred) || strings.Contains(te.err.String(), "jira-token-value-0123") {
		t.Errorf("stderr: %s", te.err)
	}
}

// On a terminal score prints a summary per system; --all (or a pipe)
// lists every finding.
func TestScoreSummaryOnATerminal(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	startOkta(t, te, sandbox.ReferenceOrg())
	te.write(t, "policy.yaml", "version: 1\n")
	if code := te.run(context.Background(), "snapshot"); code != 0 {
		t.Fatalf("snapshot: %s", te.err)
	}
	te.StdoutTTY = true
	te.Width = func() int { return 60 }
	if code := te.run(context.Background(), "score"); code != 0 {
		t.Fatalf("score: %s", te.err)
	}
	out := te.out.String()
	if !strings.Contains(out, "NetSuite") || !strings.Contains(out, "HIGH") || !strings.Contains(out, "uar score --all") {
		t.Errorf("summary:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("line of %d runes on a 60-column terminal: %q", n, l)
		}
	}
	if code := te.run(context.Background(), "score", "--all"); code != 0 || !strings.Contains(te.out.String(), "RISK") || !strings.Contains(te.out.String(), "RULE") {
		t.Errorf("--all:\n%s", te.out)
	}
}
