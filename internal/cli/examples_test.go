package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// uarCall is "uar <words and flags>" up to the end of a shell command on
// one line (a pipe, &&, ;, a closing parenthesis, quote or backtick).
var uarCall = regexp.MustCompile("\\buar ([a-z][^|&;)`'\n]*)")

// A word of a command line: a quoted string or a run of non-blanks.
var shellWord = regexp.MustCompile(`"[^"]*"|'[^']*'|\S+`)

// The commands and flags the examples and docs use exist: a renamed flag
// cannot leave a Jenkinsfile that fails only in production.
func TestExamplesUseRealCommandsAndFlags(t *testing.T) {
	t.Parallel()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	repo := filepath.Join(filepath.Dir(self), "..", "..")
	te := newTestEnv(t)
	root := newRootCmd(te.Env, &globalOptions{})
	var files []string
	for _, pattern := range []string{"examples/*", "examples/*/*", "docs/*.md"} {
		found, err := filepath.Glob(filepath.Join(repo, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	files = append(files, filepath.Join(repo, "README.md"))
	checked := 0
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(repo, f)
		for _, m := range uarCall.FindAllStringSubmatch(string(b), -1) {
			words := shellWord.FindAllString(m[1], -1)
			var path []string
			for _, w := range words {
				if strings.HasPrefix(w, "-") || strings.ContainsAny(w, "$\"'/.=") {
					break
				}
				path = append(path, w)
			}
			cmd, _, err := root.Find(path)
			if err != nil || cmd == root {
				if !strings.Contains(m[1], "--") {
					continue // prose: "uar on cron", "uar judges each line"
				}
				t.Errorf("%s: %q: no command %q", name, m[0], strings.Join(path, " "))
				continue
			}
			checked++
			for _, w := range words {
				flag, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
				if !strings.HasPrefix(w, "--") || flag == "help" || flag == "" {
					continue
				}
				if cmd.Flags().Lookup(flag) == nil && cmd.InheritedFlags().Lookup(flag) == nil && root.PersistentFlags().Lookup(flag) == nil {
					t.Errorf("%s: %q: %s has no flag --%s", name, strings.TrimSpace(m[0]), cmd.CommandPath(), flag)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d uar invocations", checked)
	}
	for _, f := range []string{"examples/kubernetes/cronjob.yaml", "examples/kubernetes/watch-deployment.yaml"} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil || doc["kind"] == nil {
			t.Errorf("%s: not a Kubernetes object: %v", f, err)
		}
	}
}
