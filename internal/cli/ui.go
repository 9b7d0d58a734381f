package cli

// Stream conventions: stdout carries results only; everything a person
// reads while a command works goes to stderr through ui, at the levels
// the global flags allow. Text that can carry upstream data is passed
// through safeText, so an ANSI escape in an Okta profile cannot drive the
// reader's terminal.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ui prints messages on stderr; it implements review.Reporter.
type ui struct {
	env *Env
	g   *globalOptions
}

func (u ui) Infof(format string, args ...any) {
	if !u.g.quiet && !u.g.json {
		fmt.Fprintln(u.env.Stderr, safeText(fmt.Sprintf(format, args...)))
	}
}

func (u ui) Warnf(format string, args ...any) {
	fmt.Fprintln(u.env.Stderr, "uar: warning: "+safeText(fmt.Sprintf(format, args...)))
}

func (u ui) Debugf(format string, args ...any) {
	if u.g.verbose {
		fmt.Fprintln(u.env.Stderr, "uar: debug: "+safeText(fmt.Sprintf(format, args...)))
	}
}

// progressOn reports whether a progress line may be drawn.
func (u ui) progressOn() bool { return u.env.StderrTTY && !u.g.quiet && !u.g.json }

// Progress redraws one status line on a terminal; ProgressDone ends it.
func (u ui) Progress(format string, args ...any) {
	if u.progressOn() {
		fmt.Fprint(u.env.Stderr, "\r\033[K"+safeText(fmt.Sprintf(format, args...)))
	}
}

func (u ui) ProgressDone() {
	if u.progressOn() {
		fmt.Fprint(u.env.Stderr, "\r\033[K")
	}
}

// safeText replaces control characters (C0 but tab, DEL, C1) and invalid
// UTF-8 with a visible \xNN escape.
func safeText(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}
