// Package buildinfo holds the values the Makefile stamps into the binary.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Set with -ldflags "-X github.com/cove-run/cove/internal/buildinfo.Version=...".
var (
	Version = "dev"
	Commit  = "unknown"
)

// Tags returns the build tags the binary was built with.
func Tags() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" && s.Value != "" {
			return strings.FieldsFunc(s.Value, func(r rune) bool { return r == ',' || r == ' ' })
		}
	}
	return nil
}

// GoVersion returns the Go toolchain version the binary was built with.
func GoVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return bi.GoVersion
}
