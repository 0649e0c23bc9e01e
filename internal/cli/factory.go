package cli

import (
	"github.com/cove-run/cove/internal/config"
	"github.com/cove-run/cove/internal/engine"
)

// Factory hands verbs what they need, created on first use so that cheap
// commands stay cheap.
type Factory struct {
	IO        *IOStreams
	Overrides config.Overrides

	cfg         *config.Config
	eng         *engine.Engine
	commandPath string
	// reexecErr is why entering the user namespace failed, for commands
	// that can go on without it (info).
	reexecErr error
}

func newFactory(io *IOStreams) *Factory { return &Factory{IO: io, commandPath: "cove"} }

// Config loads the configuration once.
func (f *Factory) Config() (*config.Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	cfg, err := config.Load(f.Overrides)
	if err != nil {
		return nil, err
	}
	f.cfg = cfg
	return cfg, nil
}

// Engine returns the invocation's engine.
func (f *Factory) Engine() (*engine.Engine, error) {
	if f.eng != nil {
		return f.eng, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	f.eng = engine.New(cfg)
	return f.eng, nil
}

// Store opens the store through the engine and prints the driver warning
// (vfs) that must accompany every command while it applies.
func (f *Factory) EngineWithStore() (*engine.Engine, error) {
	e, err := f.Engine()
	if err != nil {
		return nil, err
	}
	if _, err := e.Store(); err != nil {
		return nil, err
	}
	if w := e.StorageWarning(); w != "" {
		f.warn(w)
	}
	return e, nil
}
