package userns

import (
	"fmt"
	"os"
)

// constructorErr is why the C constructor could not create the namespace
// for a command that may go on without it (info).
var constructorErr error

// EntryError returns constructorErr wrapped for display, or nil.
func EntryError() error {
	if constructorErr == nil {
		return nil
	}
	return fmt.Errorf("creating a user namespace: %w%s", constructorErr, usernsHint(constructorErr))
}

// goFallbackDisabled reports whether the constructor asked the Go path to
// stay out.
func goFallbackDisabled() bool { return os.Getenv("_COVE_USERNS_GO") == "off" }
