package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/userns"
)

func newCreateCmd(f *Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a container without starting it",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container.Image = args[0]
			opts.Container.Args = args[1:]
			if cmd.Flags().Changed("entrypoint") {
				opts.Container.Entrypoint = &opts.Entrypoint
			}
			opts.Container.Network, opts.Container.Networks = splitNetworks(opts.Networks)
			// Docker: -i attaches stdin, and an attached stdin is
			// closed at the client's end (StdinOnce).
			opts.Container.StdinOnce = opts.Container.OpenStdin
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			_, id, err := createContainer(ctx, f, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IO.Out, id)
			return nil
		},
	}
	addContainerFlags(cmd.Flags(), opts)
	return cmd
}

// StartOptions are the options of `cove start`.
type StartOptions struct {
	IO          *IOStreams
	Containers  []string
	Attach      bool
	Interactive bool
	// All and Filters are --all and --filter (see start_all.go).
	All        bool
	Filters    []string
	DetachKeys string
}

func newStartCmd(f *Factory, runF func(*StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more created or stopped containers",
		Args: func(cmd *cobra.Command, args []string) error {
			return startArgs(opts, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if opts.All {
				return startAll(ctx, f, opts.Filters)
			}
			if !opts.Attach && !opts.Interactive {
				return startDetached(ctx, f, args)
			}
			if len(args) > 1 {
				return errdefs.InvalidArgument("start -a takes one container")
			}
			keys, err := detachKeys(f, opts.DetachKeys, cmd.Flags().Changed("detach-keys"))
			if err != nil {
				return err
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			return startAndAttach(ctx, f, e, args[0], opts.Interactive, keys)
		},
	}
	cmd.Flags().BoolVarP(&opts.Attach, "attach", "a", false, "attach stdout and stderr and wait for the container")
	cmd.Flags().BoolVarP(&opts.Interactive, "interactive", "i", false, "attach stdin")
	addStartAllFlags(cmd, opts)
	cmd.Flags().StringVar(&opts.DetachKeys, "detach-keys", "", "override the key sequence for detaching (default ctrl-p,ctrl-q)")
	return cmd
}

// startDetached starts containers under their monitors and prints each
// name as given; starting a running container does nothing.
func startDetached(ctx context.Context, f *Factory, names []string) error {
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	if len(names) == 1 {
		if _, err := e.StartDetached(ctx, names[0]); err != nil {
			return err
		}
		fmt.Fprintln(f.IO.Out, names[0])
		return nil
	}
	var failed error
	for _, n := range names {
		if _, err := e.StartDetached(ctx, n); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
			failed = err
			continue
		}
		fmt.Fprintln(f.IO.Out, n)
	}
	if failed != nil {
		return &errdefs.ExitError{Code: errdefs.ExitCode(failed)}
	}
	return nil
}

// RmOptions are the options of `cove rm`.
type RmOptions struct {
	IO         *IOStreams
	Containers []string
	Force      bool
	All        bool
	Volumes    bool
}

func newRmCmd(f *Factory, runF func(*RmOptions) error) *cobra.Command {
	opts := &RmOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Long: `Remove containers. Exit codes (Podman's): 1 when a container does not
exist, 2 when one is running and -f was not given, 125 for other errors.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			if runF != nil {
				return runF(opts)
			}
			return rmRun(f, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "kill and remove running containers")
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "remove all containers")
	cmd.Flags().BoolVarP(&opts.Volumes, "volumes", "v", false, "remove anonymous volumes of the container")
	return cmd
}

func rmRun(f *Factory, opts *RmOptions) error {
	if len(opts.Containers) == 0 && !opts.All {
		return errdefs.InvalidArgument("rm needs at least one container, or --all")
	}
	// The store is opened only for a container whose layer storage holds
	// (engine/managed_layer.go): most need none, and opening it (driver
	// set-up, mounts of its home) is a part of every rm worth saving. The
	// vfs warning then follows the removal.
	e, err := f.Engine()
	if err != nil {
		return err
	}
	defer func() {
		if w := e.StorageWarning(); w != "" {
			f.warn(w)
		}
	}()
	names := opts.Containers
	if opts.All {
		list, err := e.ListContainers(true)
		if err != nil {
			return err
		}
		for _, c := range list {
			names = append(names, c.ID)
		}
	}
	code := 0
	var last error
	for _, n := range names {
		remove := e.RemoveContainer
		if opts.Volumes {
			remove = e.RemoveContainerAndVolumes
		}
		if _, err := remove(n, opts.Force); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
			c := errdefs.ExitCove
			switch {
			case errors.Is(err, errdefs.ErrNotFound):
				c = 1
			case errors.Is(err, errdefs.ErrInvalidState):
				c = 2
			}
			if code == 0 || c == errdefs.ExitCove {
				code = c
			}
			last = err
			continue
		}
		fmt.Fprintln(f.IO.Out, n)
	}
	if last != nil {
		return &errdefs.ExitError{Code: code}
	}
	return nil
}

// PsOptions are the options of `cove ps`.
type PsOptions struct {
	IO      *IOStreams
	All     bool
	Quiet   bool
	Latest  bool
	Last    int
	NoTrunc bool
	Size    bool
	Format  string
	Filters []string
}

func newPsCmd(f *Factory, runF func(*PsOptions) error) *cobra.Command {
	opts := &PsOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"list", "ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		// On the host: listing reads only the containers' records and
		// /proc, and skipping the namespace saves its fork and the two
		// setuid helpers. Sizes need storage: psRun then re-enters.
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return psRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.All, "all", "a", false, "show all containers (default shows just running)")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "only display container IDs")
	fl.BoolVarP(&opts.Latest, "latest", "l", false, "show the latest created container")
	fl.IntVarP(&opts.Last, "last", "n", -1, "show the n last created containers")
	fl.BoolVar(&opts.NoTrunc, "no-trunc", false, "don't truncate output")
	fl.BoolVarP(&opts.Size, "size", "s", false, "display sizes")
	fl.StringVar(&opts.Format, "format", "", "format output with a Go template, 'table TEMPLATE' or 'json'")
	fl.StringArrayVarP(&opts.Filters, "filter", "f", nil, "filter output (id, name, label, status, ancestor, exited, before, since, volume)")
	return cmd
}

// psRow has Docker's field names for --format.
type psRow struct {
	ID         string
	Image      string
	Command    string
	CreatedAt  string
	RunningFor string
	Status     string
	State      string
	Ports      string
	Names      string
	Labels     string
	Size       string
	Mounts     string
	Networks   string
}

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
	"Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES", "Labels": "LABELS", "Size": "SIZE",
	"Mounts": "MOUNTS", "Networks": "NETWORKS",
}

// needsStorage reports whether ps must read the store: only for sizes.
func (o *PsOptions) needsStorage() bool {
	return o.Size || strings.Contains(o.Format, ".Size")
}

func psRun(f *Factory, opts *PsOptions) error {
	var e *engine.Engine
	var err error
	switch {
	case !opts.needsStorage() || !userns.Needed() || userns.InNamespace():
		if opts.needsStorage() {
			e, err = f.EngineWithStore()
		} else {
			e, err = f.Engine()
		}
	case forcedWithoutConstructor():
		return goFallbackReexec(f)
	default:
		code, err := reexecSelf([]string{userns.EnvForce + "=1"}, nil)
		if err != nil {
			return err
		}
		return &reexecDone{code: code}
	}
	if err != nil {
		return err
	}
	all := opts.All || opts.Latest || opts.Last >= 0
	list, err := e.ListContainers(all)
	if err != nil {
		return err
	}
	if e.OrphansHidden() > 0 && userns.Needed() && os.Getenv(userns.EnvForce) == "" {
		// --rm containers whose cove was killed: hidden here, removed by
		// the same ps in a namespace, where storage is reachable (rare:
		// only after a kill -9).
		code, err := reexecSelf([]string{userns.EnvForce + "=1"}, nil)
		if err != nil {
			return err
		}
		return &reexecDone{code: code}
	}
	filt, err := parsePsFilters(e, opts.Filters)
	if err != nil {
		return err
	}
	if _, byNetwork := filt.by["network"]; byNetwork || strings.Contains(opts.Format, ".Networks") {
		// A look at the network store per container: only when asked.
		for i := range list {
			list[i].Networks = e.ContainerNetworks(&list[i])
		}
	}
	var rows []engine.ContainerSummary
	for _, c := range list {
		if filt.match(c) {
			rows = append(rows, c)
		}
	}
	if opts.Latest && len(rows) > 1 {
		rows = rows[:1]
	}
	if opts.Last >= 0 && len(rows) > opts.Last {
		rows = rows[:opts.Last]
	}
	if opts.Quiet {
		for _, c := range rows {
			fmt.Fprintln(f.IO.Out, truncID(c.ID, opts.NoTrunc))
		}
		return nil
	}
	format := opts.Format
	if format == "" || format == "table" {
		format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
		if opts.Size {
			format += "\t{{.Size}}"
		}
	}
	fm, err := newFormatter(f.IO.Out, format, psHeaders)
	if err != nil {
		return err
	}
	for _, c := range rows {
		cmd := c.Command
		if !opts.NoTrunc && len(cmd) > 20 {
			cmd = cmd[:19] + "…"
		}
		row := psRow{
			ID: truncID(c.ID, opts.NoTrunc), Image: familiarName(c.Image), Command: `"` + cmd + `"`,
			CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: humanSince(c.Created),
			Status: statusText(c), State: string(c.State.Status), Ports: c.Ports, Names: c.Name, Labels: labelString(c.Labels),
			Size: "0B", Networks: strings.Join(c.Networks, ","),
		}
		if opts.Size || strings.Contains(format, ".Size") {
			row.Size = psSize(e, c.ID)
		}
		if err := fm.write(row); err != nil {
			return err
		}
	}
	return fm.flush()
}

func truncID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	return engine.ShortID(id)
}

func labelString(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}
