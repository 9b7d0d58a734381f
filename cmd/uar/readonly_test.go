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
