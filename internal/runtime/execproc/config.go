// Package execproc runs a command in a running container (`cove exec`):
// Start is the caller's side, on the host; Main is the role nsenter.Role of
// the cove binary, the process that internal/nsenter's constructor has
// moved into the container's namespaces.
//
// # Why the caller stays on the host
//
// Only a process that is privileged over a user namespace can join it, and
// for a rootless container that is its owner (the invoking user) seen from
// the parent namespace, the host. A cove process in a user namespace of its
// own (what every other rootless command runs in) is a sibling of the
// container's and has no privilege there at all. So `cove exec` never
// enters a namespace itself: it reads the container's record on the host,
// builds the process configuration, and starts the joining process.
//
// # Setup order in the container
//
// Main repeats the init's privilege steps (package initproc, whose helpers
// it shares) on a process that starts as root of the container's user
// namespace with every capability: pseudo-terminal, user lookup in the
// container's /etc/passwd, resource limits, bounding set, seccomp (here when
// no_new_privs is off: the kernel then wants CAP_SYS_ADMIN to load a
// filter, which a non-root user loses at the switch), user switch keeping
// the permitted set, working directory as the user (created nowhere: a
// missing one is an error, as in Docker), capabilities, command lookup in
// the container's PATH, no_new_privs and seccomp last, execve.
//
// Failures reach the caller on the sync socket (internal/runtime/proto
// messages): a command that is not found is exit code 127, one that cannot
// be run (a directory, no permission, a missing working directory's
// permission) 126, as Docker; any other setup failure is cove's (125).
package execproc

import (
	"github.com/cove-run/cove/internal/nsenter"
	"github.com/cove-run/cove/internal/runtime/proto"
)

// Role is argv[0] of the joining process; cmd/cove registers Main under it.
const Role = nsenter.Role

// Config is what the joining process needs, sent once as JSON on
// nsenter.ConfigFD. Names the container defines (the user, groups) are
// resolved inside the container, in its /etc/passwd and /etc/group, after
// the join; everything else is resolved by the caller.
type Config struct {
	Args []string `json:"args"`
	// Env is the complete environment; HOME is added from the user's
	// passwd entry when it is missing, as runc does.
	Env []string `json:"env,omitempty"`
	// Cwd is an absolute path in the container; it must exist.
	Cwd string `json:"cwd"`
	// User is user[:group], names or numbers ("" is root).
	User     string   `json:"user,omitempty"`
	GroupAdd []string `json:"groupAdd,omitempty"`

	Terminal    bool   `json:"terminal,omitempty"`
	ConsoleRows uint16 `json:"consoleRows,omitempty"`
	ConsoleCols uint16 `json:"consoleCols,omitempty"`

	// Caps are the sets of a root process in the container; for any other
	// user the effective, permitted and ambient sets are emptied, as the
	// container's own process gets them (the bounding set stays). nil
	// keeps every capability.
	Caps            *proto.Caps    `json:"caps,omitempty"`
	NoNewPrivileges bool           `json:"noNewPrivileges,omitempty"`
	Rlimits         []proto.Rlimit `json:"rlimits,omitempty"`
	// Seccomp is nil for an unconfined process.
	Seccomp *proto.Seccomp `json:"seccomp,omitempty"`
}
