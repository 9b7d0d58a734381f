// Package cli is uar's command tree: cobra commands, the private viper
// configuration, the Env through which every side effect flows, the run
// lifecycle recorded in the store, output rendering and the single mapping
// from errors to exit codes. It is the only package that reads flags or
// the environment or touches the standard streams.
package cli

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Env is everything a command may touch outside its own memory. OSEnv
// builds the real one; tests build their own.
type Env struct {
	Stdin                io.Reader
	Stdout, Stderr       io.Writer
	StdoutTTY, StderrTTY bool
	Getenv               func(string) string
	Now                  func() time.Time
	// HTTP is the base client every adapter's client is derived from (its
	// Transport is wrapped by the evidence Recorder). Never
	// http.DefaultClient: it has no timeout.
	HTTP         *http.Client
	Version      string
	Commit       string
	Hostname     func() (string, error)
	Username     func() string
	PID          int
	ProcessAlive func(pid int) bool

	// Width is the terminal's width in columns (0 when unknown).
	Width func() int

	// Environ lists the environment ("K=V"), to warn about misspelled
	// UAR_* variables; nil lists nothing.
	Environ func() []string

	// Dir is the folder relative paths are taken from (the config file,
	// db:, policy:, files given as flags); "" is the process's working
	// directory. Tests set it instead of changing directory, so they can
	// run in parallel.
	Dir string

	// seen collects what the configs loaded said (see configSeen).
	seen *configSeen
}

// path resolves p against e.Dir: absolute paths, "" and any path when
// e.Dir is "" are returned as given.
func (e *Env) path(p string) string {
	if p == "" || e.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// OSEnv returns the Env of the real process.
func OSEnv(version, commit string) *Env {
	if version == "" || commit == "" {
		v, c := buildInfo()
		if version == "" {
			version = v
		}
		if commit == "" {
			commit = c
		}
	}
	return &Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Getenv:    os.Getenv,
		Now:       func() time.Time { return time.Now().UTC() },
		HTTP:      &http.Client{Timeout: 2 * time.Minute, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Version:   version,
		Commit:    commit,
		Hostname:  os.Hostname,
		Username: func() string {
			if u, err := user.Current(); err == nil {
				return u.Username
			}
			return os.Getenv("USER")
		},
		PID:          os.Getpid(),
		ProcessAlive: processAlive,
		Environ:      os.Environ,
		Width: func() int {
			w, _, err := term.GetSize(int(os.Stdout.Fd()))
			if err != nil {
				return 0
			}
			return w
		},
		seen: &configSeen{},
	}
}

// processAlive reports whether pid is a running process (signal 0 probes
// without delivering anything; EPERM means it exists but is not ours).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// buildInfo falls back to the module version and VCS revision when the
// binary was built without -ldflags (go install, go run).
func buildInfo() (version, commit string) {
	version, commit = "dev", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		version = v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			commit = s.Value
		}
	}
	return
}
