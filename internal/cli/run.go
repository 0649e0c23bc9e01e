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
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// RunOptions are the options of `cove run` (and, minus the run-only ones,
// `cove create`).
type RunOptions struct {
	IO         *IOStreams
	Container  engine.ContainerOptions
	Entrypoint string
	Detach     bool
	Attach     []string
	SigProxy   bool
	Cidfile    string
	Quiet      bool
	Replace    bool
	// Networks are the --network values: the first goes to
	// Container.Network, the others to Container.Networks.
	Networks []string
	// DetachKeys is --detach-keys; DetachKeysSet says it was given.
	DetachKeys    string
	DetachKeysSet bool
}

// addContainerFlags binds the flags `create` and `run` share.
func addContainerFlags(fl *pflag.FlagSet, o *RunOptions) {
	c := &o.Container
	fl.SetInterspersed(false)
	// -h is --hostname here, as in Docker; help keeps only its long form.
	fl.Bool("help", false, "show help")
	fl.StringVar(&c.Name, "name", "", "assign a name to the container")
	fl.StringVar(&o.Entrypoint, "entrypoint", "", "overwrite the image's entrypoint (\"\" clears it)")
	fl.StringArrayVarP(&c.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass the host's value)")
	fl.StringArrayVar(&c.EnvFiles, "env-file", nil, "read environment variables from a file")
	fl.StringVarP(&c.Workdir, "workdir", "w", "", "working directory inside the container (created if missing)")
	fl.StringVarP(&c.User, "user", "u", "", "user[:group] to run as, by name or number")
	fl.StringArrayVar(&c.GroupAdd, "group-add", nil, "add a supplementary group")
	fl.StringVarP(&c.Hostname, "hostname", "h", "", "container host name (default: the short container ID)")
	fl.StringArrayVarP(&c.Labels, "label", "l", nil, "set a label (KEY=VALUE)")
	fl.StringArrayVar(&c.LabelFiles, "label-file", nil, "read labels from a file")
	fl.StringArrayVarP(&c.Volumes, "volume", "v", nil, "bind a host path or mount a volume: [HOST-DIR|NAME:]CONTAINER-DIR[:ro|rw,z|Z,U,O,nocopy,PROPAGATION]")
	fl.StringArrayVar(&c.Mounts, "mount", nil, "mount: type=bind|volume|tmpfs,source=...,target=...[,readonly,bind-propagation=,volume-nocopy,volume-opt=KEY=VALUE,tmpfs-size=,tmpfs-mode=]")
	fl.StringVar(&c.Userns, "userns", "", "user namespace: host (default: cove's own) or keep-id[:uid=N,gid=N] (your uid and gid inside, files on binds stay yours)")
	fl.StringArrayVar(&c.UIDMap, "uidmap", nil, "run in a user namespace of its own: CONTAINER:HOST:SIZE, HOST counted in cove's namespace (0 is you)")
	fl.StringArrayVar(&c.GIDMap, "gidmap", nil, "group mapping, as --uidmap")
	fl.StringArrayVar(&c.VolumesFrom, "volumes-from", nil, "mount the volumes and binds of another container: CONTAINER[:ro|rw]")
	fl.StringArrayVar(&c.Tmpfs, "tmpfs", nil, "mount a tmpfs: PATH[:OPTIONS]")
	fl.BoolVar(&c.ReadOnly, "read-only", false, "mount the container's root filesystem read-only")
	fl.BoolVar(&c.Privileged, "privileged", false, "give the container every capability the user namespace allows")
	fl.BoolVar(&c.Init, "init", false, "run cove's reaper as PID 1 (forwards signals, reaps zombies)")
	fl.BoolVarP(&c.Tty, "tty", "t", false, "allocate a pseudo-terminal")
	fl.BoolVarP(&c.OpenStdin, "interactive", "i", false, "keep stdin open")
	fl.BoolVar(&c.AutoRemove, "rm", false, "remove the container when it exits")
	fl.StringArrayVar(&c.CapAdd, "cap-add", nil, "add a capability (or ALL)")
	fl.StringArrayVar(&c.CapDrop, "cap-drop", nil, "drop a capability (or ALL)")
	fl.StringArrayVar(&c.SecurityOpt, "security-opt", nil, "no-new-privileges, seccomp=unconfined|PROFILE.json, label=disable")
	fl.StringArrayVar(&c.Devices, "device", nil, "add a host device: HOST[:CONTAINER[:rwm]]")
	fl.StringArrayVar(&c.Sysctls, "sysctl", nil, "set a namespaced sysctl (KEY=VALUE)")
	fl.StringArrayVar(&c.Ulimits, "ulimit", nil, "set a resource limit: NAME=SOFT[:HARD]")
	fl.StringVar(&c.ShmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	fl.StringVar(&c.StopSignal, "stop-signal", "", "signal that stops the container (default: the image's, else SIGTERM)")
	fl.StringArrayVar(&o.Networks, "network", nil, "network: default (pasta, else slirp4netns), pasta, slirp4netns, none, host, or a user-defined network (repeat for several)")
	fl.StringArrayVar(&c.NetworkAliases, "network-alias", nil, "add a DNS alias for the container on its user-defined networks")
	fl.StringVar(&c.IP, "ip", "", "the container's IPv4 address on its user-defined network")
	fl.StringArrayVarP(&c.Publish, "publish", "p", nil, "publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ports may be ranges")
	fl.BoolVarP(&c.PublishAll, "publish-all", "P", false, "publish every exposed port on a free host port")
	fl.StringArrayVar(&c.Expose, "expose", nil, "expose a port or range (PORT[/tcp|udp]) for -P")
	fl.StringArrayVar(&c.AddHost, "add-host", nil, "add a line to /etc/hosts: NAME:IP (IP may be host-gateway)")
	fl.StringArrayVar(&c.DNS, "dns", nil, "DNS server for the container's resolv.conf")
	fl.StringArrayVar(&c.DNSSearch, "dns-search", nil, "DNS search domain (\".\" for none)")
	fl.StringArrayVar(&c.DNSOption, "dns-option", nil, "resolv.conf option (ndots:2, edns0, ...)")
	fl.StringArrayVar(&o.Networks, "net", nil, "alias of --network")
	fl.MarkHidden("net")
	fl.StringVar(&c.Restart, "restart", "", "restart policy: no, on-failure[:N], always, unless-stopped")
	fl.StringVar(&c.LogDriver, "log-driver", "", "logging driver: json-file (default), k8s-file or none")
	fl.StringArrayVar(&c.LogOpts, "log-opt", nil, "log driver option: max-size=SIZE (10m), max-file=N")
	fl.StringVar(&c.Pull, "pull", "missing", "pull the image: always, missing or never")
	fl.StringVar(&o.Cidfile, "cidfile", "", "write the container ID to this file")
	fl.BoolVar(&o.Replace, "replace", false, "remove (with -f) an existing container of the same --name first")
	fl.BoolVarP(&o.Quiet, "quiet", "q", false, "suppress pull progress")
	addHealthFlags(fl, &c.Health)
}

func newRunCmd(f *Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container.Image = args[0]
			opts.Container.Args = args[1:]
			if cmd.Flags().Changed("entrypoint") {
				opts.Container.Entrypoint = &opts.Entrypoint
			}
			opts.Container.Network, opts.Container.Networks = splitNetworks(opts.Networks)
			opts.DetachKeysSet = cmd.Flags().Changed("detach-keys")
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	addContainerFlags(fl, opts)
	fl.BoolVarP(&opts.Detach, "detach", "d", false, "run in the background and print the container ID")
	fl.StringArrayVarP(&opts.Attach, "attach", "a", nil, "attach to STDIN, STDOUT or STDERR")
	fl.BoolVar(&opts.SigProxy, "sig-proxy", true, "relay received signals to the container")
	fl.StringVar(&opts.DetachKeys, "detach-keys", "", "override the key sequence for detaching a -it container (default ctrl-p,ctrl-q)")
	return cmd
}

func runRun(ctx context.Context, f *Factory, opts *RunOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Detach && len(opts.Attach) > 0 {
		return errdefs.InvalidArgument("conflicting options: -a and -d")
	}
	streams, err := attachStreams(opts.Attach, opts.Container.OpenStdin)
	if err != nil {
		return err
	}
	keys, err := detachKeys(f, opts.DetachKeys, opts.DetachKeysSet)
	if err != nil {
		return err
	}
	opts.Container.ForRun = true
	opts.Container.Detach = opts.Detach
	// Docker's CLI sets StdinOnce when -i attaches stdin: not for -d.
	opts.Container.StdinOnce = opts.Container.OpenStdin && !opts.Detach
	// The network helper starts while the container is created.
	var early *engine.EarlyNetwork
	if !opts.Detach && !detachableRun(opts, f.IO) {
		if e, err := f.Engine(); err == nil {
			early = e.StartNetworkEarly(&opts.Container)
		}
	}
	defer early.Stop()
	e, id, err := createContainer(ctx, f, opts)
	if err != nil {
		return err
	}
	if detachableRun(opts, f.IO) {
		return startAndAttach(ctx, f, e, id, true, keys)
	}
	if opts.Detach {
		// The ID is printed once the container's process runs; a
		// container that cannot start fails here, with 125, 126 or 127.
		// With --rm, its launcher has removed it.
		// This process becomes the container's launcher and monitor once
		// the ID is out (engine.StartDetachedInPlace).
		err := e.StartDetachedInPlace(ctx, id, func() { fmt.Fprintln(opts.IO.Out, id) })
		if err != nil {
			if opts.Container.AutoRemove {
				e.RemoveContainer(id, true)
			}
			return err
		}
		return nil
	}
	return startAttached(ctx, f, e, id, streams, opts.SigProxy, opts.Container.AutoRemove, early)
}

// streamSet says which standard streams a foreground container gets.
type streamSet struct{ stdin, stdout, stderr bool }

func attachStreams(attach []string, interactive bool) (streamSet, error) {
	if len(attach) == 0 {
		return streamSet{stdin: interactive, stdout: true, stderr: true}, nil
	}
	var s streamSet
	for _, a := range attach {
		switch a {
		case "stdin", "STDIN":
			s.stdin = true
		case "stdout", "STDOUT":
			s.stdout = true
		case "stderr", "STDERR":
			s.stderr = true
		default:
			return s, errdefs.InvalidArgument("-a %q: use stdin, stdout or stderr", a)
		}
	}
	return s, nil
}

func checkCidfile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return errdefs.InvalidArgument("--cidfile %s: the file exists already", path)
	}
	return nil
}

func writeCidfile(path, id string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return errdefs.InvalidArgument("--cidfile %s: %v", path, err)
	}
	defer f.Close()
	_, err = f.WriteString(id)
	return err
}

// startAttached starts a container in the foreground, relays signals and
// the terminal, waits, and returns the container's exit code as the error.
func startAttached(ctx context.Context, f *Factory, e *engine.Engine, id string, s streamSet, sigProxy, autoRemove bool, early *engine.EarlyNetwork) error {
	sio := engine.StartIO{Network: early}
	// The terminal's size must be the container's from its first
	// instruction (a program may ask before any resize arrives).
	if outFile, ok := f.IO.Out.(*os.File); ok {
		if w, h, err := term.GetSize(int(outFile.Fd())); err == nil {
			sio.ConsoleRows, sio.ConsoleCols = uint(h), uint(w)
		}
	}
	if s.stdin {
		sio.Stdin = f.IO.In
	}
	if s.stdout {
		sio.Stdout = f.IO.Out
	}
	if s.stderr {
		sio.Stderr = f.IO.ErrOut
	}
	// The container's output is logged (for `cove logs`) as well as
	// shown, streams not attached included; the log's streams flush a
	// last unfinished line when the container's pipe ends.
	logw, lerr := e.OpenLogWriter(id)
	if lerr != nil {
		f.warn(fmt.Sprintf("container %s: not logging its output: %v", engine.ShortID(id), lerr))
	}
	var ttyOut io.Writer = f.IO.Out
	if logw != nil {
		defer logw.Close()
		sio.Stdout = logw.Stream("stdout", sio.Stdout)
		sio.Stderr = logw.Stream("stderr", sio.Stderr)
		ttyOut = logw.Stream("stdout", f.IO.Out)
	}
	// Catch signals before the container starts, so none is lost between
	// the start and the relay.
	//
	// Neither this nor the relay below is undone with signal.Stop: the
	// process exits right after, and stopping a catch-all subscription
	// costs 2 ms (the runtime unblocks each of 65 signals in turn on its
	// signal thread). A signal arriving meanwhile is dropped, which is
	// what this process wants while it removes a --rm container.
	//
	// The usual signals are subscribed here, before the start; every other
	// one (Docker proxies them all) in the background: the runtime enables
	// each signal by a round trip to its signal thread, and all 65 took
	// ~2 ms of every run. One of the rare others arriving in the first
	// milliseconds gets its default action, as before this point.
	sigs := make(chan os.Signal, 32)
	if sigProxy {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		go signal.Notify(sigs)
	}
	// This process is the container's monitor: other cove commands ask
	// it to signal the container (engine.SignalContainer), which they may
	// not do themselves when it runs as a non-root user.
	relay := make(chan os.Signal, 4)
	signal.Notify(relay, engine.RelaySignal)
	run, err := e.StartContainer(ctx, id, sio)
	if err != nil {
		if autoRemove {
			e.RemoveContainer(id, true)
		}
		return err
	}
	e.RecordMonitor(run.ID, os.Getpid())
	// Healthchecks of a foreground container are this process's job too.
	healthCtx, stopHealth := context.WithCancel(context.Background())
	defer stopHealth()
	go run.RunHealthchecks(healthCtx)
	var restore func()
	if run.Tty {
		restore = attachTerminal(f.IO, ttyOut, run, s)
	}
	done := make(chan struct{})
	serve := func() { e.ServeRelay(run.ID, func(sig syscall.Signal) error { return run.Signal(sig) }) }
	serve()
	go func() {
		for {
			select {
			case sig := <-sigs:
				ss, ok := sig.(syscall.Signal)
				if !ok || ss == syscall.SIGCHLD || ss == syscall.SIGURG || ss == syscall.SIGPIPE || ss == syscall.SIGWINCH || ss == engine.RelaySignal {
					continue
				}
				run.Signal(ss)
			case <-relay:
				serve()
			case <-done:
				return
			}
		}
	}()
	code, werr := run.Wait()
	defer run.Close()
	stopHealth()
	close(done)
	if restore != nil {
		restore()
	}
	if autoRemove {
		if err := run.RemoveAfterExit(); err != nil {
			f.warn(fmt.Sprintf("removing container %s: %v", engine.ShortID(id), err))
		}
	}
	if werr != nil && code == 0 {
		return werr
	}
	if code != 0 {
		return &errdefs.ExitError{Code: code}
	}
	return nil
}

// attachTerminal puts the user's terminal in raw mode and copies between
// it and the container's console; the returned function restores it.
func attachTerminal(streams *IOStreams, out io.Writer, run *engine.Running, s streamSet) func() {
	console := run.Console()
	if console == nil {
		return nil
	}
	var oldState *term.State
	inFile, inIsFile := streams.In.(*os.File)
	if inIsFile && term.IsTerminal(int(inFile.Fd())) {
		oldState, _ = term.MakeRaw(int(inFile.Fd()))
	}
	resize := func() {
		if outFile, ok := streams.Out.(*os.File); ok {
			if w, h, err := term.GetSize(int(outFile.Fd())); err == nil {
				run.Resize(uint16(h), uint16(w))
			}
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			resize()
		}
	}()
	if s.stdin {
		go io.Copy(console, streams.In)
	}
	outDone := make(chan struct{})
	go func() {
		io.Copy(out, console)
		close(outDone)
	}()
	return func() {
		signal.Stop(winch)
		// The container has exited: drain what it wrote, but do not wait
		// for a console some grandchild still holds open.
		select {
		case <-outDone:
		case <-timeAfter():
		}
		if oldState != nil {
			term.Restore(int(inFile.Fd()), oldState)
		}
	}
}

var errNotRunning = errors.New("not running")

// replaceExisting implements --replace: the container that holds --name
// goes first, running or not.
func replaceExisting(e *engine.Engine, opts *RunOptions) error {
	if !opts.Replace {
		return nil
	}
	if opts.Container.Name == "" {
		return errdefs.InvalidArgument("--replace needs --name")
	}
	// Bad input must not cost the user the old container.
	if err := engine.ValidateContainerOptions(opts.Container); err != nil {
		return err
	}
	if _, err := e.RemoveContainer(opts.Container.Name, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return nil
}

// createContainer is what create and run share: --cidfile checks, the
// store, pull progress, --replace, the container itself, and its cidfile
// (a failure there removes the container again).
func createContainer(ctx context.Context, f *Factory, opts *RunOptions) (*engine.Engine, string, error) {
	if err := checkCidfile(opts.Cidfile); err != nil {
		return nil, "", err
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return nil, "", err
	}
	var progress io.Writer = opts.IO.ErrOut
	if opts.Quiet {
		progress = nil
	}
	if err := replaceExisting(e, opts); err != nil {
		return nil, "", err
	}
	id, err := e.CreateContainer(ctx, opts.Container, progress)
	if err != nil {
		return nil, "", err
	}
	if err := writeCidfile(opts.Cidfile, id); err != nil {
		e.RemoveContainer(id, true)
		return nil, "", err
	}
	return e, id, nil
}

// splitNetworks spreads repeated --network values over the record's
// Network (the first, as Docker's NetworkMode) and Networks (the rest).
func splitNetworks(vals []string) (string, []string) {
	if len(vals) == 0 {
		return "", nil
	}
	return vals[0], vals[1:]
}
