// Package errdefs defines the error classes cove uses across packages and
// the process exit codes they map to. Classification is by errors.Is and
// errors.As only, never by message text.
package errdefs

import (
	"errors"
	"fmt"
)

// Exit codes shared with Docker and Podman.
const (
	// ExitCove is returned for cove's own failures (bad input, store
	// errors, unreachable registries, ...).
	ExitCove = 125
	// ExitCannotInvoke is returned when the container command exists but
	// cannot be run (a directory, no execute permission).
	ExitCannotInvoke = 126
	// ExitNotFound is returned when the container command does not exist.
	ExitNotFound = 127
)

// Error classes. Wrap them with context at the layer that knows the object:
// fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound).
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrInvalidState    = errors.New("invalid state")
	ErrUnsupported     = errors.New("not supported")
	ErrInUse           = errors.New("in use")
)

// ExitError carries an exit status that is not cove's own failure: the
// container's exit code, or a code a command defines (rm's 1 and 2).
type ExitError struct {
	Code int
	// Err, when set, is printed before exiting; a bare code prints nothing.
	Err error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// InvalidArgument wraps a user-input problem so that it is reported with
// exit code 125 and names the offending value.
func InvalidArgument(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, a...)...)
}

// ExitCode returns the process exit code for err: 0 for nil, the carried
// code for an ExitError, otherwise 125.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitCove
}
