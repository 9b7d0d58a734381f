package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestUnknownCommandIsAUsageError(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	if code := te.run(context.Background(), "frobnicate"); code != ExitUsage || !strings.Contains(te.err.String(), "uar demo") {
		t.Errorf("exit %d: %s", code, te.err)
	}
	if code := te.run(context.Background(), "--version"); code != 0 || te.out.String() != "uar test (commit test)\n" {
		t.Errorf("--version: %d %q", code, te.out)
	}
}

// With --json an error is the one JSON document on stdout, and stderr has
// only the error line.
func TestJSONErrorIsOneDocument(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	code := te.run(context.Background(), "snapshot", "--json")
	var doc struct {
		Error struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Hints   []string `json:"hints"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(te.out.String()))
	if err := dec.Decode(&doc); err != nil || code != ExitUsage || doc.Error.Code != ExitUsage || len(doc.Error.Hints) == 0 {
		t.Fatalf("exit %d, doc %+v (%v): %q", code, doc, err, te.out)
	}
	if dec.More() {
		t.Errorf("more than one document on stdout: %q", te.out)
	}
	if lines := strings.Split(strings.TrimSpace(te.err.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "uar: error: ") {
		t.Errorf("stderr: %q", te.err)
	}
}

// A misspelled UAR_ variable is warned about with the nearest known name;
// usage help is pointed at only after a usage error about flags.
func TestMisspelledVariableAndHints(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.vars["UAR_OKTA_PAGESIZE"] = "3"
	te.write(t, "uar.yaml", "db: t.db\n")
	code := te.run(context.Background(), "snapshot")
	if code != ExitUsage || !strings.Contains(te.err.String(), "UAR_OKTA_PAGESIZE is not a uar setting and is ignored; did you mean UAR_OKTA_PAGE_SIZE?") {
		t.Errorf("exit %d: %s", code, te.err)
	}
	if strings.Contains(te.err.String(), "--help' for usage") {
		t.Errorf("a config error points at --help: %s", te.err)
	}
	if code := te.run(context.Background(), "snapshot", "--no-such"); code != ExitUsage || !strings.Contains(te.err.String(), "Run 'uar snapshot --help' for usage.") {
		t.Errorf("flag error: %d %s", code, te.err)
	}
	// A missing secret says where it comes from.
	te.write(t, "uar.yaml", "db: t.db\nokta:\n  org_url: https://acme.okta.com\n")
	if code := te.run(context.Background(), "snapshot"); code != ExitUsage || !strings.Contains(te.err.String(), "sandbox.env") {
		t.Errorf("missing token: %d %s", code, te.err)
	}
}

// In an empty folder, every command that needs a store says that no
// uar.yaml was read, not only that the store is missing.
func TestEmptyFolderNamesTheMissingConfig(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	for _, cmd := range []string{"parse-decisions", "revoke", "remind", "verify"} {
		code := te.run(context.Background(), cmd)
		if code != ExitUsage || !strings.Contains(te.err.String(), "no uar.yaml was read either") {
			t.Errorf("%s in an empty folder: exit %d: %s", cmd, code, te.err)
		}
	}
	te.write(t, "uar.yaml", "db: t.db\n")
	if code := te.run(context.Background(), "verify"); code != ExitUsage || strings.Contains(te.err.String(), "no uar.yaml") ||
		!strings.Contains(te.err.String(), "pass --db") {
		t.Errorf("verify with a uar.yaml and no store: exit %d: %s", code, te.err)
	}
}

// A host that does not resolve names the setting that holds it.
func TestUnknownHostNamesTheSetting(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.vars[EnvOktaToken] = "00-test-token"
	te.write(t, "uar.yaml", "db: t.db\nokta:\n  org_url: https://acme.okta.invalid\n  request_timeout: 5s\n")
	code := te.run(context.Background(), "snapshot")
	if code != ExitFailure || !strings.Contains(te.err.String(), "check okta.org_url") {
		t.Errorf("exit %d: %s", code, te.err)
	}
}
