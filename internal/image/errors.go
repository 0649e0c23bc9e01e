package image

import (
	"fmt"

	"github.com/cove-run/cove/internal/errdefs"
)

// classErr is an error with a message of its own that errors.Is still
// matches against an errdefs class, so that users read "no such image: x"
// rather than "no such image: x: not found", and the CLI still maps it to
// its exit code.
type classErr struct {
	msg   string
	class error
	cause error
}

func (e *classErr) Error() string        { return e.msg }
func (e *classErr) Is(target error) bool { return target == e.class }
func (e *classErr) Unwrap() error        { return e.cause }

// invalidf reports bad user input (exit 125); the message names the input.
func invalidf(format string, a ...any) error {
	return &classErr{msg: fmt.Sprintf(format, a...), class: errdefs.ErrInvalidArgument}
}

// invalidCause is invalidf keeping the library error for errors.As.
func invalidCause(cause error, format string, a ...any) error {
	return &classErr{msg: fmt.Sprintf(format, a...), class: errdefs.ErrInvalidArgument, cause: cause}
}

// notFoundf reports a missing object (exit 125, "no such ..." wording).
func notFoundf(cause error, format string, a ...any) error {
	return &classErr{msg: fmt.Sprintf(format, a...), class: errdefs.ErrNotFound, cause: cause}
}
