//go:build !(linux && cgo)

package monitor

// Available reports whether this binary carries the C monitor; without cgo
// it does not, and detached containers are refused.
const Available = false

// Role is the argv[0] that selects the monitor.
const Role = "cove-monitor"
