package cli

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/errdefs"
)

// UnshareOptions are the options of `cove unshare`.
type UnshareOptions struct {
	IO      *IOStreams
	Command []string
}

func newUnshareCmd(f *Factory, runF func(*UnshareOptions) error) *cobra.Command {
	opts := &UnshareOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "unshare [COMMAND [ARG...]]",
		Short: "Run a command inside cove's user namespace",
		Long: `Run a command (default: your shell) inside the user namespace cove uses,
as root of that namespace with your subordinate IDs mapped. Use it to read or
remove files owned by subordinate IDs, e.g. cove unshare rm -rf DIR.
CONTAINERS_GRAPHROOT and CONTAINERS_RUNROOT point at cove's store.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Command = args
			if runF != nil {
				return runF(opts)
			}
			return unshareRun(f, opts)
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func unshareRun(f *Factory, opts *UnshareOptions) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	argv := opts.Command
	if len(argv) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return &errdefs.ExitError{Code: errdefs.ExitNotFound, Err: fmt.Errorf("%s: command not found", argv[0])}
	}
	env := append(os.Environ(), "CONTAINERS_GRAPHROOT="+cfg.GraphRoot, "CONTAINERS_RUNROOT="+cfg.RunRoot)
	err = syscall.Exec(path, argv, env)
	return &errdefs.ExitError{Code: errdefs.ExitCannotInvoke, Err: fmt.Errorf("%s: %w", path, err)}
}
