package jira

import (
	"fmt"
	"strings"
	"time"
)

// Time layouts Jira uses or may use. The documented one has milliseconds
// and an offset without a colon ("+0000"), which time.RFC3339 rejects.
var timeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.999999999-0700",
	time.RFC3339Nano, // also "Z" and "+00:00" forms
}

// ParseTime parses a Jira timestamp (e.g. "2021-01-17T12:34:00.000+0000")
// and returns it in UTC. It also accepts RFC 3339. An empty string gives
// the zero time and no error (Jira omits fields it does not have).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("jira: unrecognised timestamp %q (want 2006-01-02T15:04:05.000-0700)", s)
}
