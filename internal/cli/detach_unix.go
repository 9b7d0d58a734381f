//go:build !windows

package cli

import (
	"os"
	"syscall"
)

// detachedProcess starts a child in its own session, so closing the
// terminal (or the job control of the shell that ran --detach) leaves it.
func detachedProcess() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// stopProcess asks a process to stop (SIGTERM: uar sandbox stops cleanly).
func stopProcess(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(syscall.SIGTERM)
}
