//go:build !cgo || !linux

package nsenter

// Available reports whether this build can join containers: without cgo
// there is no constructor, and `cove exec` reports that it needs a cgo
// build.
const Available = false

// Joined is always false without the constructor.
func Joined() bool { return false }
