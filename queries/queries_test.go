package queries

import (
	"strings"
	"testing"
)

// Comparison queries are marked, take the two review labels and read only
// the attached schemas a and b; no other query is marked.
func TestCompareQueries(t *testing.T) {
	n := 0
	for _, q := range List() {
		diff := strings.HasPrefix(q.Name, "diff-")
		if q.Compare != diff {
			t.Errorf("%s: Compare = %v; diff-* queries, and only they, compare two stores", q.Name, q.Compare)
		}
		if !diff {
			continue
		}
		n++
		var params []string
		for _, p := range q.Params {
			params = append(params, p.Name)
		}
		if strings.Join(params, ",") != "from,to" {
			t.Errorf("%s: params %v, want from,to", q.Name, params)
		}
		if !strings.Contains(q.SQL, "a.") || !strings.Contains(q.SQL, "b.") {
			t.Errorf("%s: reads neither schema a nor b", q.Name)
		}
	}
	if n == 0 {
		t.Log("no comparison queries yet")
	}
}

func TestParseHeader(t *testing.T) {
	q, err := parse("x", "-- x: does x\n-- param: review the review\n-- compare: a and b\nSELECT 1;\n-- not a header\n")
	if err != nil || q.Description != "does x" || len(q.Params) != 1 || q.Params[0].Name != "review" || !q.Compare {
		t.Fatalf("%+v %v", q, err)
	}
	if _, err := parse("x", "-- y: wrong name\nSELECT 1;"); err == nil {
		t.Fatal("a header naming another query was accepted")
	}
}
