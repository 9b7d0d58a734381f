//go:build windows

package cli

import (
	"os"
	"syscall"
)

func detachedProcess() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// stopProcess ends a process (Windows has no SIGTERM).
func stopProcess(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
