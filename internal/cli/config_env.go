package cli

// Environment overrides of config keys (UAR_<SECTION>_<KEY>): parsed with
// the key's type, so a bad value is blamed on its variable, and checked
// for misspellings, so a typo never silently leaves a default in place.

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// envKey is the UAR_* variable that overrides a config key.
func envKey(key string) string {
	return "UAR_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// parseEnvValue parses an environment override for a key of type t.
// Lists are comma- or space-separated.
func parseEnvValue(t reflect.Type, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch {
	case t == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, errors.New("not a duration (e.g. 90s, 168h)")
		}
		return d, nil
	case t.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, errors.New("not an integer")
		}
		return n, nil
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("not true or false")
		}
		return b, nil
	case t.Kind() == reflect.Slice:
		parts := strings.Fields(strings.ReplaceAll(s, ",", " "))
		if t.Elem().Kind() == reflect.Int {
			ns := make([]int, len(parts))
			for i, p := range parts {
				n, err := strconv.Atoi(p)
				if err != nil {
					return nil, fmt.Errorf("%q is not an integer", p)
				}
				ns[i] = n
			}
			return ns, nil
		}
		return parts, nil
	}
	return raw, nil
}

// otherEnvNames are the UAR_* variables that are not config keys.
var otherEnvNames = []string{"UAR_CONFIG", "UAR_ACTOR", "UAR_TEST_NOW", "UAR_TEST_HOST"}

// warnUnknownEnv warns (once per Env) about UAR_* variables uar does not
// know, with the nearest known name: a misspelled override must not
// silently leave the setting at its default.
func warnUnknownEnv(env *Env, keys []configKey) {
	if env.Environ == nil || !env.seen.firstEnvCheck() {
		return
	}
	known := append(slices.Clone(otherEnvNames), secretEnvNames...)
	for _, k := range keys {
		known = append(known, envKey(k.name))
	}
	var unknown []string
	for _, kv := range env.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "UAR_") && !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		best, dist := "", 1<<30
		for _, k := range known {
			if d := editDistance(name, k); d < dist {
				best, dist = k, d
			}
		}
		hint := ""
		if dist <= 3 {
			hint = "; did you mean " + best + "?"
		}
		fmt.Fprintf(env.Stderr, "uar: warning: %s is not a uar setting and is ignored%s\n", name, hint)
	}
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
