package cli

import (
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/userns"
)

// Annotation keys on commands.
const (
	// annUserns says how a command relates to the user namespace:
	// "none" (never enters it), "optional" (tries, goes on without it);
	// absent means required.
	annUserns = "cove/userns"
)

func newRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "cove",
		Short: "Rootless, daemonless containers with Docker's command line",
		Long: `cove runs containers without root and without a daemon. Every command
does its work and exits; containers are children of a small per-container
monitor. Use it as you would use docker: alias docker=cove.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return f.preRun(cmd)
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = false
	pf := root.PersistentFlags()
	pf.StringVar(&f.Overrides.Root, "root", "", "storage root directory (default: $XDG_DATA_HOME/cove/storage, /var/lib/cove/storage as root)")
	pf.StringVar(&f.Overrides.RunRoot, "runroot", "", "runtime state directory (default: $XDG_RUNTIME_DIR/cove, /run/cove as root)")
	pf.StringVar(&f.Overrides.StorageDriver, "storage-driver", "", "storage driver: overlay or vfs (default: probe)")
	pf.StringVar(&f.Overrides.LogLevel, "log-level", "", "log level: debug, info, warn, error (default warn)")

	root.AddCommand(
		newVersionCmd(f, nil),
		newInfoCmd(f, nil),
		newUnshareCmd(f, nil),
		newImagesCmd(f, "images", nil),
		newImageCmd(f),
		newPullCmd(f, nil),
		newPushCmd(f, nil),
		newInspectCmd(f, nil),
		newTagCmd(f, nil),
		newRmiCmd(f, "rmi", nil),
		newHistoryCmd(f, nil),
		newSaveCmd(f, nil),
		newLoadCmd(f, nil),
		newImportCmd(f, nil),
		newLoginCmd(f, nil),
		newLogoutCmd(f, nil),
		newRunCmd(f, nil),
		newCreateCmd(f, nil),
		newStartCmd(f, nil),
		newRmCmd(f, nil),
		newPsCmd(f, nil),
		newStopCmd(f),
		newRestartCmd(f),
		newPauseCmd(f, true),
		newPauseCmd(f, false),
		newKillCmd(f),
		newWaitCmd(f),
		newRenameCmd(f),
		newPortCmd(f),
		newContainerCmd(f),
		newLogsCmd(f, nil),
		newHealthcheckCmd(f, nil),
		newAttachCmd(f, nil),
		newVolumeCmd(f),
		newNetworkCmd(f),
		newSystemCmd(f),
	)
	addExecCmds(f, root)
	addOpsCmds(f, root)
	addToContainerGroup(root, newAttachCmd(f, nil))
	markNoUserns(root)
	return root
}

// markNoUserns exempts cobra's own commands (help, completion) from the
// user namespace: they must work on any host.
func markNoUserns(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			setUserns(c, "none")
			for _, sub := range c.Commands() {
				setUserns(sub, "none")
			}
		}
	}
}

func setUserns(c *cobra.Command, mode string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[annUserns] = mode
}

// preRun applies the global flags and, for commands that touch storage,
// moves the whole invocation into cove's user namespace.
func (f *Factory) preRun(cmd *cobra.Command) error {
	f.commandPath = cmd.CommandPath()
	level := f.Overrides.LogLevel
	if level == "" {
		level = "warn"
	}
	if err := setLogLevel(level); err != nil {
		return err
	}
	mode := cmd.Annotations[annUserns]
	if err := userns.EntryError(); err != nil {
		// Only commands that can go on without the namespace get here.
		f.reexecErr = err
	}
	if mode == "none" || !userns.Needed() {
		return f.afterNamespace()
	}
	// Load the configuration before re-executing: a broken cove.toml or a
	// bad flag is reported once, by the cheap parent.
	if _, err := f.Config(); err != nil {
		return err
	}
	code, err := userns.Reexec(userns.NewPlan(), f.warn)
	if err != nil {
		if mode == "optional" {
			f.reexecErr = err
			return nil
		}
		return err
	}
	return &reexecDone{code: code}
}

func (f *Factory) afterNamespace() error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if f.Overrides.LogLevel == "" && cfg.LogLevel != "" {
		if err := setLogLevel(cfg.LogLevel); err != nil {
			return err
		}
	}
	if cfg.RunRootFallback != "" {
		logrus.Debugf("run root %s: %s", cfg.RunRoot, cfg.RunRootFallback)
	}
	return nil
}
