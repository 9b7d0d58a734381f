package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
)

func init() { extraCommands = append(extraCommands, newSandboxCmd) }

// The sandbox's fixed credentials. They are accepted only by the fakes this
// command serves on loopback; they open nothing real, which is why they
// may be written to sandbox.env and printed in help.
const (
	sandboxOktaToken     = "sandbox-okta-token-not-a-secret"
	sandboxJiraEmail     = "svc-uar@company.com"
	sandboxJiraToken     = "sandbox-jira-token-not-a-secret"
	sandboxSlackToken    = "xoxb-sandbox-slack-token-not-a-secret"
	sandboxAnthropicKey  = "sk-ant-sandbox-key-not-a-secret"
	sandboxSlackChannel  = "#sox-uar"
	sandboxJiraProject   = "UAR"
	sandboxSpace         = "SOX"
	sandboxGroupPrefix   = "SOX-"
	sandboxShutdownGrace = 5 * time.Second
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

Files written in DIR (default: the current folder):
  uar.yaml     okta.org_url, jira.base_url, confluence.base_url, slack.api_url,
               ai.base_url and systems: (never overwritten: an existing one is
               an error)
  sandbox.env  export lines for the sandbox's fixed FAKE tokens (they are
               accepted only by these fakes)
  policy.yaml  the example policy, unless one is there already

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

It serves until interrupted (Ctrl-C or SIGTERM), then stops and exits 0.

Examples:
  uar sandbox --dir /tmp/uar-sb
  cd /tmp/uar-sb && . ./sandbox.env && uar snapshot && uar score
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
	f.StringVar(&o.dir, "dir", ".", "folder for uar.yaml, sandbox.env and policy.yaml")
	f.StringVar(&o.org, "org", "reference", `org to serve: "reference" or an org JSON file`)
	f.StringVar(&o.generate, "generate", "", "serve a generated org: users=N,groups=N,memberships=N,seed=N[,nonsox=N,systems=N]")
	f.DurationVar(&o.latency, "latency", 0, "delay every response by this much (e.g. 50ms)")
	f.BoolVar(&o.oktaOnly, "okta-only", false, "serve only Okta")
	f.StringVar(&o.readyFile, "ready-file", "", "write the service URLs to this file once listening")
	f.IntVar(&o.rateLimit, "okta-rate-limit", 0, "requests per minute the fake Okta allows before 429 (0: no limit)")
	return cmd
}

// sandboxService is one fake being served.
type sandboxService struct {
	name    string
	handler http.Handler
	ln      net.Listener
	url     string // what uar.yaml and stdout give
}

func runSandbox(ctx context.Context, env *Env, g *globalOptions, o *sandboxOptions) error {
	u := ui{env: env, g: g}
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
	if _, err := os.Stat(cfgPath); err == nil {
		return WithHint(usageErrorf("%s exists: the sandbox never overwrites a config", cfgPath),
			"pass --dir with another folder, or remove the file")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox: %w", err)
	}
	org, systems, err := sandboxOrg(env, o)
	if err != nil {
		return err
	}

	now := sandbox.Clock(env.Now)
	fakeOkta := sandbox.NewOkta(org, sandbox.OktaOptions{Token: sandboxOktaToken, Clock: now, RateLimitPerMinute: o.rateLimit})
	services := []*sandboxService{{name: "okta", handler: fakeOkta}}
	var latencies []func(time.Duration)
	latencies = append(latencies, fakeOkta.SetLatency)
	if !o.oktaOnly {
		jira := sandbox.NewJira(sandbox.JiraOptions{Email: sandboxJiraEmail, Token: sandboxJiraToken, Projects: []string{sandboxJiraProject}, Clock: now})
		conf := sandbox.NewConfluence(sandbox.ConfluenceOptions{Email: sandboxJiraEmail, Token: sandboxJiraToken, Spaces: []string{sandboxSpace}, Clock: now})
		slack := sandbox.NewSlack(sandbox.SlackOptions{Token: sandboxSlackToken, Clock: now})
		anth := sandbox.NewAnthropic(sandbox.AnthropicOptions{APIKey: sandboxAnthropicKey, Clock: now})
		services = append(services,
			&sandboxService{name: "jira", handler: jira},
			&sandboxService{name: "confluence", handler: conf},
			&sandboxService{name: "slack", handler: slack},
			&sandboxService{name: "anthropic", handler: anth})
		latencies = append(latencies, jira.SetLatency, conf.SetLatency, slack.SetLatency, anth.SetLatency)
	}
	if o.latency > 0 {
		for _, set := range latencies {
			set(o.latency)
		}
	}

	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer func() {
		for _, s := range services {
			if s.ln != nil {
				s.ln.Close()
			}
		}
	}()
	for i, s := range services {
		p := 0
		if port != 0 {
			p = port + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("sandbox: %s: %w", s.name, err)
		}
		s.ln = ln
		// "localhost" could in theory resolve elsewhere: check what we got.
		addr, ok := ln.Addr().(*net.TCPAddr)
		if !ok || !addr.IP.IsLoopback() {
			return usageErrorf("--listen %s: bound %s, which is not a loopback address", o.listen, ln.Addr())
		}
		s.url = "http://" + addr.String()
		if s.name == "slack" {
			s.url += "/api/"
		}
	}

	files, err := sandboxWriteFiles(o, cfgPath, services, systems)
	if err != nil {
		return err
	}

	srvErr := make(chan error, len(services))
	servers := make([]*http.Server, 0, len(services))
	for _, s := range services {
		srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
		servers = append(servers, srv)
		go func(srv *http.Server, s *sandboxService) {
			if err := srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				srvErr <- fmt.Errorf("sandbox: %s: %w", s.name, err)
			}
		}(srv, s)
	}

	if o.readyFile != "" {
		if err := sandboxWriteReady(o.readyFile, services); err != nil {
			sandboxShutdown(servers)
			return err
		}
		defer os.Remove(o.readyFile)
	}
	if err := sandboxPrint(env, g, services, files); err != nil {
		sandboxShutdown(servers)
		return err
	}
	u.Infof("uar sandbox: serving %s on loopback with FAKE credentials (%d users, %d groups, %d memberships)",
		sandboxNames(services), len(org.Users), len(org.Groups), org.Membership())
	u.Infof("  wrote %s", strings.Join(files, ", "))
	u.Infof("  try:  cd %s && . ./sandbox.env && uar snapshot && uar score", o.dir)
	u.Infof("  stop with Ctrl-C (the URLs change on every start unless --listen names a port)")

	select {
	case <-ctx.Done():
		u.Infof("uar sandbox: stopping")
		sandboxShutdown(servers)
		return nil
	case err := <-srvErr:
		sandboxShutdown(servers)
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
func sandboxOrg(env *Env, o *sandboxOptions) (*sandbox.Org, []SystemConfig, error) {
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
		return org, sandboxInferSystems(org), nil
	}
	if o.org == "reference" {
		var systems []SystemConfig
		for _, s := range sandbox.ReferenceSystems() {
			systems = append(systems, SystemConfig{Name: s.Name, Groups: s.Groups, Owner: s.Owner,
				OwnerAccountID: s.OwnerAccountID, BackupReviewer: s.BackupReviewer, Delegates: s.Delegates})
		}
		return sandbox.ReferenceOrg(), systems, nil
	}
	org, err := sandbox.LoadOrgFile(o.org)
	if err != nil {
		return nil, nil, &UsageError{Err: fmt.Errorf("--org: %w", err)}
	}
	return org, sandboxInferSystems(org), nil
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
	return gen, nil
}

// sandboxInferSystems derives one system per SOX-<System>-<Role> group
// name. Each system's owner is the first active user (by id) who holds none
// of its groups, and its backup reviewer the next one, so publish has an
// owner to assign and, where the org allows, no owner reviews their own
// access.
func sandboxInferSystems(org *sandbox.Org) []SystemConfig {
	members := map[string]map[string]bool{}
	var names []string
	for _, gr := range org.Groups {
		rest, ok := strings.CutPrefix(gr.Name, sandboxGroupPrefix)
		if !ok {
			continue
		}
		sys, _, ok := strings.Cut(rest, "-")
		if !ok || sys == "" {
			continue
		}
		if members[sys] == nil {
			members[sys] = map[string]bool{}
			names = append(names, sys)
		}
		for _, m := range gr.Members {
			members[sys][m] = true
		}
	}
	slices.Sort(names)
	users := slices.Clone(org.Users)
	slices.SortFunc(users, func(a, b sandbox.OrgUser) int { return strings.Compare(a.ID, b.ID) })
	out := make([]SystemConfig, 0, len(names))
	for _, sys := range names {
		s := SystemConfig{Name: sys, Groups: []string{sandboxGroupPrefix + sys + "-*"}}
		// Prefer users without access; in a small, dense org everyone may
		// have some, and then the backup reviewer covers the owner's lines.
		for _, outsider := range []bool{true, false} {
			for _, usr := range users {
				if usr.Status != "ACTIVE" || (outsider && members[sys][usr.ID]) || usr.Email == s.Owner || usr.Email == s.BackupReviewer {
					continue
				}
				if s.Owner == "" {
					s.Owner = usr.Email
				} else if s.BackupReviewer == "" {
					s.BackupReviewer = usr.Email
				}
				if s.BackupReviewer != "" {
					break
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// sandboxYAML is the uar.yaml the sandbox writes (keys as in Config).
type sandboxYAML struct {
	DB         string             `yaml:"db"`
	Okta       sandboxYAMLOkta    `yaml:"okta"`
	Jira       *sandboxYAMLJira   `yaml:"jira,omitempty"`
	Confluence *sandboxYAMLConf   `yaml:"confluence,omitempty"`
	Slack      *sandboxYAMLSlack  `yaml:"slack,omitempty"`
	AI         *sandboxYAMLAI     `yaml:"ai,omitempty"`
	Systems    []sandboxYAMLSys   `yaml:"systems,omitempty"`
	Policy     string             `yaml:"policy"`
	Review     *sandboxYAMLReview `yaml:"review,omitempty"`
}

type sandboxYAMLOkta struct {
	OrgURL               string `yaml:"org_url"`
	GroupPrefix          string `yaml:"group_prefix"`
	PageSize             int    `yaml:"page_size"`
	Concurrency          int    `yaml:"concurrency"`
	MaxRequestsPerMinute int    `yaml:"max_requests_per_minute"`
}

type sandboxYAMLJira struct {
	BaseURL   string `yaml:"base_url"`
	Email     string `yaml:"email"`
	Project   string `yaml:"project"`
	IssueType string `yaml:"issue_type"`
}

type sandboxYAMLConf struct {
	BaseURL string `yaml:"base_url"`
	Space   string `yaml:"space"`
}

type sandboxYAMLSlack struct {
	Channel string `yaml:"channel"`
	APIURL  string `yaml:"api_url"`
}

type sandboxYAMLAI struct {
	Enabled bool   `yaml:"enabled"`
	BaseURL string `yaml:"base_url"`
}

type sandboxYAMLSys struct {
	Name           string   `yaml:"name"`
	Groups         []string `yaml:"groups,flow"`
	Owner          string   `yaml:"owner,omitempty"`
	BackupReviewer string   `yaml:"backup_reviewer,omitempty"`
}

type sandboxYAMLReview struct {
	WindowDays int `yaml:"window_days"`
}

const sandboxYAMLHeader = `# Written by 'uar sandbox': every URL below is a FAKE service on loopback.
# The ports change on every start; rerun 'uar sandbox' in an empty folder.
# Credentials: '. ./sandbox.env' (fake tokens accepted only by the sandbox).
# The sandbox Okta has no rate limit unless --okta-rate-limit was given,
# hence max_requests_per_minute: 0 (no client cap); keep a cap for a real org.
`

// sandboxWriteFiles writes uar.yaml (exclusively), sandbox.env and, if
// absent, policy.yaml; it returns the paths written.
func sandboxWriteFiles(o *sandboxOptions, cfgPath string, services []*sandboxService, systems []SystemConfig) ([]string, error) {
	url := map[string]string{}
	for _, s := range services {
		url[s.name] = s.url
	}
	clientCap := 0
	if o.rateLimit > 0 {
		clientCap = max(1, o.rateLimit/2) // stay well under the org's limit, as for a real org
	}
	y := sandboxYAML{
		DB:     "uar.db",
		Okta:   sandboxYAMLOkta{OrgURL: url["okta"], GroupPrefix: sandboxGroupPrefix, PageSize: 1000, Concurrency: 4, MaxRequestsPerMinute: clientCap},
		Policy: "policy.yaml",
	}
	if !o.oktaOnly {
		y.Jira = &sandboxYAMLJira{BaseURL: url["jira"], Email: sandboxJiraEmail, Project: sandboxJiraProject, IssueType: "Task"}
		y.Confluence = &sandboxYAMLConf{BaseURL: url["confluence"], Space: sandboxSpace}
		y.Slack = &sandboxYAMLSlack{Channel: sandboxSlackChannel, APIURL: url["slack"]}
		y.AI = &sandboxYAMLAI{Enabled: false, BaseURL: url["anthropic"]}
	}
	for _, s := range systems {
		y.Systems = append(y.Systems, sandboxYAMLSys{Name: s.Name, Groups: s.Groups, Owner: s.Owner, BackupReviewer: s.BackupReviewer})
	}
	body, err := yaml.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := sandboxWriteExcl(cfgPath, append([]byte(sandboxYAMLHeader), body...), 0o644); err != nil {
		return nil, err
	}
	written := []string{cfgPath}

	var envFile strings.Builder
	envFile.WriteString("# Written by 'uar sandbox'. These are SANDBOX-ONLY FAKE tokens: the fake\n" +
		"# services on loopback accept them and nothing real does. Never put a real\n" +
		"# token in a file; export real ones from a secret store instead.\n")
	fmt.Fprintf(&envFile, "export %s=%s\n", EnvOktaToken, sandboxOktaToken)
	if !o.oktaOnly {
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvJiraToken, sandboxJiraToken)
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvConfluenceToken, sandboxJiraToken)
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvSlackToken, sandboxSlackToken)
		fmt.Fprintf(&envFile, "export %s=%s\n", EnvAnthropicKey, sandboxAnthropicKey)
	}
	envPath := filepath.Join(o.dir, "sandbox.env")
	// The tokens are fixed, so an existing sandbox.env from an earlier
	// start is rewritten (it holds no user data); uar.yaml is never.
	if err := os.WriteFile(envPath, []byte(envFile.String()), 0o600); err != nil {
		return written, fmt.Errorf("sandbox: %w", err)
	}
	written = append(written, envPath)

	polPath := filepath.Join(o.dir, "policy.yaml")
	if err := sandboxWriteExcl(polPath, []byte(score.ExamplePolicy), 0o644); err == nil {
		written = append(written, polPath)
	} else if !errors.Is(err, fs.ErrExist) {
		return written, err
	}
	return written, nil
}

// sandboxWriteExcl creates path with data, failing if it exists (O_EXCL
// also closes the race with another process creating it meanwhile).
func sandboxWriteExcl(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		if filepath.Base(path) == "uar.yaml" {
			return WithHint(usageErrorf("%s exists: the sandbox never overwrites a config", path),
				"pass --dir with another folder, or remove the file")
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("sandbox: write %s: %w", path, err)
	}
	return f.Close()
}

func sandboxLines(services []*sandboxService) string {
	var b strings.Builder
	for _, s := range services {
		fmt.Fprintf(&b, "%s %s\n", s.name, s.url)
	}
	return b.String()
}

// sandboxWriteReady writes the URL lines to path atomically (a temporary
// file renamed into place), so a script polling for it never reads half.
func sandboxWriteReady(path string, services []*sandboxService) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(sandboxLines(services)), 0o644); err != nil {
		return fmt.Errorf("sandbox: --ready-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sandbox: --ready-file: %w", err)
	}
	return nil
}

func sandboxPrint(env *Env, g *globalOptions, services []*sandboxService, files []string) error {
	if g.json {
		urls := map[string]string{}
		for _, s := range services {
			urls[s.name] = s.url
		}
		return writeJSON(env.Stdout, map[string]any{"services": urls, "files": files})
	}
	_, err := fmt.Fprint(env.Stdout, sandboxLines(services))
	return err
}

func sandboxNames(services []*sandboxService) string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// sandboxShutdown stops every server, letting requests in flight finish
// for a few seconds.
func sandboxShutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), sandboxShutdownGrace)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
}
