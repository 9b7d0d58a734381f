package cli

import (
	"bytes"
	"context"
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
// environment; each test runs in its own temporary working directory.
type testEnv struct {
	*Env
	out, err *bytes.Buffer
	vars     map[string]string
	dir      string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
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
