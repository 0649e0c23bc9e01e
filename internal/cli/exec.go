package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/userns"
)

// ExecOptions are the options of `cove exec`.
type ExecOptions struct {
	IO          *IOStreams
	Exec        engine.ExecOptions
	Interactive bool
	Container   string
}

func newExecCmd(f *Factory, runF func(*ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container, in all of its namespaces, with its
environment, user, working directory, capabilities, seccomp filter and
no-new-privileges setting; -e, -u and -w override them, --privileged gives the
command every capability and no seccomp filter. The exit code is the
command's: 126 when it cannot be run, 127 when it (or the working directory)
does not exist, 125 for cove's own errors (no such container, not running).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%q requires at least 2 arguments: a container and a command; see '%s --help'", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		// exec joins the container's user namespace, which only its
		// owner on the host may do (see package execproc); the C
		// constructor of internal/userns lists exec among its host
		// commands for the same reason.
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			opts.Exec.Cmd = args[1:]
			if runF != nil {
				return runF(opts)
			}
			return execRun(cmdContext(cmd), f, opts)
		},
	}
	fl := cmd.Flags()
	// Flags after the command belong to the command.
	fl.SetInterspersed(false)
	o := &opts.Exec
	fl.BoolVarP(&o.Detach, "detach", "d", false, "run the command in the background")
	fl.BoolVarP(&opts.Interactive, "interactive", "i", false, "keep stdin open")
	fl.BoolVarP(&o.Tty, "tty", "t", false, "allocate a pseudo-terminal")
	fl.StringVarP(&o.User, "user", "u", "", "user[:group] to run as, by name or number (default: the container's)")
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container, which must exist (default: the container's)")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass the host's value)")
	fl.StringArrayVar(&o.EnvFiles, "env-file", nil, "read environment variables from a file")
	fl.BoolVar(&o.Privileged, "privileged", false, "give the command every capability and no seccomp filter")
	return cmd
}

// addExecCmds adds exec to the root command and, when present, to the
// `container` group.
func addExecCmds(f *Factory, root *cobra.Command) {
	root.AddCommand(newExecCmd(f, nil))
	for _, c := range root.Commands() {
		if c.Name() != "container" {
			continue
		}
		for _, sub := range c.Commands() {
			if sub.Name() == "exec" {
				return
			}
		}
		c.AddCommand(newExecCmd(f, nil))
	}
}

func execRun(ctx context.Context, f *Factory, opts *ExecOptions) error {
	if userns.InNamespace() {
		// A rootless cove in a user namespace of its own is a sibling of
		// the container's and has no privilege to join it.
		return fmt.Errorf("exec must run on the host, outside cove's user namespace: use `cove exec` (`cove container exec` is not yet recognised as a host command): %w", errdefs.ErrUnsupported)
	}
	e, err := f.Engine()
	if err != nil {
		return err
	}
	o := opts.Exec
	var sio engine.ExecIO
	if !o.Detach {
		if opts.Interactive {
			sio.Stdin = hostStream(opts.IO.In)
		}
		sio.Stdout = hostWriter(opts.IO.Out)
		sio.Stderr = hostWriter(opts.IO.ErrOut)
		if o.Tty {
			if out, ok := opts.IO.Out.(*os.File); ok {
				if w, h, err := term.GetSize(int(out.Fd())); err == nil {
					o.Rows, o.Cols = uint16(h), uint16(w)
				}
			}
		}
	}
	// Catch signals before the command starts, so that none is lost
	// between the start and the relay.
	sigs := make(chan os.Signal, 32)
	if !o.Detach {
		signal.Notify(sigs)
		defer signal.Stop(sigs)
	}
	p, err := e.Exec(ctx, opts.Container, o, sio)
	if err != nil {
		return err
	}
	if o.Detach {
		// The joining process exits as soon as the command runs.
		p.Wait()
		return nil
	}
	var restore func()
	if p.Console() != nil {
		restore = attachPTY(opts.IO, p, opts.Interactive)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				ss, ok := sig.(syscall.Signal)
				if !ok || ss == syscall.SIGCHLD || ss == syscall.SIGURG || ss == syscall.SIGPIPE || ss == syscall.SIGWINCH {
					continue
				}
				p.Signal(ss)
			case <-done:
				return
			}
		}
	}()
	code, werr := p.Wait()
	close(done)
	if restore != nil {
		restore()
	}
	if werr != nil && code == 0 {
		return werr
	}
	if code != 0 {
		return &errdefs.ExitError{Code: code}
	}
	return nil
}

// hostStream and hostWriter decide how a stream of ours reaches the
// command: a file is handed over as is (cheap, and EOF behaves), except a
// terminal, which goes through a pipe: a process of the container holding
// the user's terminal could, with CAP_SYS_ADMIN, push input into it
// (TIOCSTI) or change its settings.
func hostStream(r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return struct{ io.Reader }{r}
	}
	return r
}

func hostWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return struct{ io.Writer }{w}
	}
	return w
}

// ptyProcess is a process with a pseudo-terminal of its own; both
// *engine.Running (run -t) and *engine.ExecProcess (exec -t) are one.
type ptyProcess interface {
	Console() *os.File
	Resize(rows, cols uint16) error
}

// attachPTY relays between the user's terminal and the process's: raw mode
// on the user's side when stdin is attached and a terminal, output copied
// to Out, stdin copied when attached, SIGWINCH turned into resizes. The
// returned function, called once the process has exited, drains what is
// left (briefly) and restores the terminal.
func attachPTY(streams *IOStreams, p ptyProcess, stdin bool) func() {
	console := p.Console()
	var oldState *term.State
	inFile, inIsFile := streams.In.(*os.File)
	if stdin && inIsFile && term.IsTerminal(int(inFile.Fd())) {
		oldState, _ = term.MakeRaw(int(inFile.Fd()))
	}
	resize := func() {
		if outFile, ok := streams.Out.(*os.File); ok {
			if w, h, err := term.GetSize(int(outFile.Fd())); err == nil {
				p.Resize(uint16(h), uint16(w))
			}
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			resize()
		}
	}()
	if stdin {
		go io.Copy(console, streams.In)
	}
	outDone := make(chan struct{})
	go func() {
		_, err := io.Copy(streams.Out, console)
		// EIO is how a pty master reports that the last slave is closed.
		if err != nil && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
			fmt.Fprintf(streams.ErrOut, "cove: warning: copying the terminal's output: %v\n", err)
		}
		close(outDone)
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		// The process has exited: drain what it wrote, but do not wait
		// for a terminal some background process still holds open.
		select {
		case <-outDone:
		case <-timeAfter():
		}
		console.Close()
		if oldState != nil {
			term.Restore(int(inFile.Fd()), oldState)
		}
	}
}
