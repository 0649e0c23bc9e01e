package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// LogsOptions are the options of `cove logs`.
type LogsOptions struct {
	IO         *IOStreams
	Container  string
	Follow     bool
	Tail       string
	Since      string
	Until      string
	Timestamps bool
}

func newLogsCmd(f *Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Long: `Print a container's output: what it wrote to stdout goes to stdout, what
it wrote to stderr to stderr. Works for detached and foreground containers,
running or stopped, with the json-file (default) and k8s-file log drivers.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			if runF != nil {
				return runF(opts)
			}
			return logsRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "follow the output until the container stops")
	fl.StringVarP(&opts.Tail, "tail", "n", "all", "number of lines to show from the end, or all")
	fl.StringVar(&opts.Since, "since", "", "show lines since a time (2024-05-01T10:00:00Z, a Unix time) or for a duration (10m)")
	fl.StringVar(&opts.Until, "until", "", "show lines before a time (2024-05-01T10:00:00Z, a Unix time) or a duration ago (10m)")
	fl.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "show the time of each line")
	return cmd
}

func logsRun(ctx context.Context, f *Factory, opts *LogsOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	o := engine.LogsOptions{Follow: opts.Follow, Tail: -1, Timestamps: opts.Timestamps}
	if opts.Tail != "all" && opts.Tail != "" {
		n, err := strconv.Atoi(opts.Tail)
		if err != nil {
			return errdefs.InvalidArgument("--tail %q: a number of lines, or all", opts.Tail)
		}
		// Docker shows everything for a negative count.
		o.Tail = n
	}
	now := time.Now()
	var err error
	if o.Since, err = engine.ParseLogTime(opts.Since, now); err != nil {
		return err
	}
	if o.Until, err = engine.ParseLogTime(opts.Until, now); err != nil {
		return err
	}
	e, err := f.Engine()
	if err != nil {
		return err
	}
	return e.ContainerLogs(ctx, opts.Container, o, opts.IO.Out, opts.IO.ErrOut)
}
