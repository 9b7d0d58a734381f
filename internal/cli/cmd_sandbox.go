package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
)

type sandboxOptions struct {
	listen    string
	dir       string
	org       string
	generate  string
	latency   time.Duration
	oktaOnly  bool
	readyFile string
	rateLimit int
	detach    bool
}

const sandboxLong = `Serve fake Okta, Jira, Confluence, Slack and Anthropic APIs on loopback and
write DIR/uar.yaml pointing at them, so every uar command can be tried (and
benchmarked) without touching a real system. The fakes behave like the real
services on the wire: pagination with Link headers, X-Rate-Limit-* headers,
error bodies, Jira dates, Confluence versions, Slack's form-encoded token.

Each service listens on its own loopback port: --listen 127.0.0.1:0 picks free
ports; --listen 127.0.0.1:P uses P (Okta), P+1 (Jira), P+2 (Confluence), P+3
(Slack) and P+4 (Anthropic). A non-loopback address is refused: the sandbox
never listens beyond this machine.

Files written in DIR (default: the current folder), before the sandbox says
it is ready:
  uar.yaml     okta.org_url, jira.base_url, confluence.base_url, slack.api_url,
               ai.base_url and systems: (refreshed on every start; a uar.yaml
               the sandbox did not write is never overwritten: an error)
  sandbox.env  export lines for the sandbox's fixed FAKE tokens (they are
               accepted only by these fakes)
  policy.yaml  the example policy, unless one is there already

--detach starts the sandbox in the background and returns once it is ready
(its log is DIR/sandbox.log, its pid DIR/sandbox.pid), so a script can go on
at once; 'uar sandbox stop' stops it. 'uar sandbox comment' posts a comment
on a ticket as an owner would, to play the decision loop by hand. The ticket
and page URLs uar prints open in a browser as read-only views of the fakes.

The org served is the reference org (default), an org JSON file (--org FILE),
or a generated one (--generate users=N,groups=N,memberships=N,seed=N, and
optionally nonsox=N, systems=N; groups counts SOX groups). systems: is the
reference org's configuration, or one system per SOX-<System>-<Role> name for
other orgs, each owned by an org user who holds none of its access.

stdout lists the services, one "NAME URL" line each (a JSON object with
--json); --ready-file PATH also writes those lines to PATH once every port is
listening (atomically; removed at exit), for scripts to wait on.

The sandbox opens no evidence store and records no run: it is a test fixture
standing in for the outside world, not a step of the review. Times the fakes
stamp come from uar's clock.

In the foreground it serves until interrupted (Ctrl-C or SIGTERM), then
stops and exits 0.

Examples:
  uar sandbox --dir /tmp/uar-sb --detach
  cd /tmp/uar-sb && . ./sandbox.env && uar snapshot && uar score && uar publish
  uar sandbox comment --dir /tmp/uar-sb --ticket UAR-1 --as nina.patel@company.com "REVOKE: ivan.petrov@company.com"
  uar sandbox stop --dir /tmp/uar-sb
  uar sandbox --okta-only --generate users=50000,groups=400,memberships=500000 --ready-file ready

EXIT STATUS
  0  stopped by an interrupt
  1  a port could not be opened or a file written
  2  usage error: bad flag, non-loopback --listen, existing uar.yaml, bad org`

func newSandboxCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &sandboxOptions{}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve fake Okta, Jira, Confluence and Slack on loopback and write a uar.yaml for them",
		Long:  sandboxLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runSandbox(c.Context(), env, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback address; port 0 picks free ports, port P uses P..P+4")
	cmd.PersistentFlags().StringVar(&o.dir, "dir", ".", "folder for uar.yaml, sandbox.env and policy.yaml")
	f.BoolVar(&o.detach, "detach", false, "serve in the background; return once ready ('uar sandbox stop' stops it)")
	f.StringVar(&o.org, "org", "reference", `org to serve: "reference" or an org JSON file`)
	f.StringVar(&o.generate, "generate", "", "serve a generated org: users=N,groups=N,memberships=N,seed=N[,nonsox=N,systems=N]")
	f.DurationVar(&o.latency, "latency", 0, "delay every response by this much (e.g. 50ms)")
	f.BoolVar(&o.oktaOnly, "okta-only", false, "serve only Okta")
	f.StringVar(&o.readyFile, "ready-file", "", "write the service URLs to this file once listening")
	f.IntVar(&o.rateLimit, "okta-rate-limit", 0, "requests per minute the fake Okta allows before 429 (0: no limit)")
	cmd.AddCommand(newSandboxStopCmd(env, g, o), newSandboxCommentCmd(env, g, o))
	return cmd
}

func runSandbox(ctx context.Context, env *Env, g *globalOptions, o *sandboxOptions) error {
	u := ui{env: env, g: g}
	o.dir, o.readyFile = env.path(o.dir), env.path(o.readyFile)
	if o.org != "reference" {
		o.org = env.path(o.org)
	}
	host, port, err := sandboxListenAddr(o.listen)
	if err != nil {
		return err
	}
	if o.latency < 0 {
		return usageErrorf("--latency %s: must not be negative", o.latency)
	}
	if o.rateLimit < 0 {
		return usageErrorf("--okta-rate-limit %d: must be 0 (no limit) or more", o.rateLimit)
	}
	cfgPath := filepath.Join(o.dir, "uar.yaml")
	if err := sandboxFolderFree(o.dir); err != nil {
		return err
	}
	org, systems, err := sandboxOrg(env, o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if o.detach {
		return sandboxDetach(ctx, env, g, o)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Host: host, Port: port, Org: org, OktaOnly: o.oktaOnly,
		Latency: o.latency, OktaRateLimit: o.rateLimit, Clock: sandbox.Clock(env.Now)})
	if err != nil {
		return err
	}
	defer sb.Close()
	files, err := sandboxWriteFiles(o, cfgPath, sb, systems)
	if err != nil {
		return err
	}
	hrFiles, err := sandboxWriteHR(o, org)
	if err != nil {
		return err
	}
	files = append(files, hrFiles...)
	if o.readyFile != "" {
		if err := sandboxWriteReady(o.readyFile, sb.Services); err != nil {
			return err
		}
		defer os.Remove(o.readyFile)
	}
	if err := sandboxPrint(env, g, sb.Services, files); err != nil {
		return err
	}
	names := make([]string, len(sb.Services))
	for i, s := range sb.Services {
		names[i] = s.Name
	}
	u.Infof("uar sandbox: serving %s on loopback with FAKE credentials (%d users, %d groups, %d memberships)",
		strings.Join(names, ", "), len(org.Users), len(org.Groups), org.Membership())
	u.Infof("  wrote %s", strings.Join(files, ", "))
	u.Infof("  try:  cd %s && . ./sandbox.env && uar snapshot && uar score", o.dir)
	if len(hrFiles) > 0 {
		u.Infof("  HR:   uar snapshot --import hr.csv --kind hr && uar score (hr-previous.csv is the previous quarter's listing)")
	}
	u.Infof("  stop with Ctrl-C (the URLs change on every start unless --listen names a port)")
	select {
	case <-ctx.Done():
		u.Infof("uar sandbox: stopping")
		return nil
	case err := <-sb.Err():
		return err
	}
}

// sandboxListenAddr parses --listen and refuses anything but loopback.
func sandboxListenAddr(listen string) (string, int, error) {
	host, ps, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, usageErrorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:0", listen)
	}
	if host == "" || !httpx.IsLoopback(host) {
		return "", 0, WithHint(usageErrorf("--listen %q: not a loopback address: the sandbox never listens beyond this machine", listen),
			"use 127.0.0.1:0, [::1]:0 or localhost:0")
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535-4 {
		return "", 0, usageErrorf("--listen %q: port must be 0 or 1..65531 (the services use PORT..PORT+4)", listen)
	}
	return host, port, nil
}

// sandboxOrg builds the org to serve and the systems: to configure.
func sandboxOrg(env *Env, o *sandboxOptions) (*sandbox.Org, []model.System, error) {
	if o.generate != "" {
		if o.org != "reference" {
			return nil, nil, usageErrorf("--org and --generate are exclusive")
		}
		gen, err := sandboxParseGenerate(o.generate)
		if err != nil {
			return nil, nil, err
		}
		gen.Now = env.Now().UTC()
		org := sandbox.Generate(gen)
		return org, sandbox.InferSystems(org), nil
	}
	if o.org == "reference" {
		return sandbox.ReferenceOrg(), sandbox.ReferenceSystems(), nil
	}
	org, err := sandbox.LoadOrgFile(o.org)
	if err != nil {
		return nil, nil, &UsageError{Err: fmt.Errorf("--org: %w", err)}
	}
	return org, sandbox.InferSystems(org), nil
}

// sandboxParseGenerate parses users=N,groups=N,memberships=N,seed=N (and
// nonsox=N, systems=N). Every value must be a positive integer.
func sandboxParseGenerate(spec string) (sandbox.GenerateOptions, error) {
	var gen sandbox.GenerateOptions
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return gen, usageErrorf("--generate %q: want key=value pairs, e.g. users=1000,groups=40,memberships=10000,seed=1", spec)
		}
		if seen[k] {
			return gen, usageErrorf("--generate: %s given twice", k)
		}
		seen[k] = true
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 63)
		if err != nil || n == 0 {
			return gen, usageErrorf("--generate: %s=%q: want a positive integer", k, v)
		}
		const maxSize = 10_000_000 // keeps a typo from exhausting memory
		if k != "seed" && n > maxSize {
			return gen, usageErrorf("--generate: %s=%d: at most %d", k, n, maxSize)
		}
		switch k {
		case "users":
			gen.Users = int(n)
		case "groups":
			gen.SOXGroups = int(n)
		case "memberships":
			gen.Memberships = int(n)
		case "seed":
			gen.Seed = n
		case "nonsox":
			gen.NonSOXGroups = int(n)
		case "systems":
			gen.Systems = int(n)
		default:
			return gen, usageErrorf("--generate: unknown key %q (known: users, groups, memberships, seed, nonsox, systems)", k)
		}
	}
	if err := gen.Validate(); err != nil {
		return gen, usageErrorf("--generate: %v", err)
	}
	return gen, nil
}
