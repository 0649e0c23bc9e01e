// Package engine holds cove's use cases (info, pull, run, ps, ...). It
// composes storage, images, state and the runtime, returns typed results and
// per-item errors, and never prints: the CLI renders what it returns.
package engine

import (
	"sync"
	"sync/atomic"

	"github.com/cove-run/cove/internal/config"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/storage"
	"github.com/cove-run/cove/internal/usernet"
	"github.com/cove-run/cove/internal/userns"
	"github.com/cove-run/cove/internal/volume"
)

// Engine is one invocation's view of cove's state.
type Engine struct {
	Config *config.Config
	// Platform chooses among multi-platform images (pull --platform).
	Platform Platform
	store    *storage.Store
	states   *state.Store
	volumes  *volume.Store
	networks *usernet.Store
	// orphanMu orders the removals of orphaned --rm containers (ps
	// reconciles containers from several goroutines); orphans counts
	// those a host-side process could only hide (autoremove.go).
	orphanMu sync.Mutex
	orphans  atomic.Int32
	// startLockHeld is the ID of the container whose start lock this
	// process holds (a launcher starting it), so that the launcher's own
	// look at the container does not wait for itself.
	startLockHeld atomic.Value
}

// New returns an engine; the store is opened on first use.
func New(cfg *config.Config) *Engine {
	return &Engine{Config: cfg}
}

func (e *Engine) storageOptions() storage.Options {
	return storage.Options{
		GraphRoot:    e.Config.GraphRoot,
		RunRoot:      e.Config.RunRoot,
		Driver:       e.Config.StorageDriver,
		MountProgram: e.Config.MountProgram,
		Rootless:     e.Config.Rootless,
		SingleID:     userns.SingleID(),
	}
}

// Store opens the store once per invocation.
func (e *Engine) Store() (*storage.Store, error) {
	if e.store != nil {
		return e.store, nil
	}
	s, err := storage.Open(e.storageOptions())
	if err != nil {
		return nil, err
	}
	e.store = s
	return s, nil
}

// StorageWarning returns the warning that applies to the chosen driver, if
// any, so that the CLI can print it on every command.
func (e *Engine) StorageWarning() string {
	if e.store != nil {
		return e.store.Choice.Warning
	}
	return ""
}

// Close releases what the engine opened.
func (e *Engine) Close() {
	if e.store != nil {
		e.store.Close()
		e.store = nil
	}
}
