package httpx_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/uar-dev/uar/internal/httpx"
)

func TestParseLinks(t *testing.T) {
	ls, err := httpx.ParseLinks([]string{
		`<https://org/api/v1/groups?limit=200>; rel="self"`,
		`<https://org/api/v1/groups?after=00g2&limit=200>; rel="next"`,
		` <https://x/a,b>;REL=next ; title="a \"q\", ok", </b>; rel="prev  Next"`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 4 {
		t.Fatalf("links %+v", ls)
	}
	if ls[0].URL != "https://org/api/v1/groups?limit=200" || !ls[0].HasRel("self") || ls[0].HasRel("next") {
		t.Errorf("link 0 %+v", ls[0])
	}
	if !ls[1].HasRel("next") || ls[1].URL != "https://org/api/v1/groups?after=00g2&limit=200" {
		t.Errorf("link 1 %+v", ls[1])
	}
	if ls[2].URL != "https://x/a,b" || !ls[2].HasRel("next") || ls[2].Params["title"] != `a "q", ok` {
		t.Errorf("link 2 %+v", ls[2])
	}
	if !slices.Equal(ls[3].Rel, []string{"prev", "next"}) {
		t.Errorf("link 3 %+v", ls[3])
	}
}

func TestParseLinksRefusesMalformed(t *testing.T) {
	for _, v := range []string{
		`/api/v1/groups; rel="next"`,               // no <>
		`<https://org/api/v1/groups; rel="next"`,   // no >
		`<https://org/a b>; rel="next"`,            // space in the target
		`<https://org/a>; rel="next`,               // unterminated quote
		`<https://org/a> rel="next"`,               // no ;
		`<https://org/a>; ="next"`,                 // no parameter name
		`<https://org/a>; rel=`,                    // no value
		`<https://org/a>; rel="next" <https://b/>`, // no comma
		"<https://org/a>; rel=\"ne\x01xt\"",        // control character
	} {
		if _, err := httpx.ParseLinks([]string{v}); !errors.Is(err, httpx.ErrMalformedLink) {
			t.Errorf("%q: err = %v, want ErrMalformedLink", v, err)
		}
	}
	many := strings.Repeat(`</a>; rel="next", `, httpx.MaxLinks+1)
	if _, err := httpx.ParseLinks([]string{many}); err == nil {
		t.Error("an unbounded number of links was accepted")
	}
	// Empty values and stray commas are not links.
	if ls, err := httpx.ParseLinks([]string{"", " , ,"}); err != nil || len(ls) != 0 {
		t.Errorf("empty: %v %v", ls, err)
	}
}

// FuzzParseLinks: the parser never panics, and every link it accepts
// survives a round trip through its canonical form.
func FuzzParseLinks(f *testing.F) {
	for _, s := range []string{
		`<https://acme.okta.com/api/v1/groups?after=00g&limit=200>; rel="next"`,
		`<@evil.example/api/v1/groups?after=x>; rel="next"`,
		`<1/api/v1/groups?after=x>; rel="next"`,
		`</api/v1/gr%zzoups>; rel="next"`,
		`/api/v1/groups; rel="next"`,
		`<a>; rel="self", <b>; rel="next"`,
		`<x>; title="a\"b"; rel=next`,
		`<>;;`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ls, err := httpx.ParseLinks([]string{v})
		if err != nil {
			if !errors.Is(err, httpx.ErrMalformedLink) {
				t.Fatalf("error %v does not wrap ErrMalformedLink", err)
			}
			return
		}
		for _, l := range ls {
			if strings.ContainsAny(l.URL, "<> \"") {
				t.Fatalf("accepted target %q", l.URL)
			}
			canon := "<" + l.URL + `>; rel="` + strings.Join(l.Rel, " ") + `"`
			back, err := httpx.ParseLinks([]string{canon})
			if err != nil || len(back) != 1 || back[0].URL != l.URL || !slices.Equal(back[0].Rel, l.Rel) {
				t.Fatalf("round trip of %q: %+v %v", canon, back, err)
			}
		}
	})
}
