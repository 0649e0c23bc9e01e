package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
)

// VersionOptions are the options of `cove version`.
type VersionOptions struct {
	IO     *IOStreams
	Format string
}

func newVersionCmd(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:         "version",
		Short:       "Show the cove version information",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "format the output with a Go template, or 'json'")
	return cmd
}

func versionRun(opts *VersionOptions) error {
	v := engine.Version()
	if opts.Format != "" {
		fm, err := newFormatter(opts.IO.Out, opts.Format, nil)
		if err != nil {
			return err
		}
		return fm.write(v)
	}
	tags := strings.Join(v.BuildTags, " ")
	fmt.Fprintf(opts.IO.Out, "Version:      %s\nCommit:       %s\nGo version:   %s\nBuild tags:   %s\nOS/Arch:      %s/%s\n",
		v.Version, v.Commit, v.GoVersion, tags, v.OS, v.Arch)
	return nil
}
