package score

import (
	"os"
	"strings"
	"testing"
)

// TestDocsPolicyExamples keeps the YAML examples of docs/policy.md valid.
func TestDocsPolicyExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("found %d yaml blocks", len(blocks))
	}
	for i, b := range blocks {
		src, _, _ := strings.Cut(b, "```")
		if _, err := ParsePolicy("policy.md", []byte(src)); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
}
