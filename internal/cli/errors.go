package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

// Exit codes (DESIGN §4). exitCode is the only place they are decided.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitIntegrity   = 3
	ExitAuth        = 4
	ExitPolicy      = 5
	ExitInterrupted = 130
)

// UsageError is a bad flag, argument or configuration: exit 2.
type UsageError struct {
	Err     error
	Command string // for the "Run 'uar X --help'" line; "" for config errors
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// PolicyGateError is `--fail-on` finding what it was told to fail on: exit 5.
type PolicyGateError struct{ Msg string }

func (e *PolicyGateError) Error() string { return e.Msg }

// hintError attaches a hint line to an error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// WithHint attaches a "uar: hint:" line to err.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ue *UsageError
	var pe *PolicyGateError
	var pre *review.PrerequisiteError
	var se *review.SettingError
	var panicked *PanicError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &panicked):
		return ExitFailure
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &ue), errors.Is(err, store.ErrNotExist), errors.Is(err, store.ErrNotUARStore), errors.As(err, &pre), errors.As(err, &se):
		return ExitUsage
	case errors.Is(err, evidence.ErrTampered):
		return ExitIntegrity
	case httpx.IsAuth(err):
		return ExitAuth
	case errors.As(err, &pe):
		return ExitPolicy
	}
	return ExitFailure
}

func hints(env *Env, err error) []string {
	var out []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		var h *hintError
		if errors.As(e, &h) {
			out = append(out, h.hint)
			e = h.err
			continue
		}
	}
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Hint != "" {
		out = append(out, se.Hint)
	}
	var pre *review.PrerequisiteError
	if errors.As(err, &pre) && pre.Hint != "" {
		out = append(out, pre.Hint)
	}
	var set *review.SettingError
	if errors.As(err, &set) && set.Hint != "" {
		out = append(out, set.Hint)
	}
	var he *review.HintedError
	if errors.As(err, &he) && he.Hint != "" {
		out = append(out, he.Hint)
	}
	var ie *review.IncompleteError
	if errors.As(err, &ie) {
		out = append(out, "what was published is recorded; fix the cause and run 'uar publish' again to complete it")
	}
	var ae *httpx.AuthError
	if errors.As(err, &ae) && ae.Hint != "" {
		out = append(out, ae.Hint)
	}
	if errors.Is(err, store.ErrNotExist) {
		if !env.seen.configRead() {
			out = append(out, "no uar.yaml was read either: run this in the folder of your uar.yaml (or pass --config), or 'uar init' to start one ('uar demo' plays a whole review offline)")
		} else {
			out = append(out, "pass --db with the path of an existing store, or run 'uar init' to create one")
		}
	}
	if errors.Is(err, store.ErrNotUARStore) {
		out = append(out, "--db (or db: in uar.yaml) names a file that is not a uar evidence store; it was left untouched: pick another path")
	}
	var be *store.BusyError
	if errors.As(err, &be) {
		out = append(out, "wait for that command to finish (or, if its process is gone, the next command marks it interrupted), then re-run")
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		out = append(out, fmt.Sprintf("the host %s was not found: check %s", dns.Name, env.seen.keysFor(dns.Name)))
	}
	if code := exitCode(err); code == ExitUsage && strings.Contains(err.Error(), "not set") && !env.seen.configRead() {
		out = append(out, "no uar.yaml was read: run 'uar init' to write one (or 'uar sandbox' for fake services, 'uar demo' for a whole review offline), or pass --config")
	}
	return dedupe(out)
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// reportError prints err (if any) and returns the exit code: the error
// and its hints on stderr; after a usage error about flags or arguments,
// where to find the usage. With jsonOut the error is also the command's one
// JSON document on stdout ({"error":{"code":..,"message":..,"hints":[..]}})
// and stderr carries only the error line.
func reportError(env *Env, err error, jsonOut bool) int {
	code := exitCode(err)
	if err == nil {
		return code
	}
	// Defence in depth: no secret from the environment is ever printed,
	// whatever an upstream library put in its error text.
	msg := safeText(scrubSecrets(env, err.Error()))
	if code == ExitInterrupted {
		msg = "interrupted"
	}
	hs := hints(env, err)
	for i := range hs {
		hs[i] = safeText(scrubSecrets(env, hs[i]))
	}
	fmt.Fprintf(env.Stderr, "uar: error: %s\n", msg)
	if jsonOut {
		if hs == nil {
			hs = []string{}
		}
		_ = writeJSON(env.Stdout, map[string]any{"error": map[string]any{"code": code, "message": msg, "hints": hs}})
		return code
	}
	for _, h := range hs {
		fmt.Fprintf(env.Stderr, "uar: hint: %s\n", h)
	}
	var ue *UsageError
	if errors.As(err, &ue) && ue.Command != "" {
		fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", strings.TrimSpace(ue.Command))
	}
	return code
}
