// Command gendocs writes cove's man pages from its cobra tree, so that the
// pages never disagree with --help.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/cove-run/cove/internal/cli"
)

func main() {
	out := flag.String("out", "docs/man", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Remove stale pages of commands that no longer exist.
	old, _ := os.ReadDir(*out)
	for _, e := range old {
		os.Remove(*out + "/" + e.Name())
	}
	// A fixed date keeps the pages reproducible: `make check-generated`
	// compares them with the committed ones.
	date := time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)
	hdr := &doc.GenManHeader{Title: "COVE", Section: "1", Source: "cove", Manual: "cove manual", Date: &date}
	if err := doc.GenManTree(cli.NewRootCmdForDocs(), hdr, *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
