package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
)

// AttachOptions are the options of `cove attach`.
type AttachOptions struct {
	IO         *IOStreams
	Container  string
	DetachKeys string
	NoStdin    bool
	SigProxy   bool
}

func newAttachCmd(f *Factory, runF func(*AttachOptions) error) *cobra.Command {
	opts := &AttachOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach to a running container's input and output",
		Long: `Attach the terminal's standard input, output and error to a detached
container (run -d, start). The detach keys (default ctrl-p,ctrl-q; the
detach_keys key of cove.toml) disconnect and leave the container running,
exit code 0; otherwise attach ends when the container does, with its exit
code. Without a terminal, signals cove receives are relayed to the container
(--sig-proxy). A container running in the foreground of a cove run cannot be
attached: that terminal holds it.`,
		Args: cobra.ExactArgs(1),
		// Attaching is a socket connection and a signal relay: no
		// storage, no namespace.
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			if runF != nil {
				return runF(opts)
			}
			return attachRun(cmdContext(cmd), f, cmd, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.DetachKeys, "detach-keys", "", "override the key sequence for detaching (default ctrl-p,ctrl-q)")
	fl.BoolVar(&opts.NoStdin, "no-stdin", false, "do not attach standard input")
	fl.BoolVar(&opts.SigProxy, "sig-proxy", true, "relay received signals to the container (without a terminal)")
	return cmd
}

// detachKeys resolves --detach-keys: the flag, else cove.toml's
// detach_keys, else Docker's ctrl-p,ctrl-q.
func detachKeys(f *Factory, flag string, changed bool) ([]byte, error) {
	if changed {
		return spec.ParseDetachKeys(flag, "--detach-keys")
	}
	if cfg, err := f.Config(); err == nil && cfg.File.Engine.DetachKeys != "" {
		return spec.ParseDetachKeys(cfg.File.Engine.DetachKeys, "detach_keys in "+cfg.ConfigFile)
	}
	return spec.ParseDetachKeys(spec.DefaultDetachKeys, "--detach-keys")
}

func attachRun(ctx context.Context, f *Factory, cmd *cobra.Command, opts *AttachOptions) error {
	keys, err := detachKeys(f, opts.DetachKeys, cmd.Flags().Changed("detach-keys"))
	if err != nil {
		return err
	}
	e, err := f.Engine()
	if err != nil {
		return err
	}
	a, err := e.Attach(opts.Container)
	if err != nil {
		return err
	}
	return attachSession(e, a, opts.IO, !opts.NoStdin, opts.SigProxy, keys)
}

// attachSession relays between the user's streams and an attached
// container until it exits (its exit code is the error) or the user
// detaches (nil): the terminal in raw mode and its size followed for a -t
// container with stdin attached, signals relayed without a terminal.
func attachSession(e *engine.Engine, a *engine.Attachment, streams *IOStreams, stdin, sigProxy bool, keys []byte) error {
	defer a.Close()
	var in io.Reader
	if stdin && a.OpenStdin {
		in = streams.In
	}
	if a.Tty {
		if inFile, ok := streams.In.(*os.File); ok && in != nil && term.IsTerminal(int(inFile.Fd())) {
			if old, err := term.MakeRaw(int(inFile.Fd())); err == nil {
				defer term.Restore(int(inFile.Fd()), old)
			}
		}
		resize := func() {
			if outFile, ok := streams.Out.(*os.File); ok {
				if w, h, err := term.GetSize(int(outFile.Fd())); err == nil {
					a.Resize(uint16(h), uint16(w))
				}
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				resize()
			}
		}()
	} else if sigProxy {
		// Docker relays signals only without a terminal: with one, ^C
		// is a byte for the container's terminal.
		sigs := make(chan os.Signal, 32)
		signal.Notify(sigs)
		defer signal.Stop(sigs)
		go func() {
			for sig := range sigs {
				ss, ok := sig.(syscall.Signal)
				if !ok || ss == syscall.SIGCHLD || ss == syscall.SIGURG || ss == syscall.SIGPIPE || ss == syscall.SIGWINCH {
					continue
				}
				e.SignalContainer(a.ID, ss)
			}
		}()
	}
	code, err := a.Copy(in, streams.Out, streams.ErrOut, keys)
	if errors.Is(err, engine.ErrDetached) {
		// Docker says nothing on a detach and exits 0.
		return nil
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &errdefs.ExitError{Code: code}
	}
	return nil
}

// startAndAttach is start -a[i]: the container starts under its monitor,
// as a detached one, and this command attaches to it, so that the detach
// keys leave it running as in Docker. The monitor holds the output back
// until the attach (DetachedStart.WaitAttach): nothing is missed. Without
// the C monitor (a build without cgo) the container runs in the
// foreground of this command instead, and cannot be detached.
func startAndAttach(ctx context.Context, f *Factory, e *engine.Engine, ref string, stdin bool, keys []byte) error {
	if !engine.MonitorAvailable {
		return startAttached(ctx, f, e, ref, streamSet{stdin: stdin, stdout: true, stderr: true}, true, false, nil)
	}
	o := engine.DetachedStart{WaitAttach: true}
	if outFile, ok := f.IO.Out.(*os.File); ok {
		if w, h, err := term.GetSize(int(outFile.Fd())); err == nil {
			o.ConsoleRows, o.ConsoleCols = uint16(h), uint16(w)
		}
	}
	if _, err := e.StartDetachedWith(ctx, ref, o); err != nil {
		return err
	}
	a, err := e.Attach(ref)
	if err != nil {
		return err
	}
	return attachSession(e, a, f.IO, stdin, true, keys)
}

// detachableRun says whether a foreground run goes through the monitor
// and attaches (so that the detach keys leave the container running, as
// Docker's `run -it` does): -it from a terminal, no -a. Otherwise this
// cove is the container's parent and the container ends with it, which
// costs no launcher start.
func detachableRun(opts *RunOptions, streams *IOStreams) bool {
	c := opts.Container
	if opts.Detach || len(opts.Attach) > 0 || !c.Tty || !c.OpenStdin || !engine.MonitorAvailable {
		return false
	}
	in, ok := streams.In.(*os.File)
	return ok && term.IsTerminal(int(in.Fd()))
}

// addToContainerGroup adds cmd to the `container` group as well (Docker's
// `container attach`); the top-level command is registered with the rest.
func addToContainerGroup(root, cmd *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "container" {
			c.AddCommand(cmd)
		}
	}
}
