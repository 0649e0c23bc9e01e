package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/userns"
)

func newSystemCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage cove itself",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newSystemMigrateCmd(f, nil))
	return cmd
}

// SystemMigrateOptions are the options of `cove system migrate`.
type SystemMigrateOptions struct {
	IO *IOStreams
}

func newSystemMigrateCmd(f *Factory, runF func(*SystemMigrateOptions) error) *cobra.Command {
	opts := &SystemMigrateOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "migrate",
		Short: "Start a new user namespace, e.g. after changing /etc/subuid",
		Long: `Rootless cove commands share one user namespace per user, kept alive by a
small process ("cove-userns", PID in $XDG_RUNTIME_DIR/cove/userns.pid). migrate
stops that process, so that the next command creates a new namespace with the
subordinate ID ranges now in /etc/subuid and /etc/subgid. Running containers
keep the namespace they started in until they stop.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return systemMigrateRun(opts)
		},
	}
}

func systemMigrateRun(opts *SystemMigrateOptions) error {
	if os.Geteuid() == 0 {
		// Root uses no user namespace, so there is nothing to migrate.
		return nil
	}
	pid, err := userns.RetireKeeper(userns.KeeperDir(os.Getuid()))
	if err != nil {
		return err
	}
	if pid != 0 {
		fmt.Fprintf(opts.IO.ErrOut, "stopped the user namespace keeper (PID %d); the next command creates a new namespace\n", pid)
	}
	return nil
}
