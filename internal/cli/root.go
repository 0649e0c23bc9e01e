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
	root := newBareRootCmd(f)
	for _, c := range topLevelCommands {
		root.AddCommand(c.build(f))
	}
	root.AddCommand(
		newImageCmd(f),
		newContainerCmd(f),
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

// newRootCmdFor is newRootCmd for one invocation: when args start with
// the name of a top-level command that stands alone (run, ps, exec...),
// only that command is built. The whole tree, about a hundred commands
// and their flag sets counting the container/image groups' copies, took
// 0.8 ms of every command's start. Anything else (a flag first, help,
// completion, a group, an unknown name that deserves suggestions) gets the
// whole tree. TestRootForMatchesFullTree keeps both the same.
func newRootCmdFor(f *Factory, args []string) *cobra.Command {
	if len(args) > 0 {
		for _, list := range [][]standaloneCommand{topLevelCommands, alsoInContainerGroup} {
			for _, c := range list {
				if c.name == args[0] {
					root := newBareRootCmd(f)
					root.AddCommand(c.build(f))
					return root
				}
			}
		}
	}
	return newRootCmd(f)
}

type standaloneCommand struct {
	name  string
	build func(*Factory) *cobra.Command
}

// alsoInContainerGroup are root commands that addExecCmds and addOpsCmds
// build for the root and the container group together.
var alsoInContainerGroup = []standaloneCommand{
	{"exec", func(f *Factory) *cobra.Command { return newExecCmd(f, nil) }},
	{"cp", func(f *Factory) *cobra.Command { return newCpCmd(f, nil) }},
	{"diff", newDiffCmd},
	{"export", newExportCmd},
	{"commit", newCommitCmd},
	{"top", newTopCmd},
	{"stats", newStatsCmd},
}

// topLevelCommands are the root's commands that stand alone: neither a
// group nor a copy inside one depends on them being built together.
var topLevelCommands = []standaloneCommand{
	{"version", func(f *Factory) *cobra.Command { return newVersionCmd(f, nil) }},
	{"info", func(f *Factory) *cobra.Command { return newInfoCmd(f, nil) }},
	{"unshare", func(f *Factory) *cobra.Command { return newUnshareCmd(f, nil) }},
	{"images", func(f *Factory) *cobra.Command { return newImagesCmd(f, "images", nil) }},
	{"pull", func(f *Factory) *cobra.Command { return newPullCmd(f, nil) }},
	{"push", func(f *Factory) *cobra.Command { return newPushCmd(f, nil) }},
	{"inspect", func(f *Factory) *cobra.Command { return newInspectCmd(f, nil) }},
	{"tag", func(f *Factory) *cobra.Command { return newTagCmd(f, nil) }},
	{"rmi", func(f *Factory) *cobra.Command { return newRmiCmd(f, "rmi", nil) }},
	{"history", func(f *Factory) *cobra.Command { return newHistoryCmd(f, nil) }},
	{"save", func(f *Factory) *cobra.Command { return newSaveCmd(f, nil) }},
	{"load", func(f *Factory) *cobra.Command { return newLoadCmd(f, nil) }},
	{"import", func(f *Factory) *cobra.Command { return newImportCmd(f, nil) }},
	{"login", func(f *Factory) *cobra.Command { return newLoginCmd(f, nil) }},
	{"logout", func(f *Factory) *cobra.Command { return newLogoutCmd(f, nil) }},
	{"run", func(f *Factory) *cobra.Command { return newRunCmd(f, nil) }},
	{"create", func(f *Factory) *cobra.Command { return newCreateCmd(f, nil) }},
	{"start", func(f *Factory) *cobra.Command { return newStartCmd(f, nil) }},
	{"rm", func(f *Factory) *cobra.Command { return newRmCmd(f, nil) }},
	{"ps", func(f *Factory) *cobra.Command { return newPsCmd(f, nil) }},
	{"stop", func(f *Factory) *cobra.Command { return newStopCmd(f) }},
	{"restart", func(f *Factory) *cobra.Command { return newRestartCmd(f) }},
	{"pause", func(f *Factory) *cobra.Command { return newPauseCmd(f, true) }},
	{"unpause", func(f *Factory) *cobra.Command { return newPauseCmd(f, false) }},
	{"kill", func(f *Factory) *cobra.Command { return newKillCmd(f) }},
	{"wait", func(f *Factory) *cobra.Command { return newWaitCmd(f) }},
	{"rename", func(f *Factory) *cobra.Command { return newRenameCmd(f) }},
	{"port", func(f *Factory) *cobra.Command { return newPortCmd(f) }},
	{"logs", func(f *Factory) *cobra.Command { return newLogsCmd(f, nil) }},
	{"healthcheck", func(f *Factory) *cobra.Command { return newHealthcheckCmd(f, nil) }},
	{"attach", func(f *Factory) *cobra.Command { return newAttachCmd(f, nil) }},
}

// newBareRootCmd is the root command with its global flags and no
// subcommand.
func newBareRootCmd(f *Factory) *cobra.Command {
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
