// Package reexec dispatches the roles of the cove binary. The same
// executable runs as the CLI, as a container's init, as its monitor and as
// helpers; a role is chosen by argv[0] before cobra or any goroutine of our
// own starts, because some roles (container init) must act while the
// process is still in a well-defined state.
package reexec

import "os"

var roles = map[string]func() int{}

// Register adds a role. It must be called from main before Run.
func Register(name string, entry func() int) {
	roles[name] = entry
}

// Run runs the role named by argv[0], if any, and exits with its code. It
// returns false when the process is the ordinary CLI.
func Run() bool {
	entry, ok := roles[os.Args[0]]
	if !ok {
		return false
	}
	os.Exit(entry())
	return true
}

// Self is the path that re-executes the running binary. /proc/self/exe
// survives the binary being replaced on disk during an upgrade.
const Self = "/proc/self/exe"
