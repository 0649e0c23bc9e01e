package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/userns"
	"github.com/cove-run/cove/pkg/flock"
)

// A --rm container is removed by its remover (state.State.Remover): the
// `cove run` that created it, then its supervisor. When the remover is
// killed (kill -9 of `cove run --rm` at any point of its start-up, or of
// the monitor of a `run -d --rm` container), nothing else would remove
// it, so the next cove command that looks at the container does: Docker's
// daemon and Podman's cleanup process do the same for their --rm
// containers. Commands in cove's namespace remove it at once; host-side
// commands, which cannot reach storage, treat it as gone (ps then
// re-executes itself in a namespace to remove it, see ps in the CLI).

// selfProcess names this process for State.Remover.
func selfProcess() *state.Process {
	pid := os.Getpid()
	return &state.Process{Pid: pid, Start: pidStartTime(pid)}
}

// processAlive reports whether the named process still runs (a zombie
// whose parent has not reaped it yet does not).
func processAlive(p *state.Process) bool {
	return p != nil && p.Pid > 0 && pidStartTime(p.Pid) == p.Start && !isZombie(p.Pid)
}

// orphanedAutoRemove reports whether c is a --rm container whose remover
// is gone and that is not running: no one else will remove it.
func orphanedAutoRemove(c *state.Container) bool {
	s := &c.State
	if s.Remover == nil {
		return false
	}
	switch s.Status {
	case state.Created, state.Exited, state.Removing, state.Dead:
	default:
		return false
	}
	return !processAlive(s.Remover)
}

// removeOrphan removes an orphaned --rm container, or, on the host side
// (no storage there), counts it for the caller; either way the container
// is then reported as not existing. It holds the container's start lock,
// which a launcher holds while it starts the container: a launcher that a
// killed `cove run -d --rm` left starting it wins, and takes the
// container over as its remover.
func (e *Engine) removeOrphan(c *state.Container) error {
	gone := fmt.Errorf("no such container: %s: %w", c.Name, errOrphanGone)
	if userns.Needed() || userns.JoinedContainer() {
		e.orphans.Add(1)
		return gone
	}
	e.orphanMu.Lock()
	defer e.orphanMu.Unlock()
	stores, err := e.States()
	if err != nil {
		return err
	}
	if e.startLockHeld.Load() == c.ID {
		// This process is the launcher starting it: it takes over.
		return nil
	}
	release, ok, err := waitStartLock(filepath.Join(stores.Dir(c.ID), "start.lock"))
	if err != nil || !ok {
		// Its directory is gone: removed already. Or still being started
		// after the wait: it is not ours to remove.
		if os.IsNotExist(err) {
			return gone
		}
		return nil
	}
	defer release()
	now, err := stores.Get(c.ID)
	if err != nil {
		return gone // removed meanwhile
	}
	if !orphanedAutoRemove(now) {
		return nil // taken over by a launcher
	}
	if _, err := e.removeContainerNow(now, false, true); err != nil {
		return fmt.Errorf("container %s (--rm) whose cove process was killed: removing it: %w", c.Name, err)
	}
	return gone
}

// errOrphanGone is the not-found of an orphaned --rm container that the
// lookup removed (or, host-side, hid): rm, asked to remove it, succeeds.
var errOrphanGone error = orphanGoneError{}

type orphanGoneError struct{}

func (orphanGoneError) Error() string { return errdefs.ErrNotFound.Error() }
func (orphanGoneError) Unwrap() error { return errdefs.ErrNotFound }

// waitStartLock takes a container's start lock, waiting a while for its
// holder: another command removing the same orphan (a few milliseconds;
// the container is then gone, not listed as it was a moment ago), or a
// launcher starting it (it then becomes its remover). The wait is bounded
// so that a start that hangs does not hang ps; ok is false then.
func waitStartLock(path string) (release func(), ok bool, err error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		release, ok, err = flock.TryExclusive(path)
		if err != nil || ok || time.Now().After(deadline) {
			return release, ok, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// OrphansHidden reports how many orphaned --rm containers this host-side
// process treated as gone without removing them.
func (e *Engine) OrphansHidden() int { return int(e.orphans.Load()) }

// layerMetadata is what cove records in a storage container's metadata:
// the remover of a --rm container, so that a layer whose `cove run` was
// killed between creating it and recording the container (a few
// milliseconds of create) can be told from one being created now.
type layerMetadata struct {
	Remover *state.Process `json:"Remover,omitempty"`
}

// sweepOrphans removes the --rm containers whose remover is gone, and the
// layers such a remover created without a record, before a command that
// asks storage which containers use an image (rmi, image prune,
// container prune): a killed `cove run --rm` must not keep an image in
// use. It needs storage, so only in cove's namespace.
func (e *Engine) sweepOrphans() {
	if userns.Needed() {
		return
	}
	stores, err := e.States()
	if err != nil {
		return
	}
	ids, err := stores.IDs()
	if err != nil {
		return
	}
	for _, id := range ids {
		e.reconciled(id)
	}
	e.sweepOrphanLayers()
}

// sweepOrphanLayers removes the storage containers that a killed `cove
// run --rm` created without a record. A caller that reconciles every
// container anyway (container prune lists them) calls it alone.
func (e *Engine) sweepOrphanLayers() {
	if userns.Needed() {
		return
	}
	stores, err := e.States()
	if err != nil {
		return
	}
	st, err := e.Store()
	if err != nil {
		return
	}
	ctrs, err := st.Containers()
	if err != nil {
		return
	}
	for _, sc := range ctrs {
		var md layerMetadata
		if sc.Metadata == "" || json.Unmarshal([]byte(sc.Metadata), &md) != nil || md.Remover == nil || processAlive(md.Remover) {
			continue
		}
		if _, err := stores.Get(sc.ID); errors.Is(err, errdefs.ErrNotFound) {
			st.DeleteContainer(sc.ID)
		}
	}
}
