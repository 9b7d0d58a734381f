package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The auditor's copy on read-only media: verify and query work on a 0444
// store in a 0555 folder, as a user who cannot write there, and leave the
// folder exactly as it was (no -wal, no -shm). As root (CI) the commands
// run as nobody through setpriv; otherwise as the current user, who cannot
// write a 0555 folder either.
func TestAuditorCommandsOnReadOnlyMedia(t *testing.T) {
	root, err := os.MkdirTemp("", "uar-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
		os.RemoveAll(root)
	})
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary runs uar when it is called "uar" (testscript.Main).
	bin := filepath.Join(root, "uar")
	copyFile(t, os.Args[0], bin, 0o755)
	media := filepath.Join(root, "media")
	if err := os.Mkdir(media, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "UAR_TEST_NOW=2026-12-01T09:00:00Z", "UAR_ACTOR=auditor-test")
	run := func(asNobody bool, args ...string) (string, error) {
		name, argv := bin, args
		if asNobody && os.Geteuid() == 0 {
			name, argv = "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)
		}
		cmd := exec.Command(name, argv...)
		cmd.Dir, cmd.Env = media, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// A store made by a writing command, then frozen as handed over.
	if out, err := run(false, "init"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	for _, f := range []string{"uar.db", "uar.yaml", "policy.yaml"} {
		if err := os.Chmod(filepath.Join(media, f), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(media, 0o555); err != nil {
		t.Fatal(err)
	}
	before := listing(t, media)
	if out, err := run(true, "verify", "--db", "uar.db"); err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify on read-only media: %v\n%s", err, out)
	}
	if out, err := run(true, "query", "--db", "uar.db", "--sql", "SELECT command, status FROM runs"); err != nil || !strings.Contains(out, "init\tok") {
		t.Fatalf("query on read-only media: %v\n%s", err, out)
	}
	if after := listing(t, media); !slices.Equal(before, after) {
		t.Errorf("the folder changed:\nbefore %v\nafter  %v", before, after)
	}

	// Two handed-over reviews (the demo's, taken twice) on read-only
	// media: diff opens each store twice (two connections), report and
	// evidence show read them; none writes beside them.
	handed := filepath.Join(root, "handed")
	for _, d := range []string{"a", "b"} {
		if out, err := run(false, "demo", "--dir", filepath.Join(handed, d)); err != nil {
			t.Fatalf("demo into %s: %v\n%s", d, err, out)
		}
	}
	outDir := filepath.Join(root, "out")
	if err := os.Mkdir(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outDir, 0o777); err != nil { // past the umask: nobody writes the report here
		t.Fatal(err)
	}
	if err := filepath.Walk(handed, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return os.Chmod(p, 0o555)
		}
		return os.Chmod(p, 0o444)
	}); err != nil {
		t.Fatal(err)
	}
	beforeA, beforeB := listing(t, filepath.Join(handed, "a")), listing(t, filepath.Join(handed, "b"))
	a, b := filepath.Join(handed, "a", "uar.db"), filepath.Join(handed, "b", "uar.db")
	// b's population was taken before a's revocations, so a's two proven
	// removals read as present again (regranted); nothing else changed.
	if out, err := run(true, "diff", "--from-db", a, "--to-db", b, "--fail-on", "granted,removed"); err != nil || !strings.Contains(out, "2 regranted, 0 granted, 0 removed") {
		t.Fatalf("diff on read-only media: %v\n%s", err, out)
	}
	if out, err := run(true, "report", "--db", a, "--no-record", "-o", filepath.Join(outDir, "r.xlsx")); err != nil {
		t.Fatalf("report on read-only media: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(outDir, "r.xlsx")); err != nil {
		t.Fatalf("report on read-only media wrote no workbook: %v", err)
	}
	if out, err := run(true, "evidence", "show", "1", "--db", b); err != nil || !strings.Contains(out, "E") {
		t.Fatalf("evidence show on read-only media: %v\n%s", err, out)
	}
	if after := listing(t, filepath.Join(handed, "a")); !slices.Equal(beforeA, after) {
		t.Errorf("store a's folder changed:\nbefore %v\nafter  %v", beforeA, after)
	}
	if after := listing(t, filepath.Join(handed, "b")); !slices.Equal(beforeB, after) {
		t.Errorf("store b's folder changed:\nbefore %v\nafter  %v", beforeB, after)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// listing is the folder's names, sizes and modes.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %d", e.Name(), info.Mode(), info.Size()))
	}
	return out
}
