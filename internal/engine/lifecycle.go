package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/pkg/flock"
)

// DefaultStopTimeout is Docker's grace period between the stop signal and
// SIGKILL.
const DefaultStopTimeout = 10 * time.Second

func (e *Engine) lookupReconciled(ref string) (*state.Container, *containerRecord, error) {
	stores, err := e.States()
	if err != nil {
		return nil, nil, err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.reconciled(id)
	if err != nil {
		return nil, nil, err
	}
	rec, err := readRecord(c)
	if err != nil {
		return nil, nil, err
	}
	return c, rec, nil
}

func isRunning(s state.Status) bool { return s == state.Running || s == state.Paused }

// StopContainer sends the container's stop signal, waits up to timeout
// (negative: the container's own or Docker's 10 s) and then kills it.
// Stopping a container that is not running is not an error.
func (e *Engine) StopContainer(ctx context.Context, ref string, timeout time.Duration) error {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return err
	}
	stores, _ := e.States()
	// Record the intent first: unless-stopped must not restart it, and
	// the monitor reads this when the container exits.
	stores.SetState(c.ID, func(s *state.State) error { s.StoppedByUser = true; return nil })
	if c.State.Status == state.Restarting && c.State.MonitorPid > 0 {
		// The launcher is waiting out a restart back-off: SIGTERM ends
		// the wait and the restart.
		syscall.Kill(c.State.MonitorPid, syscall.SIGTERM)
		return e.settle(ctx, c.ID)
	}
	if !isRunning(c.State.Status) {
		return nil
	}
	if timeout < 0 {
		timeout = DefaultStopTimeout
		if rec.Options.StopTimeout != nil {
			timeout = time.Duration(*rec.Options.StopTimeout) * time.Second
		}
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
	if c.State.Status == state.Paused {
		e.SignalContainer(c.ID, syscall.SIGCONT)
	}
	if timeout > 0 {
		if err := e.SignalContainer(c.ID, sig); err != nil && !errors.Is(err, errdefs.ErrInvalidState) {
			return fmt.Errorf("stopping container %s: %w", c.Name, err)
		}
		if e.waitGone(ctx, c, timeout) {
			return e.settle(ctx, c.ID)
		}
	}
	if err := e.SignalContainer(c.ID, syscall.SIGKILL); err != nil && !errors.Is(err, errdefs.ErrInvalidState) {
		return fmt.Errorf("killing container %s: %w", c.Name, err)
	}
	if !e.waitGone(ctx, c, 10*time.Second) {
		return fmt.Errorf("container %s did not exit after SIGKILL", c.Name)
	}
	return e.settle(ctx, c.ID)
}

// settle waits briefly for the container's supervisor to record the exit,
// then reconciles, so that the caller sees a final state.
func (e *Engine) settle(ctx context.Context, id string) error {
	stores, err := e.States()
	if err != nil {
		return err
	}
	// The supervisor records the exit within a few milliseconds of it;
	// poll finely at first (a read of a small file), then back off.
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		c, err := stores.Get(id)
		if err == nil && isRunning(c.State.Status) && takeExitFromFile(stores, id) {
			c, err = stores.Get(id)
		}
		if err != nil || !isRunning(c.State.Status) {
			// The supervisor records the exit before it stops the network
			// helper (so that nobody sees the process gone and no exit):
			// wait for the helper too, or a start right after this stop
			// finds the published ports still bound.
			waitNetworkHelperGone(ctx, stores.Dir(id), time.Until(deadline))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval(i)):
		}
	}
	_, err = e.reconciled(id)
	return err
}

// waitGone polls until the container's first process is gone.
func (e *Engine) waitGone(ctx context.Context, c *state.Container, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	if waitPidfd(ctx, &c.State, timeout) {
		return true
	}
	for i := 0; ; i++ {
		if !alive(&c.State) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pollInterval(i)):
		}
	}
}

// pollInterval is the wait before the i-th check of a condition that
// usually comes true within milliseconds: 1 ms for the first 50 checks,
// then 10 ms.
func pollInterval(i int) time.Duration {
	if i < 50 {
		return time.Millisecond
	}
	return 10 * time.Millisecond
}

// waitPidfd waits for the container's first process to exit through a
// pidfd, which becomes readable when the process exits (ours or not, as
// long as we may see it): no polling delay between the exit and stop's
// return. False when the wait could not be set up, timed out, or ctx
// ended; the caller then polls.
func waitPidfd(ctx context.Context, s *state.State, timeout time.Duration) bool {
	if s.Pid <= 0 {
		return false
	}
	fd, err := unix.PidfdOpen(s.Pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	// The pidfd refers to whatever process has the PID now: it must still
	// be the container's (same start time) for its exit to mean anything.
	if !alive(s) {
		return true
	}
	deadline := time.Now().Add(timeout)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		// Slices of at most 100 ms so that a cancelled ctx is noticed.
		ms := int(min(left, 100*time.Millisecond) / time.Millisecond)
		n, err := unix.Poll(fds, ms+1)
		if err == nil && n > 0 {
			return true
		}
		if err != nil && err != unix.EINTR {
			return false
		}
	}
	return false
}

// KillContainer sends a signal to a running container.
func (e *Engine) KillContainer(ref string, sig syscall.Signal) error {
	c, _, err := e.lookupReconciled(ref)
	if err != nil {
		return err
	}
	if !isRunning(c.State.Status) {
		return fmt.Errorf("cannot kill container %s: it is not running: %w", c.Name, errdefs.ErrInvalidState)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		stores, _ := e.States()
		stores.SetState(c.ID, func(s *state.State) error { s.StoppedByUser = true; return nil })
	}
	return e.SignalContainer(c.ID, sig)
}

// WaitCondition is what `wait` waits for.
type WaitCondition string

// Wait conditions (Docker's names, plus Podman's stopped/exited).
const (
	WaitNotRunning WaitCondition = "not-running"
	WaitNextExit   WaitCondition = "next-exit"
	WaitRemoved    WaitCondition = "removed"
)

// ParseWaitCondition validates --condition.
func ParseWaitCondition(s string) (WaitCondition, error) {
	switch s {
	case "", "not-running", "stopped", "exited":
		return WaitNotRunning, nil
	case "next-exit":
		return WaitNextExit, nil
	case "removed":
		return WaitRemoved, nil
	}
	return "", errdefs.InvalidArgument("--condition %q: use not-running, next-exit or removed", s)
}

// WaitContainer blocks until the condition holds and returns the exit code.
func (e *Engine) WaitContainer(ctx context.Context, ref string, cond WaitCondition) (int, error) {
	stores, err := e.States()
	if err != nil {
		return 0, err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return 0, err
	}
	// Holding the waiters' lock keeps a --rm container's record from
	// being removed before we have read its exit (see waitersGone).
	if release, err := flock.Shared(filepath.Join(stores.Dir(id), waitLockName)); err == nil {
		defer release()
	}
	first, err := e.reconciled(id)
	if err != nil {
		return 0, err
	}
	startedAt := first.State.StartedAt
	last := first.State.ExitCode
	for {
		c, err := e.reconciled(id)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				if cond == WaitRemoved || cond == WaitNotRunning {
					return last, nil
				}
			}
			return 0, err
		}
		last = c.State.ExitCode
		switch cond {
		case WaitNotRunning:
			if !isRunning(c.State.Status) && c.State.Status != state.Restarting {
				return c.State.ExitCode, nil
			}
		case WaitNextExit:
			if !c.State.FinishedAt.IsZero() && c.State.FinishedAt.After(startedAt) {
				return c.State.ExitCode, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RenameContainer changes a container's name.
func (e *Engine) RenameContainer(ref, newName string) error {
	stores, err := e.States()
	if err != nil {
		return err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return err
	}
	return stores.Rename(id, newName)
}

// PruneContainers removes every container that is not running and returns
// their IDs and the space their layers took.
func (e *Engine) PruneContainers() ([]string, int64, error) {
	// Listing reconciles every container, which removes orphaned --rm
	// ones; their layers without a record are swept apart.
	list, err := e.ListContainers(true)
	if err != nil {
		return nil, 0, err
	}
	e.sweepOrphanLayers()
	if stores, err := e.States(); err == nil {
		stores.RemoveLeftovers()
	}
	var removed []string
	var reclaimed int64
	var errs []error
	for _, c := range list {
		if isRunning(c.State.Status) || c.State.Status == state.Restarting {
			continue
		}
		// Docker's reclaimed space is the containers' own layers (not
		// the image's, which ContainerSize would add up too).
		var size int64
		if _, rec, err := e.lookupReconciled(c.ID); err == nil {
			size, _ = e.layerSize(c.ID, rec)
		}
		if _, err := e.RemoveContainer(c.ID, false); err != nil {
			if errors.Is(err, errdefs.ErrInvalidState) || errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.ID)
		reclaimed += size
	}
	return removed, reclaimed, errors.Join(errs...)
}

// waitNetworkHelperGone waits until the network helper recorded in a
// container's directory has exited (at most timeout).
func waitNetworkHelperGone(ctx context.Context, dir string, timeout time.Duration) {
	ns, ok := readNetState(dir)
	// Only published ports need the helper gone before we return; its
	// exit takes 20-30 ms (see network.Helper.Kill).
	if !ok || ns.Pid <= 0 || len(ns.Ports) == 0 {
		return
	}
	waitPidfd(ctx, &state.State{Pid: ns.Pid, PidStart: ns.Start}, timeout)
}

// waitLockName is the lock in a container's directory that `cove wait`
// holds shared while it waits.
const waitLockName = "wait.lock"

// waitersGone waits (at most 2 s) until no `cove wait` holds the waiters'
// lock of the container in dir. The remover of a --rm container calls it
// after recording the exit and before removing the record, as Docker's
// `wait` gives a --rm container's exit code: a waiter polls the state
// every 20 ms, and the record would otherwise be gone within a
// millisecond of the exit. Without a waiter this is one failed stat.
func waitersGone(dir string) {
	path := filepath.Join(dir, waitLockName)
	if _, err := os.Stat(path); err != nil {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		release, ok, err := flock.TryExclusive(path)
		if err != nil {
			return
		}
		if ok {
			release()
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
