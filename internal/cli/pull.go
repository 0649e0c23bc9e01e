package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
)

// PullOptions are the options of `cove pull`.
type PullOptions struct {
	IO        *IOStreams
	Ref       string
	AllTags   bool
	Quiet     bool
	Platform  string
	TLSVerify *bool
}

func newPullCmd(f *Factory, runF func(*PullOptions) error) *cobra.Command {
	opts := &PullOptions{IO: f.IO}
	var tls bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry or an archive",
		Long: `Pull an image. Short names resolve as Docker does (alpine means
docker.io/library/alpine:latest), after aliases from registries.conf; other
search registries are tried only when docker.io does not have the image.
Registries on localhost, 127.0.0.0/8 and ::1 are reached over plain HTTP.
Transports: docker:// (default), docker-archive:, oci-archive:, oci:, dir:.
Progress goes to stderr; the image ID goes to stdout.`,
		Args: exactArgs(1, "an image reference"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if cmd.Flags().Changed("tls-verify") {
				opts.TLSVerify = &tls
			}
			if runF != nil {
				return runF(opts)
			}
			return pullRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.AllTags, "all-tags", "a", false, "pull every tag of the repository")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "suppress progress output")
	fl.StringVar(&opts.Platform, "platform", "", "pull this platform (OS/ARCH[/VARIANT]) of a multi-platform image")
	fl.BoolVar(&tls, "tls-verify", true, "require HTTPS and verify certificates (default: true, false for loopback registries)")
	return cmd
}

func pullRun(ctx context.Context, f *Factory, opts *PullOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	if opts.Platform != "" {
		p, err := engine.ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		e.Platform = p
	}
	var progress io.Writer = opts.IO.ErrOut
	if opts.Quiet {
		progress = nil
	}
	ids, err := e.Pull(ctx, engine.PullRequest{Ref: opts.Ref, AllTags: opts.AllTags, TLSVerify: opts.TLSVerify, Progress: progress})
	for _, id := range ids {
		fmt.Fprintln(opts.IO.Out, id)
	}
	return err
}

// exactArgs is cobra.ExactArgs with a message that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s): %s; see '%s --help'", cmd.CommandPath(), n, what, cmd.CommandPath())
		}
		return nil
	}
}
