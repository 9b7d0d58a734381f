// Command uar runs SOX user access reviews end to end and keeps evidence
// an auditor can verify. All logic lives in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/uar-dev/uar/internal/cli"
)

// Set by -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv(version, commit))
	stop()
	os.Exit(code)
}
