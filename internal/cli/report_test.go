package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uar-dev/uar/internal/sandbox"
)

// makeReadOnly makes path unwritable even for root (chattr +i when running
// as root, where file modes are not enforced); it skips the test where
// that cannot be done.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s immutable as root: %v %s", path, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

// A store that cannot be written (an auditor's copy, read-only media):
// the workbook is written, the ledger row is not, and a warning says so;
// nothing else fails.
func TestReportOnUnwritableStoreWarnsAndWrites(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	startOkta(t, te, sandbox.ReferenceOrg())
	if code := te.run(context.Background(), "snapshot", "--review", "2026-Q4"); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, te.err)
	}
	os.Remove(filepath.Join(te.dir, "uar.yaml"))
	makeReadOnly(t, filepath.Join(te.dir, "t.db"))
	code := te.run(context.Background(), "report", "--db", "t.db", "--review", "2026-Q4", "-o", "r.xlsx", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "uar: warning: the store") || !strings.Contains(te.err.String(), "not recorded in its ledger") {
		t.Errorf("no warning about the unrecorded hash: %s", te.err)
	}
	if !strings.Contains(te.out.String(), `"recorded": null`) {
		t.Errorf("json: %s", te.out)
	}
	if _, err := os.Stat(filepath.Join(te.dir, "r.xlsx")); err != nil {
		t.Fatal(err)
	}
	// --no-record: no attempt, no warning.
	if code := te.run(context.Background(), "report", "--db", "t.db", "--review", "2026-Q4", "-o", "r2.xlsx", "--no-record"); code != 0 || strings.Contains(te.err.String(), "warning") {
		t.Fatalf("--no-record: exit %d: %s", code, te.err)
	}
}
