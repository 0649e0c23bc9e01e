package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/pkg/procstat"
)

// StartIO are the streams a foreground container uses; nil means
// /dev/null.
type StartIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ConsoleRows and ConsoleCols size a -t container's terminal from the
	// start; 0 leaves the kernel's default until the first resize.
	ConsoleRows, ConsoleCols uint
	// Network, if set, is the container's network started ahead
	// (StartNetworkEarly); the start takes it if it fits.
	Network *EarlyNetwork
}

// Running is a container started by this process.
type Running struct {
	ID   string
	Name string
	// Tty and StopSignal come from the container's configuration.
	Tty        bool
	StopSignal syscall.Signal
	AutoRemove bool
	proc       *runtime.Process
	net        *networkStarter
	e          *Engine
	health     *spec.Healthcheck
	rec        *containerRecord
	exitCode   int
	exitErr    error
}

// Pid is the container's first process.
func (r *Running) Pid() int { return r.proc.Pid() }

// Console is the terminal's master side for -t containers.
func (r *Running) Console() *os.File { return r.proc.Console() }

// Resize sets the container terminal's size.
func (r *Running) Resize(rows, cols uint16) error { return r.proc.Resize(rows, cols) }

// Signal sends a signal to the container's first process.
func (r *Running) Signal(sig os.Signal) error { return r.proc.Signal(sig) }

// Wait waits for the container to exit, records its exit and returns the
// exit code (128+N when a signal killed it).
//
// A --rm container's exit is recorded too, although RemoveAfterExit
// removes it next: a `cove wait` may be waiting for it (see waitersGone).
func (r *Running) Wait() (int, error) {
	code, err := r.proc.Wait()
	phase("wait: container exited")
	r.exitCode, r.exitErr = code, err
	r.recordExit()
	// The helper outlives the namespace's last process otherwise. After
	// the exit is recorded: meanwhile another cove would see the process
	// gone and no exit, and call it killed. Its exit completes while the
	// caller goes on (removing a --rm container); Close waits for it.
	r.net.kill()
	return code, err
}

// removedOnExit: the container is removed by RemoveAfterExit without a
// removal state being recorded first.
func (r *Running) removedOnExit() bool {
	return r.AutoRemove && r.rec != nil && r.rec.ManagedLayer
}

func (r *Running) recordExit() {
	stores, err := r.e.States()
	if err != nil {
		return
	}
	stores.SetState(r.ID, func(st *state.State) error {
		st.Status = state.Exited
		st.ExitCode = r.exitCode
		st.FinishedAt = time.Now().UTC()
		st.Pid = 0
		healthOnExit(st)
		if r.exitErr != nil {
			st.Error = r.exitErr.Error()
		}
		return nil
	})
}

// RemoveAfterExit removes a --rm container once Wait has returned. One
// with a cove-managed layer goes straight away: no removal state is recorded first,
// as the rename of its record is the one step that makes it disappear (a
// kill before it leaves a --rm container whose remover is gone, which the
// next command removes: see removeOrphan).
func (r *Running) RemoveAfterExit() error {
	if !r.removedOnExit() {
		_, err := r.e.RemoveContainer(r.ID, true)
		return err
	}
	stores, err := r.e.States()
	if err == nil {
		_, err = r.e.removeRecorded(stores, r.ID, r.Name, r.rec, false)
	}
	return err
}

// Close waits for what Wait left finishing in the background (the network
// helper's exit); call it once done with the container, just before the
// process exits.
func (r *Running) Close() {
	// Waiting matters only for published ports, which must be free when we
	// return (a script's immediate rerun binds them again). Without any,
	// the SIGKILLed helper finishes its 20-30 ms exit alone (closing its
	// tap device waits for RCU grace periods) and is reaped by whoever
	// inherits it; nothing of it is left that a later command could meet.
	if r.net != nil && len(r.net.ports) == 0 {
		r.net.killed = nil
		return
	}
	r.net.reap()
}

// StartContainer mounts the container's root filesystem, builds its spec
// and starts it; the caller waits for it.
func (e *Engine) StartContainer(ctx context.Context, ref string, sio StartIO) (*Running, error) {
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return nil, err
	}
	c, err := e.reconciled(id)
	if err != nil {
		return nil, err
	}
	if c.State.Status == state.Running || c.State.Status == state.Paused {
		return nil, fmt.Errorf("container %s is already running: %w", c.Name, errdefs.ErrInvalidState)
	}
	rec, err := readRecord(c)
	if err != nil {
		return nil, err
	}
	// The mount lives in this process's mount namespace; the container's
	// namespace gets a copy at clone and keeps it while it runs.
	phase("start: begin")
	rootfs, err := e.mountRootfs(c, rec)
	if err != nil {
		return nil, err
	}
	phase("start: rootfs mounted")
	sp, err := e.specFor(c, rec, rootfs)
	if err != nil {
		return nil, err
	}
	if sp.Process != nil && sp.Process.Terminal && sio.ConsoleRows > 0 && sio.ConsoleCols > 0 {
		sp.Process.ConsoleSize = &specs.Box{Height: sio.ConsoleRows, Width: sio.ConsoleCols}
	}
	phase("start: spec generated")
	opts := runtime.Options{Spec: sp, Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr}
	net, err := e.networkFor(c, rec, &opts, sio.Network)
	if err != nil {
		return nil, err
	}
	proc, err := runtime.Start(ctx, opts)
	if phaseTimes && err == nil {
		// Which init set the container up: "c" normally, "go" for -t,
		// --init and specs only the Go init handles.
		phase("start: container exec'd (" + proc.SetupBy() + " init)")
	} else {
		phase("start: container exec'd")
	}
	if err != nil {
		net.stop()
		code := errdefs.ExitCode(err)
		stores.SetState(id, func(s *state.State) error {
			s.Status = state.Exited
			s.ExitCode = code
			s.Error = err.Error()
			s.FinishedAt = time.Now().UTC()
			return nil
		})
		return nil, err
	}
	sig := syscall.SIGTERM
	if s := rec.Parsed.StopSignal; s != "" {
		if v, err := parseSignal(s); err == nil {
			sig = v
		}
	} else if s := rec.ImageConfig.StopSignal; s != "" {
		if v, err := parseSignal(s); err == nil {
			sig = v
		}
	}
	run := &Running{ID: id, Name: c.Name, Tty: rec.Options.Tty, StopSignal: sig, AutoRemove: rec.Options.AutoRemove, proc: proc, net: net, e: e, health: rec.Parsed.Healthcheck, rec: rec}
	pid := proc.Pid()
	if err := stores.SetState(id, func(s *state.State) error {
		s.Status = state.Running
		s.Pid = pid
		// This process supervises a foreground container: it relays
		// signals that other cove processes cannot deliver themselves.
		s.MonitorPid = os.Getpid()
		s.MonitorStart = pidStartTime(s.MonitorPid)
		if rec.Options.AutoRemove {
			s.Remover = selfProcess()
		}
		s.StoppedByUser = false
		s.PidStart = pidStartTime(pid)
		s.BootID = bootID()
		s.ExitCode = 0
		s.Error = ""
		s.StartedAt = time.Now().UTC()
		s.FinishedAt = time.Time{}
		s.Health = healthOnStart(s.Health, rec)
		return nil
	}); err != nil {
		proc.Signal(syscall.SIGKILL)
		proc.Wait()
		net.stop()
		return nil, err
	}
	return run, nil
}

// reconciled reads a container and corrects a state that outlived its
// process: a "running" container whose process is gone (its cove was
// killed, or the machine rebooted) is exited.
//
// A --rm container whose remover was killed is removed here (see
// removeOrphan) and reported as not existing.
func (e *Engine) reconciled(id string) (*state.Container, error) {
	c, err := e.reconciledState(id)
	if err != nil || !orphanedAutoRemove(c) {
		return c, err
	}
	if err := e.removeOrphan(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (e *Engine) reconciledState(id string) (*state.Container, error) {
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	c, err := stores.Get(id)
	if err != nil {
		return nil, err
	}
	dir := stores.Dir(id)
	switch st := c.State.Status; {
	case (st == state.Running || st == state.Paused) && !alive(&c.State):
		// The monitor is still draining the log: its launcher records
		// the exit in a moment.
		if monitorWillRecord(id, &c.State) {
			return c, nil
		}
	case st == state.Restarting && !MonitorAlive(c.State.MonitorPid, id):
		// The launcher waiting out the back-off is gone.
	default:
		return c, nil
	}
	err = stores.SetState(id, func(s *state.State) error {
		switch {
		case (s.Status == state.Running || s.Status == state.Paused) && !alive(s) && !monitorWillRecord(id, s):
		case s.Status == state.Restarting && !MonitorAlive(s.MonitorPid, id):
		default:
			return nil
		}
		s.Status = state.Exited
		if !exitFromFile(dir, s) {
			if s.ExitCode == 0 {
				s.ExitCode = 137
			}
			if s.Error == "" {
				s.Error = "the container's process disappeared (its cove process was killed, or the machine restarted)"
			}
			if s.FinishedAt.IsZero() {
				s.FinishedAt = time.Now().UTC()
			}
		}
		s.Pid = 0
		healthOnExit(s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Its supervisor is gone, and the kernel killed the network helper
	// with it; this covers a helper that escaped (a supervisor older than
	// the helper's parent-death signal).
	stopOrphanedNetwork(dir)
	return stores.Get(id)
}

// alive reports whether the recorded process still exists and is the same
// process (same boot, same start time).
func alive(s *state.State) bool {
	if s.Pid <= 0 {
		return false
	}
	if s.BootID != "" && s.BootID != bootID() {
		return false
	}
	start := pidStartTime(s.Pid)
	return start != 0 && (s.PidStart == 0 || start == s.PidStart) && !isZombie(s.Pid)
}

// isZombie reports whether the process has exited and waits to be reaped
// (state Z in /proc/PID/stat): when its supervisor died, the host's init
// may take a while to collect it.
func isZombie(pid int) bool {
	st, ok := procstat.Read(pid)
	return ok && st.IsZombie()
}

// pidStartTime is the process's start time in clock ticks since boot, 0
// if the process does not exist.
func pidStartTime(pid int) uint64 { return procstat.StartTime(pid) }

// bootID is this boot's identifier, read once (ps reconciles containers
// from several goroutines).
var bootID = sync.OnceValue(func() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
})

func parseSignal(s string) (syscall.Signal, error) {
	return specParseSignal(s)
}

// RemoveContainer removes a container's layer and record. A running
// container is refused unless force, which kills it first.
func (e *Engine) RemoveContainer(ref string, force bool) (string, error) {
	return e.removeContainer(ref, force, false)
}

// RemoveContainerAndVolumes is `rm -v`: RemoveContainer, then the
// container's anonymous volumes that no other container uses.
func (e *Engine) RemoveContainerAndVolumes(ref string, force bool) (string, error) {
	return e.removeContainer(ref, force, true)
}

// removeContainer removes the container; its anonymous volumes go too
// with volumes or when the container was created with --rm, as Docker.
func (e *Engine) removeContainer(ref string, force, volumes bool) (string, error) {
	stores, err := e.States()
	if err != nil {
		return "", err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return "", err
	}
	c, err := e.reconciled(id)
	if err == nil && isRunning(c.State.Status) && c.State.Remover != nil && !processAlive(c.State.Remover) {
		// A --rm container whose remover (its `cove run`, or its
		// monitor) was just killed: its process follows within
		// milliseconds (the parent-death signal), and then it is an
		// orphan that the lookup removes. Give it that time rather than
		// call it running.
		if e.waitGone(context.Background(), c, 2*time.Second) {
			c, err = e.reconciled(id)
		}
	}
	if errors.Is(err, errOrphanGone) {
		// An orphaned --rm container: the lookup removed it, as asked
		// (its anonymous volumes with it).
		return id, nil
	}
	if err != nil {
		return "", err
	}
	return e.removeContainerNow(c, force, volumes)
}

// removeContainerNow is removeContainer of a container already looked up.
// A container that vanishes meanwhile was removed by someone else (the
// launcher of a --rm container that rm -f killed removes it too): it is
// gone, as asked.
func (e *Engine) removeContainerNow(c *state.Container, force, volumes bool) (string, error) {
	id, err := e.removeFound(c, force, volumes)
	if errors.Is(err, errdefs.ErrNotFound) {
		return c.ID, nil
	}
	return id, err
}

func (e *Engine) removeFound(c *state.Container, force, volumes bool) (string, error) {
	stores, err := e.States()
	if err != nil {
		return "", err
	}
	id := c.ID
	if c.State.Status == state.Running || c.State.Status == state.Paused {
		if !force {
			return "", fmt.Errorf("cannot remove container %s: it is running: stop it first, or use -f: %w", c.Name, errdefs.ErrInvalidState)
		}
		if c.State.Pid > 0 {
			// Through the supervisor when need be: a non-root container
			// process refuses signals from a cove in another namespace.
			e.SignalContainer(id, syscall.SIGKILL)
			e.waitGone(context.Background(), c, 5*time.Second)
			e.settle(context.Background(), id)
		}
	}
	rec, err := readRecord(c)
	if err != nil {
		return "", err
	}
	if err := stores.SetState(id, func(s *state.State) error {
		if s.Status == state.Removing {
			return nil
		}
		s.Status = state.Removing
		return nil
	}); err != nil && !errors.Is(err, errdefs.ErrInvalidState) {
		return "", err
	}
	return e.removeRecorded(stores, id, c.Name, rec, volumes)
}

// removeRecorded removes a container that is not running and is marked as
// being removed (or needs no mark: RemoveAfterExit): its mounts, its layer,
// its record, its network endpoints and, with volumes or --rm, its
// anonymous volumes.
func (e *Engine) removeRecorded(stores *state.Store, id, name string, rec *containerRecord, volumes bool) (string, error) {
	if rec.Options.AutoRemove {
		waitersGone(stores.Dir(id))
	}
	if rec.ManagedLayer {
		// Its upper directory goes with the record's directory.
		unmountManagedLayer(stores.Dir(id))
		unmountOverlays(stores.Dir(id))
	} else {
		st, err := e.Store()
		if err != nil {
			return "", err
		}
		phase("rm: store opened")
		st.Unmount(rec.StorageID, true)
		unmountOverlays(stores.Dir(id))
		phase("rm: unmounted")
		if err := st.DeleteContainer(rec.StorageID); err != nil && !isStorageNotFound(err) {
			return "", fmt.Errorf("removing the layer of container %s: %w", name, err)
		}
		phase("rm: layer deleted")
	}
	if err := stores.Delete(id); err != nil {
		return "", err
	}
	// A removal killed half-way left its record's files (a layer, for a
	// cove-managed one) under a hidden name: this one takes them too.
	stores.RemoveLeftovers()
	phase("rm: record deleted")
	e.detachAll(id)
	phase("rm: endpoints removed")
	if volumes || rec.Options.AutoRemove {
		if err := e.removeAnonymousVolumes(rec); err != nil {
			return id, fmt.Errorf("container %s removed, but not all of its volumes: %w", name, err)
		}
	}
	phase("rm: removed")
	return id, nil
}
