package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustOpen(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = now
	}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill writes n runs, so the store has rows to read back.
func fill(t testing.TB, s *Store, n int) {
	t.Helper()
	for i := range n {
		err := s.WithTx(context.Background(), func(tx *Tx) error {
			_, err := tx.InsertRun(context.Background(), Run{Command: fmt.Sprint("cmd", i), Args: "[]", ToolVersion: "t", Actor: "a", Host: "h", PID: 1})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func countRuns(t testing.TB, s *Store) int {
	t.Helper()
	runs, err := s.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(runs)
}

// listing is a folder's content: name, size and mode of each entry.
func listing(t testing.TB, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %v\n", e.Name(), fi.Size(), fi.Mode())
	}
	return b.String()
}

func copyTo(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// auditorCopies builds, in dir, the three shapes an auditor's copy can
// take: a cleanly closed store (no -wal), a store copied while a writer
// had it open (-wal with frames and -shm), and a store whose -wal was
// copied without its -shm. Each holds `want` runs, some only in the WAL.
func auditorCopies(t testing.TB, dir string) (paths map[string]string, want int) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src.db")
	s := mustOpen(t, src, Options{Create: true})
	fill(t, s, 3)
	s.Close()
	clean := filepath.Join(dir, "clean.db")
	copyTo(t, src, clean)

	s = mustOpen(t, src, Options{})
	fill(t, s, 2) // these rows sit in the WAL while s is open
	if _, err := os.Stat(src + "-wal"); err != nil {
		t.Fatalf("expected a -wal while the writer is open: %v", err)
	}
	paths = map[string]string{"clean": clean}
	for _, shape := range []string{"wal+shm", "wal only"} {
		p := filepath.Join(dir, strings.ReplaceAll(shape, " ", "-")+".db")
		copyTo(t, src, p)
		copyTo(t, src+"-wal", p+"-wal")
		if shape == "wal+shm" {
			copyTo(t, src+"-shm", p+"-shm")
		}
		paths[shape] = p
	}
	s.Close()
	return paths, 5
}

// In a writable folder, a read-only open leaves nothing beside the copy
// and reads the rows that are only in its WAL.
func TestReadOnlyLeavesNoFilesInWritableFolder(t *testing.T) {
	dir := t.TempDir()
	paths, want := auditorCopies(t, dir)
	before := listing(t, dir)
	for shape, p := range paths {
		s, err := Open(context.Background(), p, Options{ReadOnly: true, Now: now})
		if err != nil {
			t.Fatalf("%s: %v", shape, err)
		}
		n := countRuns(t, s)
		if shape != "clean" && n != want {
			t.Errorf("%s: %d runs, want %d (the WAL's rows must be read)", shape, n, want)
		}
		if _, err := s.Query(context.Background(), `DELETE FROM runs`); err == nil {
			t.Errorf("%s: a write succeeded on a read-only store", shape)
		}
		s.Close()
		if after := listing(t, dir); after != before {
			t.Fatalf("%s: the folder changed:\nbefore\n%s\nafter\n%s", shape, before, after)
		}
	}
}

// TestReadOnlyMedia runs the read-only open as an unprivileged user (CI
// runs as root, for whom permissions do not apply): a 0444 store in a
// 0555 folder opens, reads (its WAL too), and the folder listing is
// unchanged afterwards.
func TestReadOnlyMedia(t *testing.T) {
	base, err := os.MkdirTemp("", "uar-ro-media-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a private go-build folder: copy it where the
	// unprivileged user can run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "store.test")
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	in.Close()
	out.Close()

	media := filepath.Join(base, "media")
	if err := os.Mkdir(media, 0o755); err != nil {
		t.Fatal(err)
	}
	paths, want := auditorCopies(t, media)
	for _, p := range []string{"clean", "wal+shm", "wal only"} {
		for _, f := range []string{paths[p], paths[p] + "-wal", paths[p] + "-shm"} {
			if _, err := os.Stat(f); err == nil {
				if err := os.Chmod(f, 0o444); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := os.Chmod(media, 0o555); err != nil {
		t.Fatal(err)
	}
	before := listing(t, media)
	for shape, p := range paths {
		args := []string{bin, "-test.run=^TestHelperReadOnlyOpen$"}
		if os.Geteuid() == 0 {
			setpriv, err := exec.LookPath("setpriv")
			if err != nil {
				t.Fatalf("running as root, but setpriv is missing to drop privileges: %v", err)
			}
			args = append([]string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "UAR_RO_HELPER_DB="+p, "TMPDIR="+os.TempDir())
		outb, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: read-only open as an unprivileged user failed: %v\n%s", shape, err, outb)
		}
		wantLine := fmt.Sprintf("runs=%d", want)
		if shape == "clean" {
			wantLine = "runs=3"
		}
		if !bytes.Contains(outb, []byte(wantLine)) || !bytes.Contains(outb, []byte("uid=65534")) && os.Geteuid() == 0 {
			t.Errorf("%s: helper said %q, want %s as uid 65534", shape, outb, wantLine)
		}
		if after := listing(t, media); after != before {
			t.Fatalf("%s: the read-only folder changed:\n%s\nvs\n%s", shape, before, after)
		}
	}
}

// TestHelperReadOnlyOpen is not a test: it is the unprivileged child of
// TestReadOnlyMedia.
func TestHelperReadOnlyOpen(t *testing.T) {
	path := os.Getenv("UAR_RO_HELPER_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	s, err := Open(context.Background(), path, Options{ReadOnly: true, Now: now})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	runs, err := s.Runs(context.Background())
	if err != nil {
		fmt.Println("read:", err)
		os.Exit(1)
	}
	diff, err := s.SchemaDiff(context.Background())
	if err != nil || len(diff) > 0 {
		fmt.Println("schema:", diff, err)
		os.Exit(1)
	}
	if err := s.Close(); err != nil {
		fmt.Println("close:", err)
		os.Exit(1)
	}
	fmt.Printf("uid=%d runs=%d\n", os.Geteuid(), len(runs))
	os.Exit(0)
}

func fileHash(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func TestRefusesFilesThatAreNotUARStores(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("my notes\n"), 0o644)
	foreign := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES ('acme')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, p := range []string{text, foreign} {
		h := fileHash(t, p)
		for _, opts := range []Options{{Create: true}, {}, {ReadOnly: true}} {
			opts.Now = now
			_, err := Open(context.Background(), p, opts)
			if !errors.Is(err, ErrNotUARStore) && !(opts.ReadOnly && err != nil) {
				t.Errorf("%s %+v: err = %v, want ErrNotUARStore", filepath.Base(p), opts, err)
			}
			if err != nil && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		}
		if fileHash(t, p) != h {
			t.Errorf("%s was modified", p)
		}
	}
	if l := listing(t, dir); strings.Contains(l, "-wal") || strings.Contains(l, "-shm") {
		t.Errorf("files left beside someone else's database:\n%s", l)
	}
	// A directory is refused too.
	if _, err := Open(context.Background(), dir, Options{Create: true, Now: now}); !errors.Is(err, ErrNotUARStore) {
		t.Errorf("directory: %v", err)
	}
}

func TestAdoptsEmptyFileAsPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uar.db")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), p, Options{Now: now}); !errors.Is(err, ErrNotExist) {
		t.Fatalf("an empty file without Create: %v", err)
	}
	s := mustOpen(t, p, Options{Create: true})
	s.Close()
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("adopted store mode %v, want 0600", fi.Mode().Perm())
	}
	// An empty SQLite database (no objects) is adopted as well.
	q := filepath.Join(t.TempDir(), "empty.db")
	db, _ := sql.Open("sqlite", "file:"+q)
	if _, err := db.Exec(`VACUUM`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mustOpen(t, q, Options{Create: true}).Close()
}

func TestDiskFullIsTyped(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true})
	var pages int64
	if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The pool has one connection: the limit applies to every transaction.
	if _, err := s.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}
	err := s.WithTx(context.Background(), func(tx *Tx) error {
		return tx.PutBlob(context.Background(), "h", 1<<20, bytes.Repeat([]byte{1}, 1<<20))
	})
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("err = %v, want ErrDiskFull", err)
	}
	if !strings.Contains(err.Error(), "disk full") {
		t.Errorf("message %q", err)
	}
	// Nothing partial was written.
	var n int
	s.db.QueryRow(`SELECT count(*) FROM blobs`).Scan(&n)
	if n != 0 {
		t.Errorf("%d blobs after a failed transaction", n)
	}
}

// A writer that cannot get the lock within the busy timeout gets a
// *BusyError naming the running run, never a raw SQLITE_BUSY.
func TestBusyNamesTheRunningRun(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uar.db")
	s1 := mustOpen(t, p, Options{Create: true})
	var run Run
	err := s1.WithTx(context.Background(), func(tx *Tx) error {
		var err error
		run, err = tx.InsertRun(context.Background(), Run{Command: "snapshot", Args: "[]", ToolVersion: "t", Actor: "a", Host: "build-7", PID: 4242})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, p, Options{BusyTimeout: 200 * time.Millisecond})
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- s1.WithTx(context.Background(), func(*Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	err = s2.WithTx(context.Background(), func(*Tx) error { return nil })
	close(release)
	if e := <-done; e != nil {
		t.Fatal(e)
	}
	var be *BusyError
	if !errors.As(err, &be) || be.RunID != run.ID || be.PID != 4242 || be.Host != "build-7" || be.Command != "snapshot" {
		t.Fatalf("err = %v, want a *BusyError naming run %s", err, run.ID)
	}
	msg := err.Error()
	for _, want := range []string{run.ID, "snapshot", "4242", "build-7"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") {
		t.Errorf("raw SQLite text in %q", msg)
	}
	// Once the lock is free, the second writer proceeds.
	if err := s2.WithTx(context.Background(), func(*Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if DefaultBusyTimeout < 30*time.Second {
		t.Error("the busy timeout must outlast the longest write transaction (~25 s)")
	}
}

func TestSchemaDiff(t *testing.T) {
	cases := []struct {
		name, sql, want string
	}{
		{"clean", ``, ``},
		{"dropped trigger", `DROP TRIGGER evidence_no_update`, `trigger evidence_no_update: missing`},
		{"redefined view", `DROP VIEW v_current_scorings; CREATE VIEW v_current_scorings AS SELECT s.* FROM scorings s WHERE 0`, `view v_current_scorings: definition differs`},
		{"extra index", `CREATE INDEX sneaky ON runs(actor)`, `index sneaky: unexpected`},
		{"changed index", `DROP INDEX runs_status; CREATE INDEX runs_status ON runs(actor)`, `index runs_status: definition differs`},
		{"extra trigger", `CREATE TRIGGER hide AFTER INSERT ON scoring_findings BEGIN DELETE FROM scoring_findings WHERE user_login = 'x'; END`, `trigger hide: unexpected`},
		{"extra table", `CREATE TABLE notes(x)`, `table notes: unexpected`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "uar.db")
			mustOpen(t, p, Options{Create: true}).Close()
			if tc.sql != "" {
				db, _ := sql.Open("sqlite", "file:"+p)
				if _, err := db.Exec(tc.sql); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			// ANALYZE's statistics tables are not a difference.
			db, _ := sql.Open("sqlite", "file:"+p)
			db.Exec(`ANALYZE`)
			db.Close()
			s := mustOpen(t, p, Options{ReadOnly: true})
			diff, err := s.SchemaDiff(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range diff {
				got = append(got, d.String())
			}
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("clean store differs: %v", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
				t.Fatalf("diff %v, want %q", got, tc.want)
			}
		})
	}
}
