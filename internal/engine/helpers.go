package engine

import (
	"errors"
	"syscall"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/storage"
)

func specParseSignal(s string) (syscall.Signal, error) { return spec.ParseSignal(s) }

func isStorageNotFound(err error) bool {
	return errors.Is(err, storage.ErrContainerUnknown) || errors.Is(err, errdefs.ErrNotFound)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
