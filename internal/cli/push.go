package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
)

// PushOptions are the options of `cove push`.
type PushOptions struct {
	IO        *IOStreams
	Source    string
	Dest      string
	Quiet     bool
	TLSVerify *bool
}

func newPushCmd(f *Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{IO: f.IO}
	var tls bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] IMAGE [DESTINATION]",
		Short: "Push an image to a registry or to an archive",
		Long: `Push an image to the registry its name names, or to DESTINATION:
a registry reference, docker-archive:PATH[:TAG], oci-archive:PATH[:TAG],
oci:DIR[:TAG] or dir:DIR.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source = args[0]
			if len(args) == 2 {
				opts.Dest = args[1]
			}
			if cmd.Flags().Changed("tls-verify") {
				opts.TLSVerify = &tls
			}
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "suppress progress output")
	cmd.Flags().BoolVar(&tls, "tls-verify", true, "require HTTPS and verify certificates (default: true, false for loopback registries)")
	return cmd
}

func pushRun(ctx context.Context, f *Factory, opts *PushOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	var progress io.Writer = opts.IO.ErrOut
	if opts.Quiet {
		progress = nil
	}
	return e.Push(ctx, engine.PushRequest{Source: opts.Source, Dest: opts.Dest, TLSVerify: opts.TLSVerify, Progress: progress})
}
