// Package nsenter joins a running container's namespaces for `cove exec`,
// in a C constructor (nsenter_linux.c) that runs before the Go runtime
// starts: setns(2) into a user or mount namespace is refused to a
// multithreaded process, and the Go runtime is multithreaded from its
// first instruction. The constructor acts only in a process started with
// argv[0] = Role; cmd/cove imports this package so that it is linked in.
//
// The constructor opens every namespace of the target process, joins its
// user namespace, re-executes the binary through a read-only view of it
// (so that nothing in the container can open the cove binary for writing
// through /proc/PID/exe), joins the other namespaces and forks: the child,
// in the container's pid namespace, returns into the Go runtime and runs
// Role's entry point (package internal/runtime/execproc); the parent stays
// behind on the host, relays signals to the child and exits with its
// status. See the comment at the top of nsenter_linux.c for the details
// and the reasons for the order.
package nsenter

// Role is argv[0] of the process that joins a container.
const Role = "cove-exec"

// Environment of a Role process, read by the constructor.
const (
	// EnvPid is the PID of the container's first process, in the
	// caller's pid namespace, whose namespaces are joined.
	EnvPid = "_COVE_EXEC_PID"
	// EnvExeFD, when set, is the descriptor number of the read-only view
	// of the binary that the caller executed the Role process from; the
	// constructor closes it.
	EnvExeFD = "_COVE_EXEC_EXEFD"
	// EnvDetach, when set, makes the parent exit right after the fork
	// instead of waiting for the command (exec -d).
	EnvDetach = "_COVE_EXEC_DETACH"
)

// Descriptors of a Role process, fixed by the caller.
const (
	// ConfigFD is a pipe carrying the process configuration, read by the
	// Go side of the child.
	ConfigFD = 3
	// SyncFD is a SOCK_SEQPACKET socket to the caller: errors (the
	// constructor's and the Go side's) as internal/runtime/proto
	// messages, the terminal's master as SCM_RIGHTS, and EOF once the
	// command has been executed.
	SyncFD = 4
	// PidFD is a pidfd of the container's first process: the constructor
	// checks it is still alive after opening /proc/PID/ns/*, so that a
	// reused PID cannot lead it into another process's namespaces.
	PidFD = 5
	// ExeFD is where the caller passes the read-only view of the binary,
	// if it has one (see EnvExeFD).
	ExeFD = 6
)
