package engine

// Detached containers: the launcher (this file, Go) and the monitor
// (internal/monitor, C) take turns in one process per container.
//
//	cove run -d                        StartDetachedInPlace: is the launcher
//	                                   itself (below), detaching from the
//	                                   constructor's parent once started
//	cove start                         StartDetached: spawns the launcher with
//	  (CLI, in cove's user namespace)  argv[0] "cove-launch", setsid, stdio
//	                                   /dev/null, fd 3 a sync pipe; waits for
//	                                   "started" or "error CODE MESSAGE"
//	cove-launch ID                     LaunchMain: starts the container (its
//	                                   parent), records it running with
//	                                   MonitorPid = its own PID, says "started",
//	                                   then execve's into the monitor
//	cove-monitor --pid ... (C)         logs, relays signals, waits; on exit writes
//	                                   DIR/exit and execve's back:
//	cove-launch --exited N ... ID      records the exit, applies the restart
//	                                   policy (back-off, then start again and exec
//	                                   the monitor again) or removes the container
//	                                   (--rm), and exits
//
// The container is cloned from this process's main thread (init locks the
// main goroutine to it), and execve keeps the main thread: the container's
// parent-death signal (SIGKILL) therefore fires when, and only when, the
// monitor dies. See the top of internal/monitor/monitor_linux.c.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/config"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/userns"
	"github.com/cove-run/cove/pkg/flock"
)

// Roles of the cove binary for detached containers.
const (
	LaunchRole  = "cove-launch"
	MonitorRole = "cove-monitor"
)

// MonitorAvailable says whether this binary has the C monitor (it needs
// cgo); cmd/cove sets it from package monitor.
var MonitorAvailable bool

const (
	// envLaunchConfig carries the CLI's resolved configuration (JSON of
	// config.Config) to the launcher, and through the monitor's execve
	// back to it: the launcher must use the same roots as the CLI that
	// created the container, whatever flags that CLI had.
	envLaunchConfig = "_COVE_LAUNCH_CONFIG"
	// launchSyncFD is the pipe on which a fresh launcher reports to the
	// CLI: "started\n", or "error CODE MESSAGE\n".
	launchSyncFD = 3
	// Restart back-off, Docker's: 100 ms, doubled after each restart of
	// a container that ran less than 10 s, at most a minute.
	backoffStart = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// init pins the main goroutine to the main thread in a launcher, before
// main runs: runtime.Start must clone the container from the thread-group
// leader (the thread that execve keeps), or the parent-death signal would
// fire when the cloning thread dies, which execve makes every other thread
// do.
//
// The CLI's main goroutine is pinned too: `run -d` launches its container
// in place (StartDetachedInPlace) and becomes the launcher.
func init() {
	if len(os.Args) == 0 {
		return
	}
	if name := filepath.Base(os.Args[0]); os.Args[0] == LaunchRole || name == "cove" || name == "docker" {
		goruntime.LockOSThread()
	}
}

// StartDetached starts a created or exited container under a monitor and
// returns once its process runs, or with the error that kept it from
// starting (an *errdefs.ExitError with 125, 126 or 127). Starting a
// running container does nothing.
func (e *Engine) StartDetached(ctx context.Context, ref string) (string, error) {
	return e.StartDetachedWith(ctx, ref, DetachedStart{})
}

// DetachedStart are the options of a detached start that a client will
// attach to at once (start -a).
type DetachedStart struct {
	// WaitAttach makes the monitor hold the container's output until the
	// first attach client connects (at most attachStartWait), so that
	// nothing printed before the attach is missed.
	WaitAttach bool
	// ConsoleRows and ConsoleCols size a -t container's terminal from its
	// first instruction.
	ConsoleRows, ConsoleCols uint16
}

// StartDetachedWith is StartDetached with options.
func (e *Engine) StartDetachedWith(ctx context.Context, ref string, o DetachedStart) (string, error) {
	stores, err := e.States()
	if err != nil {
		return "", err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return "", err
	}
	// settled: a run that just ended is recorded as such first, so that
	// it is started again rather than taken for running.
	c, err := e.settled(id)
	if err != nil {
		return "", err
	}
	switch c.State.Status {
	case state.Running, state.Paused, state.Restarting:
		return id, nil
	}
	if !MonitorAvailable {
		return "", fmt.Errorf("detached containers need cove's C monitor, and this cove was built without cgo; run in the foreground: %w", errdefs.ErrUnsupported)
	}
	cfg, err := json.Marshal(e.Config)
	if err != nil {
		return "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	args := []string{LaunchRole}
	if o.WaitAttach {
		args = append(args, "--attach-wait")
	}
	if o.ConsoleRows > 0 && o.ConsoleCols > 0 {
		args = append(args, "--console-size", fmt.Sprintf("%d,%d", o.ConsoleRows, o.ConsoleCols))
	}
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: append(args, id),
		Env:  append(os.Environ(), envLaunchConfig+"="+string(cfg)),
		// Not the CLI's directory: the monitor lives on and must not
		// keep a user's directory (or a mount under it) busy.
		Dir:        "/",
		ExtraFiles: []*os.File{w},
		// Own session: no controlling terminal, out of the CLI's process
		// group, so ^C and a closed terminal leave it alone. stdio is
		// /dev/null (nil).
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return "", fmt.Errorf("starting the launcher of container %s: %w", c.Name, err)
	}
	w.Close()
	// The launcher closes its end after reporting (and execve would close
	// it anyway): read to EOF.
	msg, _ := io.ReadAll(io.LimitReader(r, 1<<16))
	r.Close()
	line := strings.TrimSpace(string(msg))
	if line == "started" {
		// It lives on as the monitor; this CLI is not its keeper.
		cmd.Process.Release()
		return id, nil
	}
	werr := cmd.Wait()
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		codeStr, text, _ := strings.Cut(rest, " ")
		code, err := strconv.Atoi(codeStr)
		if err != nil || code <= 0 {
			code = errdefs.ExitCove
		}
		return id, &errdefs.ExitError{Code: code, Err: errors.New(text)}
	}
	return id, fmt.Errorf("container %s: its launcher ended without starting it (%v)", c.Name, werr)
}

// errNotInPlace: this process cannot become the launcher (see
// StartDetachedInPlace); the caller starts one.
var errNotInPlace = errors.New("cannot launch in place")

// StartDetachedInPlace is StartDetached with this process, the CLI, as the
// launcher: it starts the container, calls started (which prints the ID),
// ends the wait of the user's shell with exit code 0 and becomes the
// container's monitor. It never returns once the container has started.
// Spawning a launcher instead cost a fork, an exec and a second Go start
// (~8 ms of every `run -d`, more on a loaded machine). On an error the
// container did not start (an *errdefs.ExitError with 125, 126 or 127, as
// from StartDetached); where this process cannot become the launcher (no
// C constructor to detach from, not on the main thread, no C monitor) it
// starts one as StartDetached does.
func (e *Engine) StartDetachedInPlace(ctx context.Context, id string, started func()) error {
	if !MonitorAvailable || !userns.CanDetach() {
		_, err := e.StartDetached(ctx, id)
		if err == nil {
			started()
		}
		return err
	}
	cfg, err := json.Marshal(e.Config)
	if err != nil {
		return err
	}
	stores, err := e.States()
	if err != nil {
		return err
	}
	// The launcher's environment, kept through the execs into the monitor
	// and back (see envLaunchConfig).
	os.Setenv(envLaunchConfig, string(cfg))
	// As LaunchMain: orphans of the container come to us, and the relay
	// signal must not kill us before the monitor takes it over. Nor may
	// anything else, once the container runs with us as its parent: a
	// caller that closed our stdout (`cove run -d ... | true`) would make
	// the ID's write raise SIGPIPE, and the terminal's ^C or hang-up (the
	// constructor's parent relays them) would end us and, through its
	// parent-death signal, the container. The launcher was safe in a
	// session of its own; so are we (Setsid, before the start, as the
	// launcher), and these signals are taken and dropped: a write then
	// fails with EPIPE instead. Handled, not ignored: the execve into the
	// monitor resets handlers to the default, while an ignored signal
	// would stay ignored in the monitor and its probes.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	unix.Setsid()
	relay := make(chan os.Signal, 8)
	signal.Notify(relay, RelaySignal, syscall.SIGPIPE, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for range relay {
		}
	}()
	l := &launcher{e: e, id: id, dir: stores.Dir(id), stores: stores}
	phase("start: launching in place")
	if err := l.start(true); err != nil {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
		return err
	}
	started()
	// From here on this process is the container's monitor: away from the
	// user's directory and streams (a shell's $(...) reads until every
	// holder of its pipe is gone), with nothing inherited from the caller
	// crossing the execve (execMonitor reopens what the monitor needs).
	os.Chdir("/")
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			unix.Dup3(int(null.Fd()), fd, 0)
		}
		null.Close()
	}
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err := userns.Detach(0); err != nil {
		// The caller waits for us to exit: the monitor must not be us.
		// Stop the container; its state says why.
		l.proc.Signal(syscall.SIGKILL)
		l.proc.Wait()
		os.Exit(errdefs.ExitCove)
	}
	os.Exit(l.execMonitor())
	return nil
}

// launcher is one cove-launch process.
type launcher struct {
	e      *Engine
	id     string
	dir    string
	stores *state.Store

	// The running container, between start and execMonitor.
	proc   *runtime.Process
	pid    int
	logCfg LogConfig
	health *spec.Healthcheck
	// attachWait and consoleRows/Cols: the first run's DetachedStart.
	attachWait               bool
	consoleRows, consoleCols uint
	files                    []*os.File // kept reachable: a collected *os.File closes its fd
	fds                      map[string]int
	backoff                  time.Duration
}

// LaunchMain is the entry point of the launcher role.
func LaunchMain() int {
	var (
		fresh     = true
		code      int
		exitedPid int
		finished  time.Time
		backoff   time.Duration
		id        string
		first     DetachedStart
	)
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a {
		case "--exited":
			fresh = false
			code, _ = strconv.Atoi(val())
		case "--signaled":
			fresh = false
			n, _ := strconv.Atoi(val())
			code = 128 + n
		case "--pid":
			exitedPid, _ = strconv.Atoi(val())
		case "--finished":
			finished = parseUnixTime(val())
		case "--backoff":
			ms, _ := strconv.Atoi(val())
			backoff = time.Duration(ms) * time.Millisecond
		case "--attach-wait":
			first.WaitAttach = true
		case "--console-size":
			r, c, _ := strings.Cut(val(), ",")
			rows, _ := strconv.ParseUint(r, 10, 16)
			cols, _ := strconv.ParseUint(c, 10, 16)
			first.ConsoleRows, first.ConsoleCols = uint16(rows), uint16(cols)
		default:
			id = a
		}
	}
	var sync *os.File
	if fresh {
		// Close-on-exec: neither the container nor the monitor may keep
		// the CLI waiting on this pipe.
		unix.CloseOnExec(launchSyncFD)
		sync = os.NewFile(launchSyncFD, "sync")
	}
	report := func(err error) int {
		code := errdefs.ExitCode(err)
		if code == 0 {
			code = errdefs.ExitCove
		}
		if sync != nil {
			fmt.Fprintf(sync, "error %d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
			sync.Close()
		}
		return code
	}
	if id == "" {
		return report(errors.New("cove-launch: no container ID"))
	}
	var cfg config.Config
	if err := json.Unmarshal([]byte(os.Getenv(envLaunchConfig)), &cfg); err != nil {
		return report(fmt.Errorf("cove-launch: no configuration from the CLI (%s): %v", envLaunchConfig, err))
	}
	e := New(&cfg)
	stores, err := e.States()
	if err != nil {
		return report(err)
	}
	l := &launcher{e: e, id: id, dir: stores.Dir(id), stores: stores, backoff: backoff,
		attachWait: first.WaitAttach, consoleRows: uint(first.ConsoleRows), consoleCols: uint(first.ConsoleCols)}
	os.Chdir("/")
	// Orphans of a container without its own pid namespace come to us
	// rather than to the host's init; the monitor reaps them. The
	// setting survives execve.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	// The relay signal's default action is to terminate: take it over
	// (and drop it) while in Go. The request files it announces stay for
	// the monitor, which scans them when it starts. Handled rather than
	// ignored, so that the container's init (forked by Go, which resets
	// handled signals to the default) does not inherit SIG_IGN.
	relay := make(chan os.Signal, 8)
	signal.Notify(relay, RelaySignal)
	go func() {
		for range relay {
		}
	}()

	if fresh {
		if err := l.start(true); err != nil {
			if rec := l.record(); rec != nil && rec.Options.AutoRemove {
				e.RemoveContainer(id, true)
			}
			return report(err)
		}
		sync.WriteString("started\n")
		sync.Close()
		return l.execMonitor()
	}
	return l.afterExit(exitedPid, code, finished)
}

func parseUnixTime(s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Now().UTC()
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		ns, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(secs, ns).UTC()
}

func (l *launcher) record() *containerRecord {
	c, err := l.stores.Get(l.id)
	if err != nil {
		return nil
	}
	rec, err := readRecord(c)
	if err != nil {
		return nil
	}
	return rec
}

// start starts the container (fresh: a user's run or start; otherwise a
// restart by the policy) with pipes for its output, and records it running
// with this process as its monitor.
func (l *launcher) start(fresh bool) error {
	// Two launchers for one container (two concurrent `start`s) must not
	// both start it: the second waits here, then finds it running.
	unlock, err := flock.Exclusive(filepath.Join(l.dir, "start.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	l.e.startLockHeld.Store(l.id)
	defer l.e.startLockHeld.Store("")
	c, err := l.e.reconciled(l.id)
	if err != nil {
		return err
	}
	switch {
	case fresh && (c.State.Status == state.Running || c.State.Status == state.Paused || c.State.Status == state.Restarting):
		return fmt.Errorf("container %s is already running: %w", c.Name, errdefs.ErrInvalidState)
	case !fresh && c.State.Status != state.Restarting:
		return fmt.Errorf("container %s: no longer restarting (%s): %w", c.Name, c.State.Status, errdefs.ErrInvalidState)
	case c.State.Status == state.Removing || c.State.Status == state.Dead:
		return fmt.Errorf("container %s is being removed: %w", c.Name, errdefs.ErrInvalidState)
	}
	rec, err := readRecord(c)
	if err != nil {
		return err
	}
	if l.logCfg, err = logConfigOf(rec); err != nil {
		return err
	}
	l.health = rec.Parsed.Healthcheck
	// Requests and an exit left from an earlier run are not for this one.
	relayDir := filepath.Join(l.dir, relayDirName)
	os.RemoveAll(relayDir)
	os.Remove(filepath.Join(l.dir, relayFileName))
	if err := os.Mkdir(relayDir, 0o700); err != nil {
		return err
	}
	os.Remove(filepath.Join(l.dir, exitFileName))

	failed := func(err error) error {
		code := errdefs.ExitCode(err)
		l.stores.SetState(l.id, func(s *state.State) error {
			s.Status = state.Exited
			s.ExitCode = code
			s.Error = err.Error()
			s.FinishedAt = time.Now().UTC()
			s.Pid, s.PidStart, s.MonitorPid = 0, 0, 0
			return nil
		})
		return err
	}
	rootfs, err := l.e.mountRootfs(c, rec)
	if err != nil {
		return failed(err)
	}
	sp, err := l.e.specFor(c, rec, rootfs)
	if err != nil {
		return failed(err)
	}
	if sp.Process != nil && sp.Process.Terminal && l.consoleRows > 0 && l.consoleCols > 0 {
		sp.Process.ConsoleSize = &specs.Box{Height: l.consoleRows, Width: l.consoleCols}
	}
	opts := runtime.Options{Spec: sp}
	// The helper is this process's child, started from the main thread
	// (see init), so its parent-death signal fires with the monitor.
	net, err := l.e.networkFor(c, rec, &opts, nil)
	if err != nil {
		return failed(err)
	}
	// childEnds go to the container; the other ends are kept for the
	// monitor, by the name of its flag.
	var childEnds []*os.File
	l.files, l.fds = nil, map[string]int{}
	keep := func(flag string, f *os.File) {
		l.files = append(l.files, f)
		l.fds[flag] = int(f.Fd())
	}
	closeAll := func() {
		for _, f := range append(childEnds, l.files...) {
			f.Close()
		}
		l.files = nil
	}
	if sp.Process == nil || !sp.Process.Terminal {
		for _, flag := range []string{"--stdout", "--stderr", "--stdin"} {
			if flag == "--stdin" && !rec.Options.OpenStdin {
				continue
			}
			r, w, err := os.Pipe()
			if err != nil {
				closeAll()
				return failed(err)
			}
			ours, theirs := r, w
			switch flag {
			case "--stdout":
				opts.Stdout = w
			case "--stderr":
				opts.Stderr = w
			case "--stdin":
				opts.Stdin = r
				ours, theirs = w, r
			}
			childEnds = append(childEnds, theirs)
			keep(flag, ours)
		}
	}
	proc, err := runtime.Start(context.Background(), opts)
	// The container has its ends now (or never will): ours must go, or
	// the monitor would never see EOF on its output.
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		net.stop()
		closeAll()
		return failed(err)
	}
	if con := proc.Console(); con != nil {
		keep("--console", con)
		if rec.Options.OpenStdin {
			l.fds["--stdin"] = int(con.Fd())
		}
	}
	l.proc = proc
	l.pid = proc.Pid()
	err = l.stores.SetState(l.id, func(s *state.State) error {
		s.Status = state.Running
		s.Pid = l.pid
		s.PidStart = pidStartTime(l.pid)
		s.BootID = bootID()
		s.MonitorPid = os.Getpid()
		s.MonitorStart = pidStartTime(s.MonitorPid)
		if rec.Options.AutoRemove {
			// The launcher keeps its PID and start time through its
			// execs into the monitor and back.
			s.Remover = selfProcess()
		}
		s.ExitCode = 0
		s.Error = ""
		s.StartedAt = time.Now().UTC()
		s.FinishedAt = time.Time{}
		s.Health = healthOnStart(s.Health, rec)
		if fresh {
			// A user's start: the restart count and a user's stop are
			// history (Docker resets both).
			s.RestartCount = 0
			s.StoppedByUser = false
		} else {
			s.RestartCount++
		}
		return nil
	})
	if err != nil {
		// Removed meanwhile (rm -f of a restarting container): nobody
		// wants it.
		proc.Signal(syscall.SIGKILL)
		proc.Wait()
		net.stop()
		closeAll()
		return err
	}
	return nil
}

// execMonitor replaces this process with the C monitor, keeping the PID
// (and so the container's parent). It returns only if the execve failed.
func (l *launcher) execMonitor() int {
	argv := []string{MonitorRole,
		"--id", l.id,
		"--dir", l.dir,
		"--pid", strconv.Itoa(l.pid),
		"--log-driver", l.logCfg.Driver,
		"--log-path", filepath.Join(l.dir, logFileName),
		"--log-max-size", strconv.FormatInt(l.logCfg.MaxSize, 10),
		"--log-max-file", strconv.Itoa(l.logCfg.MaxFile),
		"--backoff", strconv.FormatInt(int64(l.backoff/time.Millisecond), 10),
	}
	argv = append(argv, healthSchedule(l.health)...)
	if l.attachWait {
		// Only the first run: the launcher that a restart goes through
		// is not given --attach-wait; nobody waits to attach then.
		argv = append(argv, "--attach-wait", strconv.FormatInt(int64(attachStartWait/time.Millisecond), 10))
	}
	for name, fd := range l.fds {
		// Go opens everything close-on-exec; these must cross.
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		argv = append(argv, name, strconv.Itoa(fd))
	}
	// SIG_IGN, not Go's handler, across the execve: the monitor blocks
	// the signal and restores the default in its first instructions, and
	// until then one arriving must not kill it.
	signal.Ignore(RelaySignal)
	err := syscall.Exec("/proc/self/exe", argv, os.Environ())
	goruntime.KeepAlive(l.files)
	// Nobody would log or wait for the container: stop it.
	signal.Reset(RelaySignal)
	l.proc.Signal(syscall.SIGKILL)
	code, _ := l.proc.Wait()
	stopOwnNetwork(l.dir)
	l.stores.SetState(l.id, func(s *state.State) error {
		s.Status = state.Exited
		s.ExitCode = code
		s.Error = fmt.Sprintf("starting the container's monitor: %v", err)
		s.FinishedAt = time.Now().UTC()
		s.Pid, s.PidStart, s.MonitorPid = 0, 0, 0
		return nil
	})
	return errdefs.ExitCove
}

// afterExit is the launcher exec'd by the monitor once the container
// exited: record the exit, then restart, remove (--rm) or just end.
func (l *launcher) afterExit(pid, code int, finished time.Time) int {
	if finished.IsZero() {
		finished = time.Now().UTC()
	}
	c, err := l.stores.Get(l.id)
	if err != nil {
		// Removed (rm -f) while it ran: nothing to record.
		return 0
	}
	rec, err := readRecord(c)
	if err != nil {
		return errdefs.ExitCove
	}
	restart := false
	errSkip := errors.New("skip")
	err = l.stores.SetState(l.id, func(s *state.State) error {
		if s.Status == state.Removing || s.Status == state.Dead {
			return errSkip
		}
		// Started again by someone else meanwhile (after a cove command
		// saw the process gone): that run is not ours to record.
		if s.Pid != 0 && s.Pid != pid && alive(s) {
			return errSkip
		}
		// Running, or exited already if a cove command saw the process
		// gone before we got here (then MonitorPid is still us).
		ours := s.Status == state.Running || s.Status == state.Exited && s.MonitorPid == os.Getpid()
		restart = ours && shouldRestart(rec.Parsed.Restart, code, s)
		if restart {
			s.Status = state.Restarting
			s.MonitorPid = os.Getpid()
		} else {
			s.Status = state.Exited
			s.MonitorPid = 0
		}
		s.ExitCode = code
		s.Error = ""
		s.FinishedAt = finished
		s.Pid, s.PidStart = 0, 0
		healthOnExit(s)
		return nil
	})
	// The container is gone: its network helper (our child, through the
	// monitor's execve) goes too, also when the exit is not ours to
	// record.
	stopOwnNetwork(l.dir)
	if err != nil {
		return 0
	}
	// The exit is in the state now.
	if x, ok := readExitFile(l.dir); ok && x.pid == pid {
		os.Remove(filepath.Join(l.dir, exitFileName))
	}
	l.e.unmountRootfs(l.dir, rec)
	if !restart {
		if rec.Options.AutoRemove {
			l.e.RemoveContainer(l.id, true)
		}
		return 0
	}
	l.backoff = nextBackoff(l.backoff, finished.Sub(c.State.StartedAt))
	// SIGTERM (a stop of a restarting container) cuts the back-off short
	// and cancels the restart.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	timer := time.NewTimer(l.backoff)
	cancelled := false
	select {
	case <-timer.C:
	case <-term:
		cancelled = true
	}
	signal.Stop(term)
	if !cancelled {
		if c, err := l.stores.Get(l.id); err != nil || c.State.Status != state.Restarting || c.State.StoppedByUser {
			cancelled = true
		}
	}
	if cancelled {
		l.stores.SetState(l.id, func(s *state.State) error {
			if s.Status == state.Restarting {
				s.Status = state.Exited
				s.MonitorPid = 0
			}
			return nil
		})
		return 0
	}
	if err := l.start(false); err != nil {
		// start recorded the failure (or the container is gone).
		l.stores.SetState(l.id, func(s *state.State) error {
			if s.Status == state.Restarting {
				s.Status = state.Exited
				s.MonitorPid = 0
			}
			return nil
		})
		return 0
	}
	return l.execMonitor()
}

// shouldRestart applies a restart policy to an exit (Docker's rules): a
// user's stop prevents any restart; on-failure restarts non-zero exits up
// to its maximum count (0: no maximum).
func shouldRestart(p spec.RestartPolicy, code int, s *state.State) bool {
	if s.StoppedByUser {
		return false
	}
	switch p.Name {
	case spec.RestartAlways, spec.RestartUnlessStopped:
		return true
	case spec.RestartOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || s.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// nextBackoff is the delay before the next restart: the first is 100 ms,
// each next one doubles, up to a minute, and a container that ran for 10
// seconds or more starts over at 100 ms.
func nextBackoff(prev, ran time.Duration) time.Duration {
	if ran >= backoffReset || prev <= 0 {
		return backoffStart
	}
	return min(prev*2, backoffMax)
}
