package runtime

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/runtime/proto"
	"github.com/cove-run/cove/internal/runtime/seccomp"
)

// Helpers for `cove exec` (package execproc and its caller), which starts a
// process in a running container the way Start starts its first one.

// ReadonlyExecutable returns the read-only view of the running cove binary
// that Start executes container inits through (see "Protecting the cove
// binary"), opened once per process. The descriptor is close-on-exec and
// shared: the caller must not close it. Without privilege over the mount
// namespace (a rootless process on the host) it falls back to a sealed copy
// of the binary, which is slow: such callers should let the joining process
// make its own view inside the container's user namespace instead.
func ReadonlyExecutable() (*os.File, error) { return initExecutable() }

// ProcessConfig digests a spec as Start does for the init: capabilities and
// resource limits resolved to numbers, filter (nil: unconfined) in its wire
// form. `cove exec` takes the process part of the result.
func ProcessConfig(s *specs.Spec, filter *seccomp.Filter) (*proto.Config, error) {
	return buildConfig(s, filter)
}
