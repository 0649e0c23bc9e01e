package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
)

// forEach runs fn for every named container, prints each name that
// succeeded, prints every failure, and fails if any did.
func forEach(f *Factory, names []string, fn func(name string) error) error {
	var failed error
	for _, n := range names {
		if err := fn(n); err != nil {
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

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func newStopCmd(f *Factory) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop running containers: the stop signal, then SIGKILL after the timeout",
		Args:  cobra.MinimumNArgs(1),
		// On the host, like pause: no storage, and the host user may signal
		// every process of its containers (internal/userns/entry_linux.c).
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := stopTimeout(cmd, timeout)
			if err != nil {
				return err
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return forEach(f, args, func(n string) error { return e.StopContainer(cmdContext(cmd), n, t) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

func newRestartCmd(f *Factory) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop containers (if running) and start them again, detached",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := stopTimeout(cmd, timeout)
			if err != nil {
				return err
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			return forEach(f, args, func(n string) error {
				if err := e.StopContainer(cmdContext(cmd), n, t); err != nil {
					return err
				}
				_, err := e.StartDetached(cmdContext(cmd), n)
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

// newPauseCmd is pause or unpause. They run on the host, outside any user
// namespace (see internal/userns/entry_linux.c), and need no storage.
func newPauseCmd(f *Factory, pause bool) *cobra.Command {
	use, short := "pause", "Suspend all processes of running containers"
	if !pause {
		use, short = "unpause", "Resume all processes of paused containers"
	}
	return &cobra.Command{
		Use:         use + " CONTAINER [CONTAINER...]",
		Short:       short,
		Args:        cobra.MinimumNArgs(1),
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return forEach(f, args, func(n string) error {
				if pause {
					return e.PauseContainer(n)
				}
				return e.UnpauseContainer(n)
			})
		},
	}
}

func newKillCmd(f *Factory) *cobra.Command {
	var sigName string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Send a signal (default SIGKILL) to running containers",
		Args:  cobra.MinimumNArgs(1),
		// On the host, like pause: no storage, and the host user may signal
		// every process of its containers (internal/userns/entry_linux.c).
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := spec.ParseSignal(sigName)
			if err != nil {
				return err
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return forEach(f, args, func(n string) error { return e.KillContainer(n, sig) })
		},
	}
	cmd.Flags().StringVarP(&sigName, "signal", "s", "KILL", "signal to send")
	return cmd
}

func newWaitCmd(f *Factory) *cobra.Command {
	var condition string
	cmd := &cobra.Command{
		Use:   "wait [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Block until containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		// On the host, like pause: no storage, and the host user may signal
		// every process of its containers (internal/userns/entry_linux.c).
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cond, err := engine.ParseWaitCondition(condition)
			if err != nil {
				return err
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			var failed error
			for _, n := range args {
				code, err := e.WaitContainer(cmdContext(cmd), n, cond)
				if err != nil {
					fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
					failed = err
					continue
				}
				fmt.Fprintln(f.IO.Out, code)
			}
			if failed != nil {
				return &errdefs.ExitError{Code: errdefs.ExitCode(failed)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&condition, "condition", "not-running", "not-running, next-exit or removed")
	return cmd
}

func newRenameCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2, "a container and its new name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			return e.RenameContainer(args[0], args[1])
		},
	}
}

func newContainerPruneCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(f.IO, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			ids, reclaimed, err := e.PruneContainers()
			printPruned(f.IO.Out, "Deleted Containers:", ids, reclaimed, err)
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

func newContainerExistsCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "exists CONTAINER",
		Short: "Exit 0 if the container exists, 1 if not",
		Args:  exactArgs(1, "a container"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			ok, err := e.ContainerExists(args[0])
			if err != nil {
				return err
			}
			if !ok {
				return &errdefs.ExitError{Code: 1}
			}
			return nil
		},
	}
}

// newContainerCmd is the `cove container` group with Docker's subcommand
// names.
func newContainerCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	ls := newPsCmd(f, nil)
	ls.Use = "ls [OPTIONS]"
	ls.Aliases = []string{"list", "ps"}
	inspect := newInspectCmd(f, nil)
	inspect.Flags().MarkHidden("type")
	inspect.PreRun = func(cmd *cobra.Command, args []string) { cmd.Flags().Set("type", "container") }
	cmd.AddCommand(ls, inspect, newRunCmd(f, nil), newCreateCmd(f, nil), newStartCmd(f, nil), newRmCmd(f, nil),
		newStopCmd(f), newRestartCmd(f), newKillCmd(f), newPauseCmd(f, true), newPauseCmd(f, false), newWaitCmd(f), newRenameCmd(f), newPortCmd(f), newContainerPruneCmd(f), newContainerExistsCmd(f))
	return cmd
}

// stopTimeout reads -t/--time: -1 (the container's or Docker's default)
// unless given.
func stopTimeout(cmd *cobra.Command, seconds int) (time.Duration, error) {
	if !cmd.Flags().Changed("time") {
		return -1, nil
	}
	if seconds < 0 {
		return 0, errdefs.InvalidArgument("--time %d: must not be negative", seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}
