package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"

	"github.com/uar-dev/uar/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"uar": func() {
			env := cli.OSEnv("test", "0000000")
			// Test binary only: the shipped binary cannot be made to lie
			// about time (age's testOnly hooks).
			if v := os.Getenv("UAR_TEST_NOW"); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					fmt.Fprintln(os.Stderr, "bad UAR_TEST_NOW:", err)
					os.Exit(99)
				}
				env.Now = func() time.Time { return t }
			}
			if os.Getenv("UAR_TEST_HOST") != "" {
				env.Hostname = func() (string, error) { return os.Getenv("UAR_TEST_HOST"), nil }
			}
			os.Exit(cli.Main(context.Background(), os.Args[1:], env))
		},
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		Setup: func(e *testscript.Env) error {
			e.Setenv("UAR_TEST_NOW", "2026-12-01T09:00:00Z")
			e.Setenv("UAR_ACTOR", "script-tester")
			e.Setenv("UAR_TEST_HOST", "testhost")
			return nil
		},
		Cmds: scriptCmds(),
	})
}

type scriptCmd = func(ts *testscript.TestScript, neg bool, args []string)

// extraScriptCmds lets other _test.go files in this package register
// their commands (fakes, dumps) from an init function.
var extraScriptCmds = map[string]scriptCmd{}

func scriptCmds() map[string]scriptCmd {
	cmds := map[string]scriptCmd{
		"exitcode":    cmdExitcode,
		"sqlite":      cmdSqlite,
		"sandbox-get": cmdSandboxGet,
	}
	for k, v := range extraScriptCmds {
		cmds[k] = v
	}
	return cmds
}

// exitcode N prog args... runs prog and asserts its exact exit status.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N prog args...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// sqlite DB SQL runs SQL directly on a store (to inspect or to tamper),
// bypassing uar; query results are printed tab-separated on stdout.
func cmdSqlite(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sqlite DB SQL")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(5000)")
	if err != nil {
		ts.Fatalf("sqlite: %v", err)
	}
	defer db.Close()
	rows, err := db.Query(args[1])
	if err == nil {
		defer rows.Close()
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err = rows.Scan(ptrs...); err != nil {
				break
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				if v == nil {
					v = ""
				}
				cells[i] = fmt.Sprint(v)
			}
			fmt.Fprintln(ts.Stdout(), strings.Join(cells, "\t"))
		}
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil && !neg {
		ts.Fatalf("sqlite: %v", err)
	}
	if err == nil && neg {
		ts.Fatalf("sqlite: unexpected success")
	}
}

// sandbox-get DIR SECTION PATH GETs PATH, without credentials, from the
// service whose base URL is SECTION.base_url (okta: org_url) in DIR's
// uar.yaml, as a browser would, and prints the body on stdout.
func cmdSandboxGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: sandbox-get DIR SECTION PATH")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(ts.ReadFile(args[0]+"/uar.yaml")), &cfg); err != nil {
		ts.Fatalf("sandbox-get: %v", err)
	}
	section, _ := cfg[args[1]].(map[string]any)
	base, _ := section["base_url"].(string)
	if args[1] == "okta" {
		base, _ = section["org_url"].(string)
	}
	resp, err := http.Get(strings.TrimRight(base, "/") + args[2])
	if err != nil {
		ts.Fatalf("sandbox-get: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if (resp.StatusCode == http.StatusOK) == neg {
		ts.Fatalf("sandbox-get %s: HTTP %d", args[2], resp.StatusCode)
	}
	fmt.Fprint(ts.Stdout(), string(body))
}
