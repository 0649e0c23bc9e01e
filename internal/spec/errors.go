package spec

import "github.com/cove-run/cove/internal/errdefs"

// invalid reports bad user input; the message must quote the value.
func invalid(format string, a ...any) error {
	return errdefs.InvalidArgument(format, a...)
}
