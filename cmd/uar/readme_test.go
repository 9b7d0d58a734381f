package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command in the README's sh blocks is run, exactly as written, by
// .ci/run or by a script .ci/run runs: a README command that stops working
// fails CI.
func TestREADMECommandsAreRun(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var runners strings.Builder
	for _, f := range []string{".ci/run", "scripts/try-sandbox.sh"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		runners.Write(b)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "scripts/try-sandbox.sh") {
		t.Error(".ci/run does not run scripts/try-sandbox.sh")
	}
	in, n := false, 0
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
			continue
		case strings.HasPrefix(line, "```"):
			in = false
			continue
		case !in:
			continue
		}
		cmd := strings.TrimSpace(line)
		if i := strings.Index(cmd, "  #"); i >= 0 {
			cmd = strings.TrimSpace(cmd[:i])
		}
		if cmd == "" || strings.HasPrefix(cmd, "#") {
			continue
		}
		n++
		if !strings.Contains(runners.String(), cmd) {
			t.Errorf("README command %q is run neither by .ci/run nor by scripts/try-sandbox.sh", cmd)
		}
	}
	if n < 10 {
		t.Errorf("found only %d README commands: did the block markers change?", n)
	}
}
