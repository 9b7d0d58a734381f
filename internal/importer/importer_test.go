package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

func wantCoupa() *Import {
	ivan := "import:Coupa:ivan.petrov@company.com"
	ghost := "import:Coupa:ghost@company.com"
	g := func(e string) model.Group {
		return model.Group{ID: "import:Coupa:" + e, Name: e, Type: model.GroupTypeImport, System: "Coupa", Role: e}
	}
	return &Import{
		Users: []model.User{
			{ID: ghost, Login: "ghost@company.com", Email: "ghost@company.com", FirstName: "Old", LastName: "Account",
				Department: "Finance", UserType: "Employee", Status: "ACTIVE",
				LastLogin: time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC), Origin: model.OriginImport},
			{ID: ivan, Login: "ivan.petrov@company.com", Email: "ivan.petrov@company.com", FirstName: "Ivan", LastName: "Petrov",
				Department: "Finance", Title: "AP Specialist", UserType: "Contractor", Status: "ACTIVE",
				LastLogin: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Origin: model.OriginImport},
		},
		Groups: []model.Group{g("Admin, Full"), g("Approver"), g("Requester")},
		Memberships: []model.Membership{
			{GroupID: "import:Coupa:Admin, Full", UserID: ghost, Source: model.SourceApp},
			{GroupID: "import:Coupa:Approver", UserID: ivan, Source: model.SourceApp},
			{GroupID: "import:Coupa:Requester", UserID: ivan, Source: model.SourceApp},
		},
	}
}

func TestParseFormats(t *testing.T) {
	for _, name := range []string{"coupa.csv", "coupa.json"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			for _, fn := range []string{name, "export.txt", "-"} { // by extension, then by sniffing
				im, err := Parse(fn, data, "Coupa")
				if err != nil {
					t.Fatalf("%s: %v", fn, err)
				}
				if want := wantCoupa(); !reflect.DeepEqual(im, want) {
					got, _ := json.MarshalIndent(im, "", " ")
					t.Fatalf("%s: got\n%s", fn, got)
				}
			}
		})
	}
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name, file, src string
		users, groups   int
	}{
		{"bare json array", "x.json", `[{"user_email":"a@x.com","entitlement":"R"}]`, 1, 1},
		{"BOM and CRLF", "x.csv", "\xef\xbb\xbfuser_email,entitlement\r\na@x.com,R\r\n\r\nb@x.com,R\r\n", 2, 1},
		{"semicolons", "x.csv", "user_email;entitlement;title\na@x.com;R;Boss, Chief\n", 1, 1},
		{"header spaces and case", "x.csv", " Entitlement , USER_EMAIL \nR,a@x.com\n", 1, 1},
		{"same attributes repeated", "x.csv", "user_email,entitlement,department\na@x.com,R,IT\nA@X.com,S,IT\n", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := Parse(tt.file, []byte(tt.src), "App")
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Users) != tt.users || len(im.Groups) != tt.groups {
				t.Fatalf("%+v", im)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            []string // every line of the error, in order
	}{
		{"bad rows csv", "e.csv", "user_email,entitlement,last_login\n" +
			"bob@,R,\n" + // 2
			"a@x.com,,\n" + // 3
			"a@x.com,R,yesterday\n" + // 4
			"a@x.com,R,2026-01-01\n" + // 5
			"a@x.com,R,2026-01-01T00:00:00Z\n" + // 6 duplicate of 5
			"Ann <a@x.com>,S,\n" + // 7
			"a@x.com,S\n", // 8
			[]string{
				`e.csv:2: user_email: "bob@" is not an e-mail address`,
				`e.csv:3: entitlement: required (empty entitlement)`,
				`e.csv:4: last_login: "yesterday" is not a date (want RFC 3339, e.g. 2026-05-15T08:30:00Z, or YYYY-MM-DD)`,
				`e.csv:6: entitlement: duplicate row: a@x.com already holds "R" (line 5)`,
				`e.csv:7: user_email: "Ann <a@x.com>" is not an e-mail address`,
				`e.csv:8: row has 2 fields, header has 3`,
			}},
		{"unknown and missing columns", "e.csv", "email,entitlment,title,Title\n", []string{
			`e.csv:1: title: header: duplicate column (columns 3 and 4)`,
			`e.csv:1: header: unknown column(s) "email", "entitlment" (allowed: user_email, entitlement, user_name, department, title, user_type, status, last_login)`,
			`e.csv:1: header: missing required column user_email`,
			`e.csv:1: header: missing required column entitlement`,
		}},
		{"conflicting attributes", "e.csv", "user_email,entitlement,department,last_login\na@x.com,R,IT,2026-01-01\na@x.com,S,Finance,2026-01-02\n", []string{
			`e.csv:3: department: "Finance" conflicts with "IT" given for a@x.com on line 2`,
			`e.csv:3: last_login: 2026-01-02T00:00:00Z conflicts with 2026-01-01T00:00:00Z given for a@x.com on line 2`,
		}},
		{"bare quote", "e.csv", "user_email,entitlement\na@x.com,R\"x\nb@x.com,R\n", []string{`e.csv:2: column 10: bare " in non-quoted-field`}},
		{"header only", "e.csv", "user_email,entitlement\n", []string{`e.csv:0: no data rows: an empty export is more likely a failed export than an application with no users`}},
		{"empty", "e.csv", "", []string{`e.csv:1: empty file: want a header row with user_email and entitlement`}},
		{"not utf8", "e.csv", "user_email,entitlement\na@x.com,R\nb@x.com,R\xff\nc@x.com,\xc3\n", []string{
			`e.csv:3: not valid UTF-8 (byte 0xff at column 10); save the export as UTF-8`,
			`e.csv:4: not valid UTF-8 (byte 0xc3 at column 9); save the export as UTF-8`,
		}},
		{"long field", "e.csv", "user_email,entitlement\na@x.com," + strings.Repeat("R", MaxFieldLen+1) + "\n", []string{
			`e.csv:2: entitlement: value is 4097 bytes, more than the 4096 allowed`,
		}},
		{"long header", "e.csv", "user_email,entitlement," + strings.Repeat("h", MaxFieldLen+1) + "\n", []string{
			`e.csv:1: header: column 3 is 4097 bytes long, more than the 4096 allowed`,
		}},
		{"long json value", "e.json", `[{"user_email": "a@x.com",
 "title": "` + strings.Repeat("t", MaxFieldLen+1) + `", "entitlement": "R"}]`, []string{
			`e.json:1: [0].title: value is 4097 bytes, more than the 4096 allowed`,
		}},
		{"json duplicate key", "e.json", `[
  {"user_email": "a@x.com", "entitlement": "R"},
  {"user_email": "b@x.com", "entitlement": "R",
   "entitlement": "Admin"}
]`, []string{
			`e.json:4: [1].entitlement: duplicate key "entitlement" (an object must give each key once)`,
		}},
		{"bad rows json", "e.json", `[
  {"user_email": "a@x.com", "entitlement": "R"},
  {"user_email": "nope", "entitlement": 7},
  "row",
  {"user_email": "a@x.com", "entitlement": "R",
   "role": "x"},
  {"user_email": "a@x.com",
   "entitlement": "R"}
]`, []string{
			`e.json:3: [1].entitlement: want a string, got 7`,
			`e.json:4: [2]: want an object with user_email and entitlement`,
			`e.json:5: [3]: unknown key(s) "role" (allowed: user_email, entitlement, user_name, department, title, user_type, status, last_login)`,
			`e.json:7: [4].entitlement: duplicate row: a@x.com already holds "R" (line 2)`,
		}},
		{"wrapped json", "e.json", "{\"rows\": [\n{\"user_email\": \"x\", \"entitlement\": \"R\"}\n], \"total\": 1}", []string{
			`e.json:2: rows[0].user_email: "x" is not an e-mail address`,
			`e.json:3: total: unknown key (want {"rows": [...]})`,
		}},
		{"json syntax", "e.json", "[\n{\"user_email\": \"a@x.com\",\n\"entitlement\" \"R\"}]", []string{`e.json:3: invalid JSON: invalid character '"' after object key`}},
		{"json truncated", "e.json", "[\n{\"user_email\": \"a@x.com\", \"entitlement\": \"R\"}", []string{`e.json:2: invalid JSON: unexpected end of file`}},
		{"json trailing", "e.json", "[{\"user_email\": \"a@x.com\", \"entitlement\": \"R\"}] []", []string{`e.json:1: invalid JSON: unexpected data after the rows`}},
		{"json scalar", "e.json", "42", []string{`e.json:1: want an array of rows, or an object with a "rows" array`}},
		{"control char", "e.json", `[{"user_email": "a@x.com", "entitlement": "R\nS"}]`, []string{`e.json:1: [0].entitlement: "R\nS" contains a control character`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := Parse(tt.file, []byte(tt.src), "App")
			if im != nil {
				t.Errorf("data returned with an error: %+v", im)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %T %v, want *ParseError", err, err)
			}
			if pe.File != tt.file {
				t.Errorf("file %q", pe.File)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseNeedsSystem(t *testing.T) {
	if _, err := Parse("x.csv", []byte("user_email,entitlement\na@x.com,R\n"), " "); err == nil {
		t.Fatal("no error without a system")
	}
}

func TestParseDeterministic(t *testing.T) {
	a := "user_email,entitlement\nz@x.com,B\na@x.com,B\nm@x.com,A\na@x.com,A\n"
	b := "user_email,entitlement\na@x.com,A\nm@x.com,A\nz@x.com,B\na@x.com,B\n"
	ia, err := Parse("a.csv", []byte(a), "App")
	if err != nil {
		t.Fatal(err)
	}
	ib, err := Parse("b.csv", []byte(b), "App")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ia, ib) {
		t.Fatalf("row order changed the result:\n%+v\n%+v", ia, ib)
	}
}

// FuzzParse checks that no input panics, that a failure returns no data and
// a *ParseError, and that a success is consistent and sorted.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"coupa.csv", "coupa.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, data)
	}
	f.Add("x", []byte("user_email;entitlement\na@x.com;R\n"))
	f.Add("x.json", []byte(`{"rows":[{"user_email":"a@x.com","entitlement":"R","last_login":"2026-01-01"}]}`))
	f.Add("x.csv", []byte("user_email,entitlement\n\"a@x.com\",\"R\"\"\n"))
	f.Add("x.json", []byte(`[{"user_email":"a@x.com","entitlement":"R","entitlement":"S"}]`))
	f.Add("x.csv", []byte("user_email,entitlement\na@x.com,\xff\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		im, err := Parse(name, data, "App")
		if err != nil {
			var pe *ParseError
			if im != nil || !errors.As(err, &pe) || len(pe.Problems) == 0 || len(pe.Problems) > MaxProblems {
				t.Fatalf("bad failure: %v %T %v", im, err, err)
			}
			return
		}
		if len(im.Users) == 0 || len(im.Groups) == 0 || len(im.Memberships) == 0 {
			t.Fatalf("success without data: %+v", im)
		}
		users := map[string]bool{}
		for _, u := range im.Users {
			if !strings.HasPrefix(u.ID, "import:App:") || u.Origin != model.OriginImport || u.Email != strings.ToLower(u.Email) {
				t.Fatalf("bad user %+v", u)
			}
			users[u.ID] = true
		}
		groups := map[string]bool{}
		for _, g := range im.Groups {
			if g.ID != "import:App:"+g.Name || g.Name == "" || g.System != "App" || g.Type != model.GroupTypeImport {
				t.Fatalf("bad group %+v", g)
			}
			groups[g.ID] = true
		}
		for _, m := range im.Memberships {
			if !users[m.UserID] || !groups[m.GroupID] || m.Source != model.SourceApp {
				t.Fatalf("dangling membership %+v", m)
			}
		}
		if !slices.IsSortedFunc(im.Users, func(a, b model.User) int { return strings.Compare(a.ID, b.ID) }) ||
			!slices.IsSortedFunc(im.Groups, func(a, b model.Group) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatal("not sorted")
		}
	})
}

// A file with thousands of bad rows lists the first MaxProblems and counts
// the rest, so the error stays small.
func TestProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_email,entitlement\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "not-an-address-%d,R\n", i)
	}
	_, err := Parse("big.csv", []byte(b.String()), "App")
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Problems) != MaxProblems || pe.More != 5000-MaxProblems {
		t.Fatalf("problems %d more %d (err %T)", len(pe.Problems), pe.More, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxProblems+1 || lines[MaxProblems] != "big.csv: and 4900 more problems" {
		t.Errorf("last line %q of %d", lines[len(lines)-1], len(lines))
	}
	if len(err.Error()) > 20000 {
		t.Errorf("error of %d bytes", len(err.Error()))
	}
}
