package okta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
)

// The reference: what encoding/json makes of a member page, as uar decoded
// pages before the hand-written scanner (wireUser with flexString fields).

type refFlex string

func (f *refFlex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = refFlex(s)
	case b[0] == '{' || b[0] == '[':
		*f = ""
	default:
		*f = refFlex(b)
	}
	return nil
}

type refUser struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Created   *time.Time `json:"created"`
	LastLogin *time.Time `json:"lastLogin"`
	Profile   struct {
		Login          refFlex `json:"login"`
		Email          refFlex `json:"email"`
		FirstName      refFlex `json:"firstName"`
		LastName       refFlex `json:"lastName"`
		Department     refFlex `json:"department"`
		Title          refFlex `json:"title"`
		UserType       refFlex `json:"userType"`
		EmployeeNumber refFlex `json:"employeeNumber"`
		Manager        refFlex `json:"manager"`
	} `json:"profile"`
}

func refDecode(body []byte) ([]model.User, error) {
	var ws []refUser
	if err := json.Unmarshal(body, &ws); err != nil {
		return nil, err
	}
	out := make([]model.User, len(ws))
	for i, w := range ws {
		p := w.Profile
		u := model.User{ID: w.ID, Login: string(p.Login), Email: string(p.Email), FirstName: string(p.FirstName), LastName: string(p.LastName),
			Department: string(p.Department), Title: string(p.Title), UserType: string(p.UserType), EmployeeNumber: string(p.EmployeeNumber),
			Manager: string(p.Manager), Status: w.Status, Origin: model.OriginOkta}
		if w.Created != nil {
			u.Created = w.Created.UTC()
		}
		if w.LastLogin != nil {
			u.LastLogin = w.LastLogin.UTC()
		}
		out[i] = u
	}
	return out, nil
}

func scanDecode(body []byte) ([]model.User, error) {
	recs, err := decodeUserPage(body, DefaultEmployeeIDAttribute, nil)
	if err != nil {
		return nil, err
	}
	out := make([]model.User, len(recs))
	for i := range recs {
		out[i] = recs[i].toModel()
		if !recs[i].sameAs(&out[i]) {
			return nil, fmt.Errorf("record %d is not the same as its own model", i)
		}
	}
	return out, nil
}

// foldsOutsideASCII reports whether b holds one of the two non-ASCII runes
// that fold to an ASCII letter (ſ to s, the Kelvin sign to k), raw or
// escaped: encoding/json matches keys spelled with them, the scanner does
// not (see wire.go).
func foldsOutsideASCII(b []byte) bool {
	l := bytes.ToLower(b)
	return bytes.Contains(b, []byte("ſ")) || bytes.Contains(b, []byte("K")) ||
		bytes.Contains(l, []byte(`\u017f`)) || bytes.Contains(l, []byte(`\u212a`))
}

func sameDecode(t *testing.T, body []byte) {
	t.Helper()
	if foldsOutsideASCII(body) {
		return
	}
	want, werr := refDecode(body)
	got, gerr := scanDecode(body)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q:\nencoding/json error %v\nscanner error %v", body, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nencoding/json %+v\nscanner       %+v", body, want, got)
	}
}

var wireCases = []string{
	`[]`, `null`, ` [ ] `, "\n[\n]\n", `[null]`, `[{}]`,
	`[{"id":"00u1","status":"ACTIVE","created":"2020-01-02T03:04:05.000Z","lastLogin":null,"profile":{"login":"a@x.com","email":"a@x.com"}}]`,
	`[{"id":"00u1","profile":{"login":"caf\u00e9@x.com","firstName":"Zo\u00eb","lastName":"O\"Brien","title":"R\u0026D \\ Ops","manager":"\ud83d\ude00"}}]`,
	`[{"id":"00u1","profile":{"login":"café@x.com","department":"Forschung & Entwicklung"}}]`,
	`[{"id":"00u1","profile":{"employeeNumber":187,"userType":true,"title":false,"department":null,"manager":{"id":"00u2"},"login":[1,2]}}]`,
	`[{"id":"00u1","profile":{"employeeNumber":-1.5e+3}}]`,
	`[{"id":"00u1","profile":null}]`,
	`[{"id":"00u1","profile":{"login":"a"},"profile":{"email":"b"}}]`,
	`[{"id":"00u1","profile":{"login":"a"},"profile":null}]`,
	`[{"id":"a","id":"b","ID":"c"}]`,
	`[{"ID":"x","Status":"ACTIVE","PROFILE":{"LOGIN":"l","Email":"e"}}]`,
	`[{"id":null,"status":null}]`,
	`[{"id":"00u1","created":"2020-01-02T03:04:05Z","lastLogin":"2020-01-02T03:04:05.123456+02:00"}]`,
	`[{"id":"00u1","created":"2020-02-30T00:00:00.000Z"}]`,
	`[{"id":"00u1","created":"2020-02-29T23:59:59.999Z"}]`,
	`[{"id":"00u1","created":"2021-02-29T00:00:00.000Z"}]`,
	`[{"id":"00u1","created":"2020-01-01T24:00:00.000Z"}]`,
	`[{"id":"00u1","created":"2020-01-01T23:59:60.000Z"}]`,
	`[{"id":"00u1","created":""}]`,
	`[{"id":"00u1","created":"2020\u002d01-01T00:00:00Z"}]`,
	`[{"id":"00u1","created":5}]`,
	`[{"id":"00u1","created":"2020-01-01T00:00:00.000Z","created":null}]`,
	`[{"id":5}]`, `[{"id":"x","profile":5}]`, `[{"id":"x","profile":[]}]`, `["x"]`, `[1]`, `{}`, `"x"`, ``, ` `,
	`[{"id":"x"}`, `[{"id":"x",}]`, `[{"id" "x"}]`, `[{"id":"x"},]`, `[{"id":"x"}] x`, `[{"id":"x"}][]`,
	`[{"id":"x\u12"}]`, `[{"id":"x\q"}]`, "[{\"id\":\"x\ty\"}]", `[{"id":"x","n":01}]`, `[{"id":"x","n":1.}]`, `[{"id":"x","n":-}]`,
	`[{"id":"x","n":1e}]`, `[{"id":"x","t":tru}]`, `[{"id":"x","t":nul}]`, `[{"id":"x","t":truex}]`,
	`[{"id":"x","_links":{"self":{"href":"h"}},"credentials":{"password":{},"provider":{"type":"OKTA"}},"type":{"id":"oty"}}]`,
	"[{\"id\":\"\xff\xfe\"}]", "[{\"\xff\":1,\"id\":\"x\"}]",
}

func TestDecodeUserPageMatchesEncodingJSON(t *testing.T) {
	for _, c := range wireCases {
		sameDecode(t, []byte(c))
	}
	// Whole pages as the fake serves them.
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 3, Users: 200, SOXGroups: 6, Memberships: 900})
	org.Users[0].FirstName = "Zoë \"Zed\" <Ünïcödé> \u2028"
	org.Users[1].Omit = []string{"lastLogin", "passwordChanged", "activated", "statusChanged"}
	_, srv := startFake(t, org, sandbox.OktaOptions{})
	for _, g := range org.Groups {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/groups/"+g.ID+"/users", nil)
		req.Header.Set("Authorization", "SSWS "+testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sameDecode(t, body)
	}
}

func TestDecodeUserPageEmployeeAttribute(t *testing.T) {
	recs, err := decodeUserPage([]byte(`[{"id":"u","profile":{"employeeNumber":"1","hrId":42}}]`), "hrId", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := recs[0].toModel(); u.EmployeeNumber != "42" {
		t.Errorf("employee number from hrId: %q", u.EmployeeNumber)
	}
}

func FuzzDecodeUserPage(f *testing.F) {
	for _, c := range wireCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameDecode(t, body)
	})
}

// BenchmarkDecodeUserPage decodes a 1,000-user page as the fake serves it
// (compare BenchmarkDecodeUserPageEncodingJSON, the reflective decode it
// replaced).
func BenchmarkDecodeUserPage(b *testing.B) {
	body := benchPage(b)
	var recs []userRec
	var err error
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if recs, err = decodeUserPage(body, DefaultEmployeeIDAttribute, recs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeUserPageEncodingJSON(b *testing.B) {
	body := benchPage(b)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := refDecode(body); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPage(b *testing.B) []byte {
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 1, Users: 1000, SOXGroups: 1, NonSOXGroups: 1, Memberships: 2000})
	f := sandbox.NewOkta(org, sandbox.OktaOptions{Token: testToken})
	var best []byte
	for _, g := range org.Groups {
		req := httptest.NewRequest("GET", "/api/v1/groups/"+g.ID+"/users?limit=1000", nil)
		req.Header.Set("Authorization", "SSWS "+testToken)
		w := httptest.NewRecorder()
		f.ServeHTTP(w, req)
		if w.Body.Len() > len(best) {
			best = w.Body.Bytes()
		}
	}
	if len(best) < 100000 {
		b.Fatalf("page of %d bytes", len(best))
	}
	return best
}
