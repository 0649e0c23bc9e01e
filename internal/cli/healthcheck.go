package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/userns"
)

// addHealthFlags binds Docker's --health-* flags and --no-healthcheck
// (create and run).
func addHealthFlags(fl *pflag.FlagSet, h *engine.HealthOptions) {
	fl.StringVar(&h.Cmd, "health-cmd", "", "command to run to check health (run with /bin/sh -c)")
	fl.StringVar(&h.Interval, "health-interval", "", "time between running the check (ms|s|m|h) (default 30s)")
	fl.StringVar(&h.Timeout, "health-timeout", "", "maximum time to allow one check to run (ms|s|m|h) (default 30s)")
	fl.StringVar(&h.StartPeriod, "health-start-period", "", "start period for the container to initialize before failures count (ms|s|m|h) (default 0s)")
	fl.StringVar(&h.StartInterval, "health-start-interval", "", "time between running the check during the start period (ms|s|m|h) (default 5s)")
	fl.IntVar(&h.Retries, "health-retries", 0, "consecutive failures needed to report unhealthy (default 3)")
	fl.BoolVar(&h.None, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
}

// HealthcheckRunOptions are the options of `cove healthcheck run`.
type HealthcheckRunOptions struct {
	IO        *IOStreams
	Container string
}

func newHealthcheckCmd(f *Factory, runF func(*HealthcheckRunOptions) error) *cobra.Command {
	group := &cobra.Command{
		Use:   "healthcheck",
		Short: "Manage container healthchecks",
		Args:  cobra.NoArgs,
		// The subcommand joins the container (exec), which only the
		// host side may do; see exec.go.
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	opts := &HealthcheckRunOptions{IO: f.IO}
	run := &cobra.Command{
		Use:   "run CONTAINER",
		Short: "Run a container's healthcheck now",
		Long: `Run the healthcheck of a running container once, now, and record the result
as a scheduled check would (inspect .State.Health). Exit code 0 when the
container is healthy after it, 1 when it is not (the status is printed), 125
for errors: no such container, not running, no healthcheck.`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			if runF != nil {
				return runF(opts)
			}
			return healthcheckRun(cmdContext(cmd), f, opts)
		},
	}
	group.AddCommand(run)
	return group
}

func healthcheckRun(ctx context.Context, f *Factory, opts *HealthcheckRunOptions) error {
	if userns.InNamespace() {
		return fmt.Errorf("healthcheck run must run on the host, outside cove's user namespace: %w", errdefs.ErrUnsupported)
	}
	e, err := f.Engine()
	if err != nil {
		return err
	}
	status, err := e.RunHealthcheck(ctx, opts.Container)
	if err != nil {
		return err
	}
	if status == engine.HealthHealthy {
		return nil
	}
	// Podman's behaviour: the status on stdout, exit code 1.
	fmt.Fprintln(opts.IO.Out, status)
	return &errdefs.ExitError{Code: 1}
}
