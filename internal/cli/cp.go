package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/userns"
)

// CpOptions are the options of `cove cp`.
type CpOptions struct {
	IO       *IOStreams
	Src, Dst string
	Archive  bool
	Follow   bool
	Quiet    bool
}

func newCpCmd(f *Factory, runF func(*CpOptions) error) *cobra.Command {
	opts := &CpOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  cove cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files between a container and the host",
		Long: `Copy files or directories between a container and the host, with Docker's
rules: SRC_PATH ending in "/." copies a directory's contents; a file copied to
a directory lands inside it; "-" reads a tar stream from stdin (DEST must be a
directory) or writes one to stdout. Paths in the container are resolved inside
its root: no symlink or ".." leads out of it, and archive entries that would
leave their destination are refused.

A running container is copied from and into as it runs (its volumes and
mounts included). For a stopped one, a path under one of its volumes or
bind mounts is copied to or from that mount's source (the mount point
nearest the path wins; nothing leads out of the source), any other path
through the container's layer. Files copied into a container belong to its
root unless -a keeps the source's owners; files copied out belong to you.`,
		Args: cobra.ExactArgs(2),
		// cp decides on the host which namespace it needs (see
		// internal/userns/entry_linux.c).
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Src, opts.Dst = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return cpRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Archive, "archive", "a", false, "archive mode: keep the owners (uid/gid) of the source")
	fl.BoolVarP(&opts.Follow, "follow-link", "L", false, "follow a symlink named as SRC_PATH")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing when the copy is done")
	return cmd
}

// copyOptions validates the two arguments by Docker's rules.
func (o *CpOptions) copyOptions() (engine.CopyOptions, error) {
	sc, sp := engine.SplitCopyArg(o.Src)
	dc, dp := engine.SplitCopyArg(o.Dst)
	co := engine.CopyOptions{Archive: o.Archive, FollowLink: o.Follow, Stdin: o.IO.In, Stdout: o.IO.Out}
	switch {
	case sc != "" && dc != "":
		return co, errdefs.InvalidArgument("copying between containers is not supported: %s and %s", o.Src, o.Dst)
	case sc == "" && dc == "":
		return co, errdefs.InvalidArgument("one of %q and %q must be CONTAINER:PATH", o.Src, o.Dst)
	case sc != "":
		co.Container, co.ContainerPath, co.HostPath = sc, sp, dp
	default:
		co.Container, co.ContainerPath, co.HostPath, co.ToContainer = dc, dp, sp, true
	}
	if co.ContainerPath == "" {
		return co, errdefs.InvalidArgument("%s: the path in the container is empty", map[bool]string{true: o.Dst, false: o.Src}[co.ToContainer])
	}
	if co.HostPath == "" {
		return co, errdefs.InvalidArgument("the host path is empty")
	}
	return co, nil
}

func cpRun(f *Factory, opts *CpOptions) error {
	co, err := opts.copyOptions()
	if err != nil {
		return err
	}
	if os.Getenv(engine.EnvCopyPid) != "" && !userns.JoinedContainer() && os.Geteuid() != 0 {
		// Re-executed to join a container, but nothing joined it: a
		// build without the C constructor.
		return fmt.Errorf("copying with a running container needs a cove built with cgo: %w", errdefs.ErrUnsupported)
	}
	e, err := f.Engine()
	if err != nil {
		return err
	}
	if forcedWithoutConstructor() {
		return goFallbackReexec(f)
	}
	if !userns.InNamespace() && userns.Needed() {
		// On the host: join a running container, or enter a namespace
		// of our own for a stopped one.
		j, err := e.PrepareCopyJoin(co.Container)
		if err != nil {
			return err
		}
		defer j.Close()
		code, err := reexecCp(j)
		if err != nil {
			return err
		}
		return &reexecDone{code: code}
	}
	co.Warn = f.warn
	res, err := e.Copy(co)
	if err != nil {
		return err
	}
	if co.HostPath != "-" && !opts.Quiet {
		if fe, ok := opts.IO.ErrOut.(*os.File); ok && term.IsTerminal(int(fe.Fd())) {
			fmt.Fprintf(opts.IO.ErrOut, "Successfully copied %s to %s\n", units.HumanSize(float64(res.Bytes)), opts.Dst)
		}
	}
	return nil
}

// reexecCp runs this cp again: in the running container's user namespace
// (descriptors 3 and 4, see engine.CopyJoin), or in a namespace of its own.
func reexecCp(j *engine.CopyJoin) (int, error) {
	if !j.Running {
		return reexecSelf([]string{userns.EnvForce + "=1"}, nil)
	}
	return reexecSelf([]string{userns.EnvJoinFD + "=3", engine.EnvCopyPid + "=" + strconv.Itoa(j.Pid)}, []*os.File{j.UserNS, j.PidFD})
}

// reexecSelf runs this command line again with more environment and
// descriptors (from 3 on) and returns its exit code. argv[0] is "cove" so
// that the C constructor acts whatever the binary is called.
func reexecSelf(env []string, files []*os.File) (int, error) {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = "cove"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	cmd.ExtraFiles = files
	// The child is in our process group and gets the terminal's
	// signals itself; we only wait for it.
	signal.Ignore(os.Interrupt)
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// forcedWithoutConstructor reports whether this process was re-executed
// to enter a namespace of its own (userns.EnvForce) and no C constructor
// did it (a build without cgo): the Go fallback must.
func forcedWithoutConstructor() bool {
	return !userns.InNamespace() && userns.Needed() && os.Getenv(userns.EnvForce) != ""
}

// goFallbackReexec enters the namespace the Go way and returns the
// child's exit as the command's result.
func goFallbackReexec(f *Factory) error {
	code, err := userns.Reexec(userns.NewPlan(), f.warn)
	if err != nil {
		return err
	}
	return &reexecDone{code: code}
}
