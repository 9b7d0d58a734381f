package cli

// Controlling a sandbox from the shell: --detach (serve in the background,
// return when ready), stop, and comment (play an owner answering in Jira).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/sandbox"
)

const (
	sandboxPidFile   = "sandbox.pid"
	sandboxLogFile   = "sandbox.log"
	sandboxReadyFile = ".sandbox.ready"
	sandboxStartWait = 60 * time.Second
)

// sandboxFolderFree makes dir ready for a new sandbox: a uar.yaml the
// sandbox wrote before is replaced (its ports are dead), one it did not
// write is refused, and a detached sandbox still serving there is refused.
func sandboxFolderFree(dir string) error {
	if pid, alive := sandboxRunning(dir); alive {
		return WithHint(usageErrorf("a sandbox is already serving from %s (pid %d)", dir, pid), "stop it with 'uar sandbox stop --dir "+dir+"', or use another --dir")
	}
	cfg := filepath.Join(dir, "uar.yaml")
	b, err := os.ReadFile(cfg)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("sandbox: %w", err)
	case !bytes.HasPrefix(b, []byte(sandboxYAMLHeader[:40])):
		return WithHint(usageErrorf("%s exists and was not written by the sandbox: it is never overwritten", cfg),
			"pass --dir with another folder, or remove the file")
	}
	if err := os.Remove(cfg); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// sandboxRunning reads dir's pid file: the pid and whether it still runs.
func sandboxRunning(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, sandboxPidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processAlive(pid)
}

// sandboxDetach starts `uar sandbox` again as a background process (its
// own session, its output in DIR/sandbox.log), waits until it is ready,
// records its pid, and prints what a foreground sandbox prints.
func sandboxDetach(ctx context.Context, env *Env, g *globalOptions, o *sandboxOptions) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sandbox: --detach: %w", err)
	}
	ready := filepath.Join(o.dir, sandboxReadyFile)
	_ = os.Remove(ready)
	args := []string{"uar", "sandbox", "--dir", o.dir, "--ready-file", ready, "--listen", o.listen, "--org", o.org,
		"--latency", o.latency.String(), "--okta-rate-limit", strconv.Itoa(o.rateLimit)}
	if o.generate != "" {
		args = append(args, "--generate", o.generate)
	}
	if o.oktaOnly {
		args = append(args, "--okta-only")
	}
	logf, err := os.OpenFile(filepath.Join(o.dir, sandboxLogFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer logf.Close()
	cmd := &exec.Cmd{Path: exe, Args: args, Stdout: logf, Stderr: logf, SysProcAttr: detachedProcess()}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sandbox: --detach: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(sandboxStartWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			if err := os.WriteFile(filepath.Join(o.dir, sandboxPidFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
				_ = cmd.Process.Kill()
				return fmt.Errorf("sandbox: %w", err)
			}
			if o.readyFile != "" && o.readyFile != ready {
				if err := os.WriteFile(o.readyFile, b, 0o644); err != nil {
					return fmt.Errorf("sandbox: --ready-file: %w", err)
				}
			}
			if g.json {
				urls := map[string]string{}
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					if name, u, ok := strings.Cut(l, " "); ok {
						urls[name] = u
					}
				}
				return writeJSON(env.Stdout, map[string]any{"services": urls, "pid": cmd.Process.Pid, "dir": o.dir})
			}
			fmt.Fprint(env.Stdout, string(b))
			ui{env: env, g: g}.Infof("uar sandbox: serving in the background (pid %d; log %s)\n  try:  cd %s && . ./sandbox.env && uar snapshot\n  stop: uar sandbox stop --dir %s",
				cmd.Process.Pid, filepath.Join(o.dir, sandboxLogFile), o.dir, o.dir)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("sandbox: the background sandbox exited before it was ready (%v): %s", err, lastLines(filepath.Join(o.dir, sandboxLogFile), 5))
		case <-deadline.C:
			_ = cmd.Process.Kill()
			return fmt.Errorf("sandbox: not ready after %s: %s", sandboxStartWait, lastLines(filepath.Join(o.dir, sandboxLogFile), 5))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

func newSandboxStopCmd(env *Env, g *globalOptions, o *sandboxOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop a sandbox started with --detach",
		Long: `Stop the background sandbox serving from --dir (default: the current folder):
SIGTERM, then wait until it has gone. The files it wrote stay.

Examples:
  uar sandbox stop --dir /tmp/uar-sb

EXIT STATUS
  0  stopped
  1  no sandbox is serving from that folder, or it did not stop in time
  2  usage error`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			dir := env.path(o.dir)
			pid, alive := sandboxRunning(dir)
			if !alive {
				_ = os.Remove(filepath.Join(dir, sandboxPidFile))
				return fmt.Errorf("sandbox: no sandbox is serving from %s", dir)
			}
			if err := stopProcess(pid); err != nil {
				return fmt.Errorf("sandbox: stop pid %d: %w", pid, err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for processAlive(pid) {
				if time.Now().After(deadline) {
					return fmt.Errorf("sandbox: pid %d still running 15 s after SIGTERM", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			_ = os.Remove(filepath.Join(dir, sandboxPidFile))
			ui{env: env, g: g}.Infof("uar sandbox: stopped (pid %d)", pid)
			return nil
		},
	}
}

type sandboxCommentOptions struct {
	ticket, as string
}

func newSandboxCommentCmd(env *Env, g *globalOptions, o *sandboxOptions) *cobra.Command {
	co := &sandboxCommentOptions{}
	cmd := &cobra.Command{
		Use:   "comment TEXT",
		Short: "Post a comment on a sandbox ticket as an owner would",
		Long: `Post TEXT as a comment on ticket --ticket, written by --as (an email), on the
sandbox Jira serving from --dir (its uar.yaml names it): how to play an owner
answering in the ticket by hand. "\n" in TEXT starts a new line. Only a
sandbox on loopback accepts it: the fake Jira lets the sandbox token act as
any user; a real Jira never would.

Examples:
  uar sandbox comment --ticket UAR-1 --as nina.patel@company.com "REVOKE: ivan.petrov@company.com -- contract ended"
  uar sandbox comment --ticket UAR-1 --as sam.rivera@company.com "CERTIFY: all"

EXIT STATUS
  0  posted (the comment id is printed)
  1  the sandbox refused it or is not running
  2  usage error, or --dir has no sandbox uar.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return sandboxComment(c.Context(), env, env.path(o.dir), co, args[0])
		},
	}
	cmd.Flags().StringVar(&co.ticket, "ticket", "", "the ticket key, e.g. UAR-1")
	cmd.Flags().StringVar(&co.as, "as", "", "the author's email, e.g. nina.patel@company.com")
	return cmd
}

func sandboxComment(ctx context.Context, env *Env, dir string, co *sandboxCommentOptions, text string) error {
	if co.ticket == "" || !strings.Contains(co.as, "@") {
		return usageErrorf("--ticket KEY and --as EMAIL are required")
	}
	b, err := os.ReadFile(filepath.Join(dir, "uar.yaml"))
	if err != nil || !bytes.HasPrefix(b, []byte(sandboxYAMLHeader[:40])) {
		return WithHint(usageErrorf("%s has no uar.yaml written by 'uar sandbox'", dir), "start one with 'uar sandbox --detach --dir "+dir+"'")
	}
	var cfg struct {
		Jira struct {
			BaseURL string `yaml:"base_url"`
		} `yaml:"jira"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return usageErrorf("%s/uar.yaml: %v", dir, err)
	}
	u, err := url.Parse(cfg.Jira.BaseURL)
	if err != nil || u.Scheme != "http" || !httpx.IsLoopback(u.Hostname()) {
		return usageErrorf("%s/uar.yaml: jira.base_url %q is not a sandbox on loopback", dir, cfg.Jira.BaseURL)
	}
	var paras []map[string]any
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, `\n`, "\n")))
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			paras = append(paras, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": line}}})
		}
	}
	body, _ := json.Marshal(map[string]any{"body": map[string]any{"type": "doc", "version": 1, "content": paras}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(cfg.Jira.BaseURL, "/")+"/rest/api/3/issue/"+url.PathEscape(co.ticket)+"/comment", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(co.as, sandbox.JiraToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox comment: %w (is the sandbox running? 'uar sandbox --detach --dir %s')", err, dir)
	}
	defer resp.Body.Close()
	var out struct {
		ID            string   `json:"id"`
		ErrorMessages []string `json:"errorMessages"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("sandbox comment: %s: HTTP %d %s", co.ticket, resp.StatusCode, strings.Join(out.ErrorMessages, "; "))
	}
	_, err = fmt.Fprintln(env.Stdout, out.ID)
	return err
}
