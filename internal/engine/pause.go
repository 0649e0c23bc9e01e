package engine

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
)

// PauseContainer stops every process of a running container with SIGSTOP;
// UnpauseContainer continues them. Without per-container cgroups (the
// freezer needs delegated cgroup v2) this is what is left: a process that
// blocks or handles SIGCONT notices, and one forked between two scans is
// caught by the next scan. It runs on the host side (see the constructor's
// host commands): only the owner of the container's user namespace may
// signal its processes that run as other users.
func (e *Engine) PauseContainer(ref string) error {
	return e.setPaused(ref, true)
}

// UnpauseContainer continues a paused container.
func (e *Engine) UnpauseContainer(ref string) error {
	return e.setPaused(ref, false)
}

func (e *Engine) setPaused(ref string, pause bool) error {
	c, _, err := e.lookupReconciled(ref)
	if err != nil {
		return err
	}
	switch {
	case pause && c.State.Status == state.Paused:
		return fmt.Errorf("container %s is already paused: %w", c.Name, errdefs.ErrInvalidState)
	case pause && c.State.Status != state.Running:
		return fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	case !pause && c.State.Status != state.Paused:
		return fmt.Errorf("container %s is not paused: %w", c.Name, errdefs.ErrInvalidState)
	}
	sig := syscall.SIGCONT
	if pause {
		sig = syscall.SIGSTOP
	}
	if err := signalPidNamespace(c.State.Pid, sig); err != nil {
		return fmt.Errorf("%s container %s: %w", map[bool]string{true: "pausing", false: "unpausing"}[pause], c.Name, err)
	}
	stores, err := e.States()
	if err != nil {
		return err
	}
	return stores.SetState(c.ID, func(s *state.State) error {
		if pause {
			s.Status = state.Paused
		} else {
			s.Status = state.Running
		}
		return nil
	})
}

// signalPidNamespace sends sig to every process in the pid namespace of
// pid, scanning /proc until a scan finds no process it has not signalled.
func signalPidNamespace(pid int, sig syscall.Signal) error {
	target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return err
	}
	done := map[int]bool{}
	for round := 0; round < 50; round++ {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range ents {
			p, err := strconv.Atoi(e.Name())
			if err != nil || done[p] {
				continue
			}
			ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid")
			if err != nil || ns != target {
				continue
			}
			done[p] = true
			fresh++
			if err := syscall.Kill(p, sig); err != nil && err != syscall.ESRCH {
				return fmt.Errorf("signalling process %d: %w", p, err)
			}
		}
		if fresh == 0 {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}
