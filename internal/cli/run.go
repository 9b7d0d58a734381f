package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

// runCtx is what a store-writing command works with: its config, the
// review.Step (open store, run, ledger, clock) and the streams.
type runCtx struct {
	env  *Env
	g    *globalOptions
	ui   ui
	cfg  *Config
	step *review.Step
}

// runSpec says how a command runs.
type runSpec struct {
	command      string
	args         []string
	review       string
	createStore  bool // create the store when missing (init, snapshot)
	configNeeded bool // a missing config file is an error
}

// actor names who runs uar: UAR_ACTOR, else the CI system's own ids, else
// the OS user. It is recorded in runs and as executed_by on every row.
func actor(env *Env) string {
	get := env.Getenv
	switch {
	case get("UAR_ACTOR") != "":
		return get("UAR_ACTOR")
	case get("BUILD_TAG") != "":
		a := "jenkins:" + get("BUILD_TAG")
		if u := get("BUILD_URL"); u != "" {
			a += " " + u
		}
		return a
	case get("GITHUB_ACTIONS") == "true":
		return "github:" + get("GITHUB_ACTOR") + "@" + get("GITHUB_REPOSITORY") + "#" + get("GITHUB_RUN_ID")
	case get("GITLAB_CI") != "":
		return "gitlab:" + get("GITLAB_USER_LOGIN") + "#" + get("CI_JOB_ID")
	case get("CI") != "":
		return "ci:" + env.Username()
	}
	return env.Username()
}

func hostname(env *Env) string {
	if h, err := env.Hostname(); err == nil {
		return h
	}
	return "unknown"
}

// redactArgs hides the value of any flag that looks like it carries a
// secret (uar has none by design; this guards against future ones).
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	hideNext := false
	for i, a := range args {
		if hideNext {
			out[i], hideNext = evidence.Redacted, false
			continue
		}
		out[i] = a
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && isSecretName(name) {
			if hasValue {
				out[i] = a[:strings.Index(a, "=")+1] + evidence.Redacted
			} else {
				hideNext = true
			}
		}
	}
	return out
}

func isSecretName(n string) bool {
	n = strings.ToLower(n)
	for _, s := range []string{"token", "secret", "password", "api-key", "apikey"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// openStore opens the store of cfg (created if allowed).
func openStore(ctx context.Context, env *Env, path string, create bool) (*store.Store, error) {
	return store.Open(ctx, env.path(path), store.Options{Create: create, Now: env.Now})
}

// withRun loads the config, opens the store, records the run, builds the
// review.Step, runs fn and records how it ended. A context cancelled by
// Ctrl-C marks the run interrupted; a panic in fn marks it failed and comes
// back as a *PanicError; a run left "running" by a crashed process is
// marked interrupted by the next command, with a warning.
func withRun(ctx context.Context, env *Env, g *globalOptions, spec runSpec, fn func(context.Context, *runCtx) error) error {
	cfg, err := loadConfig(env, g, spec.configNeeded)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, env, cfg.DB, spec.createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	u := ui{env: env, g: g}
	host := hostname(env)
	who := actor(env)
	marked, err := evidence.MarkAbandonedRuns(ctx, st, host, who, env.ProcessAlive)
	if err != nil {
		return err
	}
	for _, r := range marked {
		u.Warnf("run %s (%s, started %s) did not finish: marked interrupted", r.ID, r.Command, r.StartedAt)
	}
	args, _ := json.Marshal(redactArgs(spec.args))
	// Refused (a *store.BusyError naming it) while another writing command
	// runs on this store on this host: fail before doing any work.
	run, err := evidence.StartRun(ctx, st, store.Run{
		Command: spec.command, Args: string(args), Review: spec.review, ToolVersion: env.Version,
		Actor: who, Host: host, PID: env.PID,
	}, env.ProcessAlive)
	if err != nil {
		return err
	}
	rc := &runCtx{env: env, g: g, ui: u, cfg: cfg, step: &review.Step{
		Store: st, Run: run, Review: spec.review, Now: env.Now().UTC(), Clock: env.Now, Out: u,
		Ledger: &evidence.Ledger{Store: st, RunID: run.ID, Review: spec.review, Actor: who},
		Scrub:  func(s string) string { return scrubSecrets(env, s) },
	}}
	u.Debugf("run %s: %s", run.ID, spec.command)
	ferr := runGuarded(ctx, rc, fn)
	status, text := store.RunOK, ""
	switch {
	case ferr == nil:
		// Done, even if a signal arrived just after the work.
	case errors.Is(ferr, context.Canceled) || ctx.Err() != nil:
		status, text = store.RunInterrupted, "interrupted"
	case errors.Is(ferr, store.ErrDiskFull):
		status, text = store.RunFailed, "disk full: "+scrubSecrets(env, ferr.Error())
	default:
		status, text = store.RunFailed, scrubSecrets(env, ferr.Error())
	}
	// Record the outcome even when the command's context is cancelled.
	if _, err := evidence.FinishRun(context.WithoutCancel(ctx), st, run, status, text); err != nil {
		if ferr == nil {
			return err
		}
		u.Warnf("the run's end could not be recorded (%v): the next command marks it interrupted", err)
	}
	return ferr
}

// runGuarded runs fn and turns a panic into a *PanicError, so the run is
// recorded as failed instead of staying "running".
func runGuarded(ctx context.Context, rc *runCtx, fn func(context.Context, *runCtx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, rc)
}

// scrubSecrets removes every secret of the environment from s, in every
// form it could take (raw, Bearer/SSWS, base64 basic-auth with the
// configured Atlassian users, JSON-escaped).
func scrubSecrets(env *Env, s string) string {
	return evidence.ScrubString(s, evidence.SecretForms(secretValues(env), basicUsers(env)))
}

// httpClient returns a client whose every exchange is recorded in the
// ledger as a call to service, with all secrets scrubbed.
func (rc *runCtx) httpClient(service string, timeout time.Duration) *http.Client {
	return recordingClient(rc.env, rc.step.Ledger, service, timeout)
}

func recordingClient(env *Env, ledger *evidence.Ledger, service string, timeout time.Duration) *http.Client {
	base := env.HTTP.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if timeout <= 0 {
		timeout = env.HTTP.Timeout
	}
	rec := &evidence.Recorder{Base: base, Ledger: ledger, Service: service, Secrets: secretValues(env), BasicUsers: basicUsers(env), Now: env.Now}
	return &http.Client{Transport: rec, Timeout: timeout}
}

// storeOnlyPath is the store path for the commands an auditor runs with
// nothing but the file: --db wins; otherwise the config's db: when a
// config can be read; otherwise uar.db.
func storeOnlyPath(env *Env, g *globalOptions) (string, error) {
	if g.db != "" {
		return g.db, nil
	}
	cfg, err := loadConfig(env, g, false)
	if err != nil {
		return "", err
	}
	return cfg.DB, nil
}

// openReadOnly opens the store for verify/query: read-only, never created,
// never migrated, no run recorded (an auditor's copy is not modified).
func openReadOnly(ctx context.Context, env *Env, g *globalOptions) (*store.Store, error) {
	p, err := storeOnlyPath(env, g)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, env.path(p), store.Options{ReadOnly: true, Now: env.Now})
}
