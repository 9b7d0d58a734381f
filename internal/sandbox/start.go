package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// The sandbox's fixed credentials. The fakes started by [Start] accept
// them; they open nothing real, which is why `uar sandbox` may write them
// to sandbox.env and help may print them.
const (
	OktaToken     = "sandbox-okta-token-not-a-secret"
	JiraEmail     = "svc-uar@company.com"
	JiraToken     = "sandbox-jira-token-not-a-secret"
	SlackToken    = "xoxb-sandbox-slack-token-not-a-secret"
	AnthropicKey  = "sk-ant-sandbox-key-not-a-secret"
	SlackChannel  = "#sox-uar"
	JiraProject   = "UAR"
	SpaceKey      = "SOX"
	GroupPrefix   = "SOX-"
	shutdownGrace = 5 * time.Second
)

// Service names, in the order Start opens their ports.
const (
	ServiceOkta       = "okta"
	ServiceJira       = "jira"
	ServiceConfluence = "confluence"
	ServiceSlack      = "slack"
	ServiceAnthropic  = "anthropic"
)

// StartOptions configures [Start].
type StartOptions struct {
	// Host is the loopback host to listen on (default 127.0.0.1). Anything
	// that is not loopback is refused: the sandbox never listens beyond
	// this machine.
	Host string
	// Port 0 picks free ports; P uses P (Okta), P+1 (Jira), P+2
	// (Confluence), P+3 (Slack) and P+4 (Anthropic).
	Port int
	// Org is served by the fake Okta (default: the reference org).
	Org *Org
	// OktaOnly serves Okta alone.
	OktaOnly bool
	// Latency delays every response (benchmarks, timeouts).
	Latency time.Duration
	// OktaRateLimit is the requests per minute the fake Okta allows
	// before 429 (0: no limit).
	OktaRateLimit int
	// Clock stamps every time the fakes produce; nil is the real clock.
	Clock Clock
}

// Service is one fake being served.
type Service struct {
	Name string
	URL  string // what uar.yaml points at (Slack's ends in /api/)
}

// Running is a started sandbox. Close it when done.
type Running struct {
	Okta       *Okta
	Jira       *Jira       // nil with OktaOnly
	Confluence *Confluence // nil with OktaOnly
	Slack      *Slack      // nil with OktaOnly
	Anthropic  *Anthropic  // nil with OktaOnly
	Services   []Service

	servers []*http.Server
	errc    chan error
}

// Start serves the fakes on loopback, each on its own port, and returns
// once every port is listening. The servers stop when ctx is done or Close
// is called. Errors name the service whose port could not be opened.
func Start(ctx context.Context, o StartOptions) (*Running, error) {
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("sandbox: %s is not a loopback address: the sandbox never listens beyond this machine", host)
	}
	if o.Port < 0 || o.Port > 65535-4 {
		return nil, fmt.Errorf("sandbox: port %d: want 0 or 1..65531 (the services use PORT..PORT+4)", o.Port)
	}
	org := o.Org
	if org == nil {
		org = ReferenceOrg()
	}
	r := &Running{errc: make(chan error, 5)}
	r.Okta = NewOkta(org, OktaOptions{Token: OktaToken, Clock: o.Clock, RateLimitPerMinute: o.OktaRateLimit})
	type served struct {
		name string
		h    http.Handler
	}
	handlers := []served{{ServiceOkta, r.Okta}}
	latencies := []func(time.Duration){r.Okta.SetLatency}
	if !o.OktaOnly {
		r.Jira = NewJira(JiraOptions{Email: JiraEmail, Token: JiraToken, Projects: []string{JiraProject}, Clock: o.Clock, AnyUser: true})
		r.Confluence = NewConfluence(ConfluenceOptions{Email: JiraEmail, Token: JiraToken, Spaces: []string{SpaceKey}, Clock: o.Clock})
		r.Slack = NewSlack(SlackOptions{Token: SlackToken, Clock: o.Clock})
		r.Anthropic = NewAnthropic(AnthropicOptions{APIKey: AnthropicKey, Clock: o.Clock})
		handlers = append(handlers, served{ServiceJira, r.Jira}, served{ServiceConfluence, r.Confluence},
			served{ServiceSlack, r.Slack}, served{ServiceAnthropic, r.Anthropic})
		latencies = append(latencies, r.Jira.SetLatency, r.Confluence.SetLatency, r.Slack.SetLatency, r.Anthropic.SetLatency)
	}
	if o.Latency > 0 {
		for _, set := range latencies {
			set(o.Latency)
		}
	}
	var lns []net.Listener
	for i, hd := range handlers {
		p := 0
		if o.Port != 0 {
			p = o.Port + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("sandbox: %s: %w", hd.name, err)
		}
		lns = append(lns, ln)
		// "localhost" could in theory resolve elsewhere: check what we got.
		addr, ok := ln.Addr().(*net.TCPAddr)
		if !ok || !addr.IP.IsLoopback() {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("sandbox: %s bound %s, which is not a loopback address", host, ln.Addr())
		}
		u := "http://" + addr.String()
		if hd.name == ServiceSlack {
			u += "/api/"
		}
		r.Services = append(r.Services, Service{Name: hd.name, URL: u})
	}
	for i, hd := range handlers {
		srv := &http.Server{Handler: hd.h, ReadHeaderTimeout: 30 * time.Second}
		r.servers = append(r.servers, srv)
		go func(srv *http.Server, ln net.Listener, name string) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.errc <- fmt.Errorf("sandbox: %s: %w", name, err)
			}
		}(srv, lns[i], hd.name)
	}
	go func() {
		<-ctx.Done()
		r.Close()
	}()
	return r, nil
}

// URL returns the URL of the named service, "" if it is not served.
func (r *Running) URL(name string) string {
	for _, s := range r.Services {
		if s.Name == name {
			return s.URL
		}
	}
	return ""
}

// Err delivers a server that stopped on its own (a broken listener).
func (r *Running) Err() <-chan error { return r.errc }

// Close stops every server, letting requests in flight finish for a few
// seconds. It is safe to call more than once.
func (r *Running) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, s := range r.servers {
		_ = s.Shutdown(ctx)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// InferSystems derives one system per SOX-<System>-<Role> group name of
// org. Each system's owner is the first active user (by id) who holds none
// of its groups, and its backup reviewer the next one, so publish has an
// owner to assign and, where the org allows, no owner reviews their own
// access. Sorted by name.
func InferSystems(org *Org) []model.System {
	members := map[string]map[string]bool{}
	var names []string
	for _, gr := range org.Groups {
		rest, ok := strings.CutPrefix(gr.Name, GroupPrefix)
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
	slices.SortFunc(users, func(a, b OrgUser) int { return strings.Compare(a.ID, b.ID) })
	out := make([]model.System, 0, len(names))
	for _, sys := range names {
		s := model.System{Name: sys, Groups: []string{GroupPrefix + sys + "-*"}}
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
