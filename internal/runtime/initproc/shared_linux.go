package initproc

import (
	"errors"

	"github.com/cove-run/cove/internal/runtime/proto"
	"github.com/cove-run/cove/internal/runtime/seccomp"
)

// The steps below are shared with package execproc, which sets up a
// process joining a running container (cove exec) the way the init sets up
// the container's first process. The rules they implement are documented
// on the unexported functions.

// LookPath finds the command inside the container, with the container's
// PATH, as the current user (see lookPath). Stage reports exit code 127
// for its error.
func LookPath(file string, env []string) (string, error) { return lookPath(file, env) }

// ExecError classifies a failed execve like Docker (see execError); Stage
// reports exit code 127 or 126 for the result.
func ExecError(arg0, path string, err error) error { return execError(arg0, path, err) }

// SetUser switches to uid, gid and the supplementary groups, keeping the
// permitted capabilities for a later capset (see setUser).
func SetUser(uid, gid uint32, additional []uint32) error { return setUser(uid, gid, additional) }

// SetRlimits applies resource limits (see setRlimits).
func SetRlimits(list []proto.Rlimit) error { return setRlimits(list) }

// SeccompFilter decodes the wire form of a compiled filter; nil for nil.
func SeccompFilter(s *proto.Seccomp) *seccomp.Filter { return seccompFilter(s) }

// CloseExtraFDs marks every descriptor above stderr close-on-exec.
func CloseExtraFDs() error { return closeExtraFDs() }

// Stage returns the setup step and exit code (126, 127, or 0 for a plain
// setup failure) carried by an error of LookPath or ExecError.
func Stage(err error) (stage string, exitCode int, ok bool) {
	var se *stageError
	if errors.As(err, &se) {
		return se.stage, se.exitCode, true
	}
	return "", 0, false
}
