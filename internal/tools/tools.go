//go:build tools

// Package tools pins dependencies that are wired in gradually, so that
// `go mod tidy` run while one package is half-built does not drop them.
package tools

import (
	_ "github.com/anthropics/anthropic-sdk-go"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/okta/okta-sdk-golang/v2/okta"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/slack-go/slack"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "github.com/xuri/excelize/v2"
	_ "golang.org/x/term"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
