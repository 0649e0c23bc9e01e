package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/userns"
)

func newDiffCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "List the changes to files and directories in a container's file system",
		Long: `List what the container changed in its image's file system, one line per
path: A added, C changed, D deleted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			changes, err := e.DiffContainer(args[0])
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f.IO.Out)
			for _, c := range changes {
				fmt.Fprintf(w, "%s %s\n", c.Kind, c.Path)
			}
			return w.Flush()
		},
	}
}

func newExportCmd(f *Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's file system as a tar archive",
		Long: `Write the container's file system (its image plus its changes, without
volumes) as a tar archive to stdout or to a file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminalWriter(f.IO.Out) {
				return errdefs.InvalidArgument("cowardly refusing to write an archive to a terminal: use -o FILE or redirect stdout")
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			if output == "" {
				w := bufio.NewWriterSize(f.IO.Out, 1<<16)
				if err := e.ExportContainer(args[0], w); err != nil {
					return err
				}
				return w.Flush()
			}
			// Next to the target, then renamed: a failed export leaves
			// no truncated archive under the requested name.
			tmp := filepath.Join(filepath.Dir(output), "."+filepath.Base(output)+".cove-tmp")
			out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return errdefs.InvalidArgument("-o %s: %v", output, err)
			}
			w := bufio.NewWriterSize(out, 1<<16)
			err = e.ExportContainer(args[0], w)
			if err == nil {
				err = w.Flush()
			}
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			return os.Rename(tmp, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
	return cmd
}

func newCommitCmd(f *Factory) *cobra.Command {
	var o engine.CommitOptions
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Long: `Create an image from the container's image plus the container's changes,
with the container's configuration (command, environment, user, working
directory, labels) and the --change instructions. Prints the new image's ID.
--pause (the default) stops the container's processes during the commit
where cove may (those running as the container's root).`,
		Args: cobra.RangeArgs(1, 2),
		// commit pauses the container from the host side (see
		// commitRun) and does the rest in a namespace of its own.
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Container = args[0]
			if len(args) == 2 {
				o.Ref = args[1]
			}
			return commitRun(cmd, f, o, pause)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Author, "author", "a", "", `author (e.g. "Jane Doe <jane@example.com>")`)
	fl.StringArrayVarP(&o.Changes, "change", "c", nil, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL)")
	fl.StringVarP(&o.Message, "message", "m", "", "commit message recorded in the history")
	fl.BoolVarP(&pause, "pause", "p", true, "pause the container during the commit")
	return cmd
}

// commitRun pauses a running container (-p) where that works for all its
// processes, on the host side or as real root: from cove's own namespace,
// a sibling of the container's, processes of the container's other users
// could not be stopped. The pause is recorded (state paused), so a commit
// killed half-way leaves a container that `cove unpause` resumes. The
// commit itself needs storage: rootless, it is re-executed in a namespace
// of its own.
func commitRun(cmd *cobra.Command, f *Factory, o engine.CommitOptions, pause bool) error {
	if forcedWithoutConstructor() {
		return goFallbackReexec(f)
	}
	onHost := !userns.InNamespace()
	if onHost && pause {
		e, err := f.Engine()
		if err != nil {
			return err
		}
		resume, err := e.PauseForCommit(o.Container)
		if err != nil {
			return err
		}
		defer resume()
	}
	if onHost && userns.Needed() {
		code, err := reexecSelf([]string{userns.EnvForce + "=1"}, nil)
		if err != nil {
			return err
		}
		return &reexecDone{code: code}
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	id, err := e.CommitContainer(cmdContext(cmd), o)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "sha256:%s\n", id)
	return nil
}

// psSize is ps's SIZE column, as Docker prints it: the container layer's
// size and, in parentheses, the whole file system's with the image.
func psSize(e *engine.Engine, id string) string {
	rw, rootFs, err := e.ContainerSize(id)
	if err != nil {
		return "-"
	}
	s := units.HumanSizeWithPrecision(float64(rw), 3)
	if rootFs > 0 {
		s += " (virtual " + units.HumanSizeWithPrecision(float64(rootFs), 3) + ")"
	}
	return s
}
