package cli

// This file is the only one that touches viper. Precedence: flags >
// environment (UAR_<SECTION>_<KEY>) > config file > defaults. Secrets are
// never config keys: they are read from the environment by name only.
//
// Each section's type, defaults and validation belong to the package that
// uses it (okta.Settings, jira.Settings, review.ReviewSettings...); Config
// only aggregates them, and the key list, the defaults viper sees and the
// environment variables that may override a key are all derived from
// Config by reflection, so they cannot drift from the types.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/score/ai"
	"github.com/uar-dev/uar/internal/yamlx"
)

// Config is uar.yaml (DESIGN §5).
type Config struct {
	DB         string                  `mapstructure:"db" yaml:"db"`
	Okta       okta.Settings           `mapstructure:"okta" yaml:"okta"`
	Jira       jira.Settings           `mapstructure:"jira" yaml:"jira"`
	Confluence confluence.Settings     `mapstructure:"confluence" yaml:"confluence"`
	Slack      slack.Settings          `mapstructure:"slack" yaml:"slack"`
	AI         ai.Settings             `mapstructure:"ai" yaml:"ai"`
	Systems    []model.System          `mapstructure:"systems" yaml:"systems"`
	Policy     string                  `mapstructure:"policy" yaml:"policy"`
	Review     review.ReviewSettings   `mapstructure:"review" yaml:"review"`
	Snapshot   review.SnapshotSettings `mapstructure:"snapshot" yaml:"snapshot"`
	Revoke     review.RevokeSettings   `mapstructure:"revoke" yaml:"revoke"`

	// File is the config file read ("" when none was found and defaults apply).
	File string `mapstructure:"-" yaml:"-"`
}

// DefaultConfig is every default, from the sections' own packages.
func DefaultConfig() Config {
	return Config{
		DB: "uar.db", Okta: okta.DefaultSettings(), Jira: jira.DefaultSettings(), Confluence: confluence.DefaultSettings(),
		Slack: slack.DefaultSettings(), AI: ai.DefaultSettings(), Policy: "policy.yaml",
		Review: review.DefaultReviewSettings(), Snapshot: review.DefaultSnapshotSettings(), Revoke: review.DefaultRevokeSettings(),
	}
}

// configKey is one leaf key of Config: its dotted name and value type.
type configKey struct {
	name string
	typ  reflect.Type
	def  any // the default value
}

var durationType = reflect.TypeOf(time.Duration(0))

// configKeys lists every scalar or list key below Config, in field order
// (systems: is a list of mappings and has no default or variable).
func configKeys() []configKey {
	var out []configKey
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			fv := v.Field(i)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				walk(fv, prefix+tag+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				// systems: configured in the file only
			default:
				out = append(out, configKey{name: prefix + tag, typ: f.Type, def: fv.Interface()})
			}
		}
	}
	walk(reflect.ValueOf(DefaultConfig()), "")
	return out
}

// loadConfig reads the config file (explicit path, $UAR_CONFIG, or
// ./uar.yaml if present), applies environment overrides and flags, and
// validates. required means a missing file is an error even when implied.
func loadConfig(env *Env, g *globalOptions, required bool) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	keys := configKeys()
	for _, k := range keys {
		v.SetDefault(k.name, k.def)
	}
	warnUnknownEnv(env, keys)
	file, explicit := g.configFile, g.configFile != ""
	if !explicit {
		if f := env.Getenv("UAR_CONFIG"); f != "" {
			file, explicit = f, true
		} else {
			file = "uar.yaml"
		}
	}
	data, err := os.ReadFile(env.path(file))
	switch {
	case err == nil:
		if err := checkConfigFile(file, data); err != nil {
			return nil, err
		}
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, usageErrorf("config %s: %v", file, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit && !required:
		file = ""
	case errors.Is(err, fs.ErrNotExist):
		return nil, WithHint(usageErrorf("config %s: file not found", file), "run 'uar init' to write one, or pass --config")
	default:
		return nil, usageErrorf("config %s: %v", file, err)
	}
	where := file
	if where == "" {
		where = "defaults"
	}
	// Environment overrides, read through Env so tests control them, and
	// parsed here so a bad value is blamed on its variable, not the file.
	for _, k := range keys {
		raw := env.Getenv(envKey(k.name))
		if raw == "" {
			continue
		}
		val, err := parseEnvValue(k.typ, raw)
		if err != nil {
			return nil, usageErrorf("%s=%q: %v (it overrides %s)", envKey(k.name), raw, err, k.name)
		}
		v.Set(k.name, val)
	}
	if g.db != "" {
		v.Set("db", g.db)
	}
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return nil, usageErrorf("config %s: %s", where, tidyDecodeError(err))
	}
	c.File = file
	env.seen.note(&c)
	if err := c.validate(); err != nil {
		return nil, usageErrorf("config %s: %v", where, err)
	}
	return &c, nil
}

// tidyDecodeError shortens mapstructure's multi-line error to its causes,
// which name the key ("'okta.page_size' cannot parse 'abc' as int").
func tidyDecodeError(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*"))
		if l == "" || strings.HasPrefix(l, "decoding failed") || strings.HasSuffix(l, "error(s):") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, "; ")
}

// checkConfigFile refuses what the Config does not define or cannot hold,
// naming file, line and key: an unknown key (a typo must never silently
// disable a control), a value of the wrong type (1000.7 for an integer is
// refused, not truncated), a second YAML document.
func checkConfigFile(file string, data []byte) error {
	// yamlx bounds the file (size, depth, aliases, one document) before
	// anything expands it.
	root, err := yamlx.Decode(file, data, yamlx.Limits{})
	if err != nil {
		return &UsageError{Err: fmt.Errorf("config %w", err)}
	}
	if root == nil {
		return nil
	}
	var problems []string
	walkKeys(file, root, reflect.TypeOf(Config{}), "", &problems)
	if len(problems) > 0 {
		return usageErrorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func walkKeys(file string, n *yaml.Node, t reflect.Type, prefix string, problems *[]string) {
	key := strings.TrimSuffix(prefix, ".")
	bad := func(format string, args ...any) {
		*problems = append(*problems, fmt.Sprintf("%s:%d:%d: %s: ", file, n.Line, n.Column, key)+fmt.Sprintf(format, args...))
	}
	if n.Kind == yaml.AliasNode {
		bad("aliases are not allowed in uar.yaml")
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			bad("want a duration such as 120s")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			bad("%q is not a duration (e.g. 120s, 168h)", n.Value)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("want a mapping")
			return
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("mapstructure"); tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s:%d:%d: %s%s: unknown key", file, k.Line, k.Column, prefix, k.Value))
				continue
			}
			walkKeys(file, n.Content[i+1], ft, prefix+k.Value+".", problems)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("want a list")
			return
		}
		for i, item := range n.Content {
			walkKeys(file, item, t.Elem(), fmt.Sprintf("%s[%d].", key, i), problems)
		}
	case n.Kind != yaml.ScalarNode:
		bad("want a single value, not a %s", map[yaml.Kind]string{yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}[n.Kind])
	case t.Kind() == reflect.Int:
		if _, err := strconv.Atoi(n.Value); err != nil || (n.Tag != "!!int" && n.Tag != "!!str") {
			bad("%s is not an integer", n.Value)
		}
	case t.Kind() == reflect.Bool:
		if _, err := strconv.ParseBool(n.Value); err != nil || (n.Tag != "!!bool" && n.Tag != "!!str") {
			bad("%s is not true or false", n.Value)
		}
	}
}

// validate checks values, each section with its own rules, naming the key
// of each problem.
func (c *Config) validate() error {
	var errs []string
	add := func(err error) {
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				errs = append(errs, l)
			}
		}
	}
	if c.DB == "" {
		errs = append(errs, "db: is empty")
	}
	add(c.Okta.Validate())
	add(c.Jira.Validate())
	add(c.Confluence.Validate())
	add(c.Slack.Validate())
	add(c.AI.Validate())
	add(c.Review.Validate())
	add(c.Snapshot.Validate())
	add(c.Revoke.Validate())
	seen := map[string]bool{}
	for i, s := range c.Systems {
		key := fmt.Sprintf("systems[%d]", i)
		if strings.TrimSpace(s.Name) == "" {
			errs = append(errs, key+".name: is empty")
		} else if seen[strings.ToLower(s.Name)] {
			errs = append(errs, fmt.Sprintf("%s.name: %q is listed twice", key, s.Name))
		}
		seen[strings.ToLower(s.Name)] = true
		for j, g := range s.Groups {
			if _, err := path.Match(g, ""); err != nil {
				errs = append(errs, fmt.Sprintf("%s.groups[%d]: bad glob %q", key, j, g))
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// requireSet returns a usage error naming every empty key among pairs
// (key, value), for commands that need a service configured.
func requireSet(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err := usageErrorf("config: %s not set", strings.Join(missing, ", "))
	for _, m := range missing {
		if strings.HasPrefix(m, "UAR_") {
			return WithHint(err, "secrets come from the environment only: export "+m+" (with 'uar sandbox': run '. ./sandbox.env' in its folder)")
		}
	}
	return err
}
