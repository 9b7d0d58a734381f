package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/uar-dev/uar/"

// tiers places every package of the module (DESIGN §3, STYLE §1): a
// package may import only packages of a lower tier, and only those listed
// for it. A new package fails TestImportTiers until it is placed here.
var tiers = map[string]struct {
	tier  int
	may   []string // module packages it may import
	cobra bool     // may import cobra/viper
}{
	"internal/model":              {tier: 0},
	"internal/httpx":              {tier: 0},
	"internal/yamlx":              {tier: 0},
	"queries":                     {tier: 0},
	"templates":                   {0, []string{"internal/model"}, false},
	"internal/store":              {1, []string{"internal/model", "queries"}, false},
	"internal/okta":               {1, []string{"internal/model", "internal/httpx"}, false},
	"internal/publish/jira":       {1, []string{"internal/model", "internal/httpx"}, false},
	"internal/publish/confluence": {1, []string{"internal/model", "internal/httpx"}, false},
	"internal/publish/slack":      {1, []string{"internal/model", "internal/httpx"}, false},
	"internal/score":              {1, []string{"internal/model", "internal/yamlx"}, false},
	"internal/score/ai":           {1, []string{"internal/model", "internal/httpx"}, false},
	"internal/importer":           {1, []string{"internal/model"}, false},
	"internal/report":             {1, []string{"internal/model", "templates"}, false},
	"internal/sandbox":            {1, []string{"internal/model"}, false},
	"internal/evidence":           {2, []string{"internal/model", "internal/store", "internal/httpx"}, false},
	"internal/decisions":          {2, []string{"internal/model", "internal/publish/jira"}, false},
	"internal/revoke":             {2, []string{"internal/model", "internal/httpx"}, false},
	"internal/review": {3, []string{"internal/model", "internal/httpx", "internal/store", "internal/evidence", "templates", "queries",
		"internal/okta", "internal/publish/jira", "internal/publish/confluence", "internal/publish/slack", "internal/score", "internal/score/ai",
		"internal/importer", "internal/report", "internal/decisions", "internal/revoke"}, false},
	"internal/cli": {4, []string{"internal/model", "internal/httpx", "internal/yamlx", "internal/store", "internal/evidence", "templates", "queries",
		"internal/okta", "internal/publish/jira", "internal/publish/confluence", "internal/publish/slack", "internal/score", "internal/score/ai",
		"internal/importer", "internal/report", "internal/decisions", "internal/revoke", "internal/review", "internal/sandbox"}, true},
	"cmd/uar": {5, []string{"internal/cli"}, false},
	// The benchmark floor (scripts/bench-snapshot.sh): okta-sdk-golang
	// alone, no uar package.
	"scripts/floor": {5, nil, false},
}

// TestImportTiers holds the dependency direction as an allow-list: every
// package is placed in a tier, imports only what its entry lists, and only
// cli touches cobra or viper.
func TestImportTiers(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, modulePath+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], modulePath)
		entry, placed := tiers[pkg]
		if !placed {
			t.Errorf("package %s is not placed in a tier: add it to tiers in %s", pkg, "internal/cli/tiers_test.go")
			continue
		}
		for _, imp := range f[1:] {
			if (strings.HasPrefix(imp, "github.com/spf13/cobra") || strings.HasPrefix(imp, "github.com/spf13/viper")) && !entry.cobra {
				t.Errorf("%s imports %s: only cli may", pkg, imp)
			}
			dep, ok := strings.CutPrefix(imp, modulePath)
			if !ok {
				continue
			}
			if !slices.Contains(entry.may, dep) {
				t.Errorf("%s (tier %d) imports %s, which its entry does not allow", pkg, entry.tier, dep)
			} else if d, ok := tiers[dep]; ok && d.tier >= entry.tier && !(entry.tier == 0 && d.tier == 0) {
				t.Errorf("%s (tier %d) imports %s (tier %d): dependencies point down", pkg, entry.tier, dep, d.tier)
			}
		}
	}
}

// banned are calls that bypass the injected clock, environment and
// streams. Only cli (which builds Env) and cmd may make them.
var banned = map[string][]string{
	"time":     {"Now", "Since", "Until"},
	"os":       {"Getenv", "LookupEnv", "Environ", "Stdout", "Stderr", "Exit"},
	"fmt":      {"Print", "Printf", "Println"},
	"log":      {"Print", "Printf", "Println", "Fatal", "Fatalf", "Panic"},
	"net/http": {"DefaultClient", "Get", "Post"},
}

// allowedBanned are the exceptions, by file: the fakes' fallback clock
// when a test passes none.
var allowedBanned = map[string][]string{
	"internal/sandbox/sandbox.go": {"time.Now"},
}

// TestNoHiddenSideEffects keeps every package below cli free of the
// process's clock, environment and standard streams (STYLE §3, §6).
func TestNoHiddenSideEffects(t *testing.T) {
	t.Parallel()
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	fset := token.NewFileSet()
	walk := func(dir string) {
		matches, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range matches {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			rel, _ := filepath.Rel(root, file)
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]string{} // local name -> import path
			for _, im := range f.Imports {
				p := strings.Trim(im.Path.Value, `"`)
				name := p[strings.LastIndex(p, "/")+1:]
				if im.Name != nil {
					name = im.Name.Name
				}
				names[name] = p
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				p := names[id.Name]
				if slices.Contains(banned[p], sel.Sel.Name) {
					call := p + "." + sel.Sel.Name
					if p == "net/http" {
						call = "http." + sel.Sel.Name
					}
					short := id.Name + "." + sel.Sel.Name
					if !slices.Contains(allowedBanned[filepath.ToSlash(rel)], short) {
						t.Errorf("%s: %s uses %s: inject it instead (only cli and cmd may)", fset.Position(sel.Pos()), rel, call)
					}
				}
				return true
			})
		}
	}
	for pkg := range tiers {
		if pkg == "internal/cli" || pkg == "cmd/uar" || pkg == "scripts/floor" { // the programs themselves
			continue
		}
		walk(pkg)
	}
}
