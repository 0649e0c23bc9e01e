package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// addStartAllFlags adds Podman's `start --all [--filter ...]`, which the
// systemd user unit in contrib/systemd uses to bring back the containers
// whose restart policy asks for it after a reboot.
func addStartAllFlags(cmd *cobra.Command, opts *StartOptions) {
	cmd.Flags().BoolVar(&opts.All, "all", false, "start all stopped containers (those --filter keeps)")
	cmd.Flags().StringArrayVarP(&opts.Filters, "filter", "f", nil, "with --all: ps filters, and restart-policy=NAME (unless-stopped keeps only containers the user has not stopped)")
}

func startArgs(opts *StartOptions, args []string) error {
	switch {
	case opts.All && len(args) > 0:
		return errdefs.InvalidArgument("start --all takes no container names")
	case !opts.All && len(opts.Filters) > 0:
		return errdefs.InvalidArgument("start --filter needs --all")
	case opts.All && (opts.Attach || opts.Interactive):
		return errdefs.InvalidArgument("start --all cannot attach")
	case !opts.All && len(args) == 0:
		return fmt.Errorf("\"cove start\" requires at least 1 argument")
	}
	return nil
}

// startAll starts every container that is not running and that the
// filters keep, printing each one started; a failure does not stop the
// others, and makes the exit code 125.
func startAll(ctx context.Context, f *Factory, filters []string) error {
	var policies, others []string
	for _, r := range filters {
		k, v, _ := strings.Cut(r, "=")
		if k != "restart-policy" {
			others = append(others, r)
			continue
		}
		switch v {
		case "no", "always", "unless-stopped", "on-failure":
			policies = append(policies, v)
		default:
			return errdefs.InvalidArgument("filter %q: restart-policy is one of no, always, unless-stopped, on-failure", r)
		}
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	pf, err := parsePsFilters(e, others)
	if err != nil {
		return err
	}
	list, err := e.ListContainers(true)
	if err != nil {
		return err
	}
	var failed error
	for _, c := range list {
		if c.State.Status == "running" || c.State.Status == "paused" || !pf.match(c) || !policyMatches(e, c, policies) {
			continue
		}
		if _, err := e.StartDetached(ctx, c.ID); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
			failed = err
			continue
		}
		fmt.Fprintln(f.IO.Out, c.Name)
	}
	if failed != nil {
		return &errdefs.ExitError{Code: errdefs.ExitCode(failed)}
	}
	return nil
}

// policyMatches says whether the container's restart policy is one of
// policies (any, if none is given); unless-stopped matches only while the
// user has not stopped the container, as the policy itself behaves.
func policyMatches(e *engine.Engine, c engine.ContainerSummary, policies []string) bool {
	if len(policies) == 0 {
		return true
	}
	in, err := e.InspectContainer(c.ID)
	if err != nil {
		return false
	}
	name := in.HostConfig.RestartPolicy.Name
	if name == "" {
		name = "no"
	}
	for _, p := range policies {
		if p == name && (p != "unless-stopped" || !c.State.StoppedByUser) {
			return true
		}
	}
	return false
}
