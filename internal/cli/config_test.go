package cli

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/sandbox"
)

// flatKeys lists the dotted keys of a YAML mapping (lists are leaves).
func flatKeys(n *yaml.Node, prefix string, out *[]string) {
	if n.Kind == yaml.DocumentNode {
		flatKeys(n.Content[0], prefix, out)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			flatKeys(v, prefix+k+".", out)
			continue
		}
		*out = append(*out, prefix+k)
	}
}

// uncommentKeys turns "  # key: value" lines into "  key: value", so the
// template's optional keys are checked too.
var commentedKey = regexp.MustCompile(`(?m)^(\s*)# ([a-z_]+: )`)

// The template `uar init` writes, the defaults and the key list are one
// set: every key of Config appears in the template (commented when
// optional) and every value in it is the default, except the examples a
// user must replace.
func TestInitTemplateMatchesDefaults(t *testing.T) {
	t.Parallel()
	if err := checkConfigFile("template", []byte(configTemplate)); err != nil {
		t.Fatalf("the template itself is refused: %v", err)
	}
	full := commentedKey.ReplaceAllString(configTemplate, "$1$2")
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(full), &root); err != nil {
		t.Fatal(err)
	}
	var inTemplate []string
	flatKeys(&root, "", &inTemplate)
	var known []string
	for _, k := range configKeys() {
		known = append(known, k.name)
	}
	for _, k := range known {
		if !slices.Contains(inTemplate, k) {
			t.Errorf("config key %s is missing from uar init's template", k)
		}
	}
	for _, k := range inTemplate {
		if !slices.Contains(known, k) && k != "systems" {
			t.Errorf("uar init's template has %s, which Config does not know", k)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "uar.yaml")
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	te := newTestEnv(t)
	got, err := loadConfig(te.Env, &globalOptions{configFile: path}, true)
	if err != nil {
		t.Fatalf("the template does not load: %v", err)
	}
	examples := map[string]bool{"okta.org_url": true, "okta.client_id": true, "okta.private_key_file": true,
		"jira.base_url": true, "jira.email": true, "confluence.base_url": true}
	gotV, defV := reflect.ValueOf(*got), reflect.ValueOf(DefaultConfig())
	for _, k := range configKeys() {
		if examples[k.name] {
			continue
		}
		g, d := fieldByKey(gotV, k.name), fieldByKey(defV, k.name)
		if !reflect.DeepEqual(g.Interface(), d.Interface()) {
			t.Errorf("template %s = %v, default %v", k.name, g.Interface(), d.Interface())
		}
	}
	if len(got.Systems) != 1 || got.Systems[0].Name != "NetSuite" || got.Systems[0].Owner == "" {
		t.Errorf("template systems = %+v", got.Systems)
	}
}

func fieldByKey(v reflect.Value, key string) reflect.Value {
	for _, part := range strings.Split(key, ".") {
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).Tag.Get("mapstructure") == part {
				v = v.Field(i)
				break
			}
		}
	}
	return v
}

// The uar.yaml `uar sandbox` writes is a Config: it loads, points every
// service at the running fakes and keeps every other default.
func TestSandboxConfigLoads(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Clock: func() time.Time { return sandbox.ReferenceNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	dir := t.TempDir()
	o := &sandboxOptions{dir: dir}
	files, err := sandboxWriteFiles(o, filepath.Join(dir, "uar.yaml"), sb, sandbox.ReferenceSystems())
	if err != nil || len(files) != 3 {
		t.Fatalf("files %v, %v", files, err)
	}
	te := newTestEnv(t)
	got, err := loadConfig(te.Env, &globalOptions{configFile: files[0]}, true)
	if err != nil {
		t.Fatalf("sandbox uar.yaml does not load: %v", err)
	}
	want := sandboxConfig(o, sb, sandbox.ReferenceSystems())
	want.File = files[0]
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("loaded %+v\nwant   %+v", *got, want)
	}
}

// Values of the wrong type are refused with file, line and key — never
// truncated or coerced — and so is a second YAML document or an alias.
func TestConfigRefusesWrongTypes(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"db: x.db\nokta:\n  page_size: 1000.7\n":           "uar.yaml:3:14: okta.page_size: 1000.7 is not an integer",
		"okta:\n  concurrency: [1]\n":                      "uar.yaml:2:16: okta.concurrency: want a single value, not a list",
		"ai:\n  enabled: maybe\n":                          "uar.yaml:2:12: ai.enabled: maybe is not true or false",
		"okta:\n  request_timeout: 5\n":                    "okta.request_timeout: \"5\" is not a duration",
		"review:\n  remind_days: 7\n":                      "review.remind_days: want a list",
		"db: a.db\n---\ndb: b.db\n":                        "a second YAML document",
		"x: &a [1]\nokta:\n  scopes: *a\n":                 "x: unknown key",
		"okta: &o {page_size: 2}\nslack: *o\n":             "slack: aliases are not allowed",
		"systems:\n  - name: A\n    groups: SOX-A-*\n":     "systems[0].groups: want a list",
		"revoke:\n  max_per_run: 0\n":                      "revoke.max_per_run: must be at least 1",
		"snapshot:\n  max_import_age: -1h\n":               "snapshot.max_import_age: must be positive",
		"okta:\n  org_url: http://okta.example.com\n":      "http:// is allowed only for loopback",
		"review:\n  remind_days: [7, 400]\n":               "review.remind_days[1]: 400 is out of range",
		"okta:\n  auth_mode: basic\n":                      "okta.auth_mode: \"basic\": want ssws or private_key",
		"confluence:\n  base_url: ftp://x\n":               "confluence.base_url",
		"okta:\n  group_prefix: \"\"\n":                    "okta.group_prefix: is empty",
		"okta:\n  page_size: \"abc\"\n":                    "okta.page_size: abc is not an integer",
		"okta:\n  max_requests_per_minute: -1\n":           "okta.max_requests_per_minute: must be 0",
		"slack:\n  api_url: http://10.0.0.1/api/\n":        "slack.api_url",
		"systems:\n  - name: A\n  - name: a\n":             "systems[1].name: \"a\" is listed twice",
		"systems:\n  - name: A\n    groups: [\"SOX-[\"]\n": "bad glob",
	}
	for body, want := range cases {
		te := newTestEnv(t)
		te.write(t, "uar.yaml", body)
		_, err := loadConfig(te.Env, &globalOptions{}, true)
		if err == nil || !strings.Contains(err.Error(), want) || exitCode(err) != ExitUsage {
			t.Errorf("%q: err = %v, want exit 2 containing %q", body, err, want)
		}
	}
}

// An environment override with a bad value names its variable, not the file.
func TestEnvOverrideErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.write(t, "uar.yaml", "db: t.db\n")
	for k, want := range map[string]string{
		"UAR_OKTA_PAGE_SIZE":       `UAR_OKTA_PAGE_SIZE="12.5": not an integer (it overrides okta.page_size)`,
		"UAR_AI_ENABLED":           `UAR_AI_ENABLED="yes please": not true or false`,
		"UAR_REVIEW_REMIND_DAYS":   `UAR_REVIEW_REMIND_DAYS="7,x": "x" is not an integer`,
		"UAR_OKTA_REQUEST_TIMEOUT": `UAR_OKTA_REQUEST_TIMEOUT="soon": not a duration`,
	} {
		te.vars = map[string]string{k: map[string]string{"UAR_OKTA_PAGE_SIZE": "12.5", "UAR_AI_ENABLED": "yes please",
			"UAR_REVIEW_REMIND_DAYS": "7,x", "UAR_OKTA_REQUEST_TIMEOUT": "soon"}[k]}
		_, err := loadConfig(te.Env, &globalOptions{}, true)
		if err == nil || !strings.Contains(err.Error(), want) || exitCode(err) != ExitUsage {
			t.Errorf("%s: err = %v, want %q", k, err, want)
		}
	}
	te.vars = map[string]string{"UAR_REVIEW_REMIND_DAYS": "5 2", "UAR_OKTA_SCOPES": "a,b c", "UAR_SNAPSHOT_MAX_IMPORT_AGE": "24h"}
	c, err := loadConfig(te.Env, &globalOptions{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Review.RemindDays, []int{5, 2}) || !slices.Equal(c.Okta.Scopes, []string{"a", "b", "c"}) || c.Snapshot.MaxImportAge.Hours() != 24 {
		t.Errorf("overrides not applied: %+v %+v %v", c.Review, c.Okta.Scopes, c.Snapshot)
	}
}
