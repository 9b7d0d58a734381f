// Command floor is the benchmark floor for `uar snapshot`: it reads the
// same pages uar reads (the group rules, the SOX group search with
// expand=stats, then every matched group's members, okta.concurrency
// groups at a time, at okta.page_size) through okta-sdk-golang/v2, exactly
// as an SDK client that keeps nothing would: each page is decoded by the
// SDK into a json.RawMessage and dropped. scripts/bench-snapshot.sh runs
// it beside uar in the same session and reports uar's ratios to it, so
// the figure anyone reads is a ratio, not a noisy absolute time.
//
// It is not part of uar (it is never built into the binary) and reads its
// settings from flags, the token from UAR_OKTA_TOKEN.
//
// Usage:
//
//	UAR_OKTA_TOKEN=... go run ./scripts/floor -org http://127.0.0.1:PORT -page-size 1000 -concurrency 4
//
// It prints one line on stdout: pages, matched groups, bytes of pages.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"
)

func main() {
	org := flag.String("org", "", "okta.org_url")
	prefix := flag.String("prefix", "SOX-", "okta.group_prefix")
	pageSize := flag.Int("page-size", 200, "okta.page_size (members; groups and rules at most 200)")
	concurrency := flag.Int("concurrency", 4, "okta.concurrency")
	flag.Parse()
	if err := run(*org, os.Getenv("UAR_OKTA_TOKEN"), *prefix, *pageSize, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(orgURL, token, prefix string, pageSize, concurrency int) error {
	orgURL = strings.TrimRight(orgURL, "/")
	if orgURL == "" || token == "" {
		return fmt.Errorf("need -org and UAR_OKTA_TOKEN")
	}
	ctx := context.Background()
	// The same SDK settings as uar's client (internal/okta.New): every one
	// explicit, cache off, on a plain client.
	_, c, err := sdk.NewClient(ctx,
		sdk.WithOrgUrl(orgURL), sdk.WithToken(token), sdk.WithAuthorizationMode("SSWS"),
		sdk.WithCache(false), sdk.WithCacheTtl(0), sdk.WithCacheTti(0),
		sdk.WithHttpClientPtr(&http.Client{Timeout: 120 * time.Second}),
		sdk.WithConnectionTimeout(120), sdk.WithRequestTimeout(120),
		sdk.WithRateLimitMaxRetries(4), sdk.WithRateLimitMaxBackOff(30),
		sdk.WithTestingDisableHttpsCheck(strings.HasPrefix(orgURL, "http://")),
		sdk.WithProxyHost(""), sdk.WithProxyPort(0), sdk.WithProxyUsername(""), sdk.WithProxyPassword(""),
		sdk.WithClientAssertion(""), sdk.WithPrivateKeyId(""), sdk.WithClientId(""), sdk.WithScopes([]string{"okta.groups.read"}))
	if err != nil {
		return err
	}
	var pages, bytes atomic.Int64
	// list reads a listing page by page into a fresh RawMessage each time,
	// calling keep (when not nil) with each page, and follows next links.
	list := func(first string, keep func(json.RawMessage) error) (int, error) {
		re := c.CloneRequestExecutor()
		req, err := re.NewRequest("GET", first, nil)
		if err != nil {
			return 0, err
		}
		var raw json.RawMessage
		resp, err := re.Do(ctx, req, &raw)
		n := 0
		for {
			if err != nil {
				return n, fmt.Errorf("GET %s: %w", first, err)
			}
			n++
			pages.Add(1)
			bytes.Add(int64(len(raw)))
			if keep != nil {
				if err := keep(raw); err != nil {
					return n, err
				}
			}
			if !resp.HasNextPage() {
				return n, nil
			}
			var next json.RawMessage // fresh: never decode into the previous page
			resp, err = resp.Next(ctx, &next)
			raw = next
		}
	}
	listPS := strconv.Itoa(min(pageSize, 200))
	if _, err := list("/api/v1/groups/rules?limit="+listPS, nil); err != nil {
		return err
	}
	// The group search is the one page kind whose content decides what
	// else to read: only the group ids and names are taken from it.
	var groups []string
	q := url.Values{"search": {`profile.name sw "` + prefix + `"`}, "limit": {listPS}, "expand": {"stats"}}
	_, err = list("/api/v1/groups?"+q.Encode(), func(raw json.RawMessage) error {
		var gs []struct {
			ID      string `json:"id"`
			Profile struct {
				Name string `json:"name"`
			} `json:"profile"`
		}
		if err := json.Unmarshal(raw, &gs); err != nil {
			return err
		}
		for _, g := range gs {
			if strings.HasPrefix(g.Profile.Name, prefix) {
				groups = append(groups, g.ID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, concurrency)
	for _, gid := range groups {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := list("/api/v1/groups/"+url.PathEscape(gid)+"/users?limit="+strconv.Itoa(pageSize), nil)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("pages %d groups %d bytes %d\n", pages.Load(), len(groups), bytes.Load())
	return nil
}
