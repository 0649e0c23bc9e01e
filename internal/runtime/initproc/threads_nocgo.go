//go:build !cgo

package initproc

import (
	"errors"

	"github.com/cove-run/cove/internal/runtime/caps"
)

// onOtherThreads needs the C signal handler of threads_cgo.go.
// (syscall.AllThreadsSyscall would work without cgo, but it acts on the
// calling thread too, which must keep the container's capabilities until
// the command is started.)
func onOtherThreads(int, caps.Set, func(threadCaps) bool) error {
	return errors.New("the --init reaper needs cove built with cgo (CGO_ENABLED=1)")
}
