package yamlx

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// nested is the classic "billion laughs": levels of anchors, each a list of
// width aliases to the one before.
func nested(levels, width int) []byte {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "l%d: &l%d [", l, l)
		for i := range width {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", l-1)
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

// fanOut is one big anchored list referenced many times: linear in the
// file, quadratic for a walker that follows aliases.
func fanOut(items, refs int) []byte {
	var b strings.Builder
	b.WriteString("big: &big [")
	for i := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "G%d", i)
	}
	b.WriteString("]\nrefs:\n")
	for range refs {
		b.WriteString("  - *big\n")
	}
	return []byte(b.String())
}

func TestDecodeAcceptsOrdinaryYAML(t *testing.T) {
	root, err := Decode("uar.yaml", []byte("a: &x [1, 2]\nb: *x\nc: {d: e}\n"), Limits{})
	if err != nil || root == nil || root.Kind != yaml.MappingNode {
		t.Fatalf("root %v err %v", root, err)
	}
	if b := root.Content[3]; b.Kind != yaml.AliasNode || b.Alias == nil {
		t.Errorf("aliases must be kept in the tree: %+v", b)
	}
	for _, empty := range []string{"", "# only a comment\n"} {
		if root, err := Decode("x.yaml", []byte(empty), Limits{}); root != nil || err != nil {
			t.Errorf("%q: %v %v", empty, root, err)
		}
	}
	// A small bomb within the budget is just a document.
	if _, err := Decode("x.yaml", nested(3, 9), Limits{}); err != nil {
		t.Errorf("9^3 nodes: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		lim   Limits
		line  int
		msg   string
		limit bool
	}{
		{"second document", []byte("a: 1\n---\nb: 2\n"), Limits{}, 2, "a second YAML document (---) is not allowed", false},
		{"syntax", []byte("a: 1\n b: [\n"), Limits{}, 2, "invalid YAML", false},
		{"billion laughs", nested(9, 9), Limits{}, 0, "expands to more than 500000 nodes", true},
		{"fan-out", fanOut(1000, 1000), Limits{}, 0, "expands to more than 500000 nodes", true},
		{"too big", []byte("a: " + strings.Repeat("x", 100) + "\n"), Limits{MaxBytes: 50}, 0, "more than the 50 allowed", true},
		{"too many aliases", []byte("a: &a 1\nb: [*a, *a, *a]\n"), Limits{MaxAliases: 2}, 2, "more than 2 aliases", true},
		{"too deep", []byte(strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n"), Limits{MaxDepth: 20}, 1, "nested more than 20 levels", true},
		{"deep through aliases", []byte("a: &a [[[[1]]]]\nb: [[[[*a]]]]\n"), Limits{MaxDepth: 7}, 0, "nested more than 7 levels deep once aliases are expanded", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("p.yaml", tc.data, tc.lim)
			var ye *Error
			if !errors.As(err, &ye) || !strings.Contains(ye.Msg, tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
			if tc.line > 0 && ye.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", ye.Line, tc.line, err)
			}
			if errors.Is(err, ErrLimit) != tc.limit {
				t.Errorf("errors.Is(ErrLimit) = %v", !tc.limit)
			}
			if !strings.HasPrefix(err.Error(), "p.yaml:") {
				t.Errorf("%q does not name the file", err)
			}
		})
	}
	// The budget error points at the alias where the count passed it.
	_, err := Decode("p.yaml", nested(9, 9), Limits{})
	var ye *Error
	if errors.As(err, &ye) && (ye.Line < 2 || ye.Line > 10) {
		t.Errorf("line %d is not one of the alias lines", ye.Line)
	}
}

// BenchmarkDecodeAliasBomb: a 400 KB file of aliases is refused in time
// linear in its size (compare the quadratic walk it would cost).
func BenchmarkDecodeAliasBomb(b *testing.B) {
	data := fanOut(6000, 6000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode("p.yaml", data, Limits{}); !errors.Is(err, ErrLimit) {
			b.Fatal(err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"a: 1\n", "a: &a [1]\nb: [*a, *a]\n", "---\na: 1\n---\n", "[[[[", "a: *nope\n", string(nested(4, 3))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := Decode("f.yaml", data, Limits{MaxNodes: 10_000})
		if err != nil {
			var ye *Error
			if !errors.As(err, &ye) {
				t.Fatalf("error %T is not an *Error", err)
			}
			return
		}
		if root != nil {
			n := 0
			var walk func(*yaml.Node, int)
			walk = func(x *yaml.Node, d int) {
				n++
				if n > 10_001 || d > DefaultMaxDepth+1 {
					t.Fatalf("accepted a document over the budget")
				}
				if x.Kind == yaml.AliasNode {
					walk(x.Alias, d)
					return
				}
				for _, c := range x.Content {
					walk(c, d+1)
				}
			}
			walk(root, 0)
		}
	})
}

func TestDecodeStrict(t *testing.T) {
	type okta struct {
		OrgURL   string `yaml:"org_url"`
		PageSize int    `yaml:"page_size"`
	}
	type config struct {
		DB      string   `yaml:"db"`
		Okta    okta     `yaml:"okta"`
		Systems []string `yaml:"systems"`
	}
	var c config
	if err := DecodeStrict("uar.yaml", []byte("db: uar.db\nokta:\n  org_url: https://x\n  page_size: 200\n"), Limits{}, &c); err != nil || c.Okta.PageSize != 200 {
		t.Fatalf("%+v %v", c, err)
	}
	err := DecodeStrict("uar.yaml", []byte("db: uar.db\nokta:\n  org_url: https://x\n  page_size: 1000.7\n"), Limits{}, &config{})
	if err == nil {
		t.Fatal("1000.7 accepted as an int")
	}
	if want := "uar.yaml:4:14: okta.page_size: want a whole number, got 1000.7"; err.Error() != want {
		t.Errorf("%q, want %q", err, want)
	}
	err = DecodeStrict("uar.yaml", []byte("db: uar.db\nokta:\n  org_url: https://x\n  pagesize: 3\nsystems: {a: b}\n"), Limits{}, &config{})
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`uar.yaml:4: okta.pagesize: unknown key "pagesize"`,
		"uar.yaml:5: systems: cannot unmarshal !!map into []string",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q\nlacks %q", msg, want)
		}
	}
	// The guard runs first: a second document is refused, nothing decoded.
	var d config
	if err := DecodeStrict("uar.yaml", []byte("db: a\n---\ndb: b\n"), Limits{}, &d); err == nil || d.DB != "" {
		t.Errorf("second document: %v %+v", err, d)
	}
}
