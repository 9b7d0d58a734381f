package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportTiers holds the dependency direction of DESIGN §3 / STYLE §1:
// model <- store/evidence <- domain packages <- cli; adapters never import
// the store; publish/* never import each other; nothing below cli imports
// cobra or viper.
func TestImportTiers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/uar-dev/uar/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/uar-dev/uar/"
	forbidden := map[string][]string{
		"internal/model":              {"internal/"},
		"internal/httpx":              {"internal/"},
		"queries":                     {"internal/"},
		"templates":                   {"internal/store", "internal/evidence", "internal/cli", "internal/publish", "internal/okta"},
		"internal/store":              {"internal/evidence", "internal/cli", "internal/okta", "internal/publish", "internal/score", "internal/sandbox"},
		"internal/okta":               {"internal/store", "internal/evidence", "internal/cli", "internal/publish"},
		"internal/publish/jira":       {"internal/store", "internal/evidence", "internal/cli", "internal/publish/confluence", "internal/publish/slack"},
		"internal/publish/confluence": {"internal/store", "internal/evidence", "internal/cli", "internal/publish/jira", "internal/publish/slack"},
		"internal/publish/slack":      {"internal/store", "internal/evidence", "internal/cli", "internal/publish/jira", "internal/publish/confluence"},
		"internal/score":              {"internal/store", "internal/evidence", "internal/cli", "internal/okta", "internal/publish"},
		"internal/score/ai":           {"internal/store", "internal/evidence", "internal/cli", "internal/publish"},
		"internal/importer":           {"internal/store", "internal/evidence", "internal/cli"},
		"internal/decisions":          {"internal/store", "internal/evidence", "internal/cli", "internal/okta", "internal/sandbox", "internal/review", "internal/publish/confluence", "internal/publish/slack"},
		"internal/evidence":           {"internal/cli", "internal/okta", "internal/publish", "internal/score"},
		"internal/sandbox":            {"internal/store", "internal/evidence", "internal/cli"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		for _, imp := range f[1:] {
			if pkg != "internal/cli" && pkg != "cmd/uar" && (strings.HasPrefix(imp, "github.com/spf13/cobra") || strings.HasPrefix(imp, "github.com/spf13/viper")) {
				t.Errorf("%s imports %s: only cli may", pkg, imp)
			}
			if pkg == "cmd/uar" && strings.HasPrefix(imp, mod) && imp != mod+"internal/cli" {
				t.Errorf("cmd/uar imports %s: main only wires cli", imp)
			}
			for _, bad := range forbidden[pkg] {
				if strings.HasPrefix(imp, mod+bad) && !(pkg == "internal/score" && strings.HasPrefix(imp, mod+"internal/score")) {
					t.Errorf("%s imports %s (forbidden: %s)", pkg, imp, bad)
				}
			}
		}
	}
}
