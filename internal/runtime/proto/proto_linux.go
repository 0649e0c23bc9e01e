// Package proto is the wire protocol between the runtime's parent side
// (package runtime) and the container's init process (package initproc).
//
// The parent starts the init as /proc/self/exe with argv[0] = Role and three
// extra file descriptors:
//
//	ConfigFD  a pipe: the parent writes one JSON Config and closes it;
//	          or, with PlanEnv in the init's environment, a plan for the
//	          C init in its binary encoding (runtime's cplan_linux.go)
//	SyncFD    a SOCK_SEQPACKET socket: the init sends Messages, one per
//	          packet; the init marks it close-on-exec, so a successful
//	          execve of the container command is seen by the parent as EOF
//	ExeFD     the read-only view of the cove binary the init was executed
//	          from (see runtime.Start); the init closes it at once
//
// A packet-oriented socket keeps message boundaries without framing and can
// carry the pseudo-terminal's master descriptor (SCM_RIGHTS) next to the
// message announcing it. The configuration travels over a separate pipe
// because a spec with a seccomp profile can exceed what one packet may hold.
package proto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Role is argv[0] of the container's init process; cmd/cove registers
// initproc.Main under it.
const Role = "cove-init"

// PlanEnv, in the init's environment, says that ConfigFD carries a plan
// for the C init (initproc's cinit_linux.c, which runs before the Go
// runtime) instead of a JSON Config for the Go init.
const PlanEnv = "_COVE_INIT_PLAN"

// CInitLinked is set by package initproc when this binary has the C init
// (a cgo build); the parent sends plans only then.
var CInitLinked bool

// File descriptor numbers in the init process.
const (
	ConfigFD = 3
	SyncFD   = 4
	ExeFD    = 5
)

// Config is everything the init needs, sent once as JSON. It is the spec
// digested by the parent: names are resolved to numbers (capabilities,
// resource limits), the seccomp profile is compiled, and only what the init
// acts on is included. Besides moving every check that can fail early to
// before the clone, this keeps the init's decoding cheap: the first
// decoding of the full specs.Spec type costs well over a millisecond in a
// fresh process.
type Config struct {
	Rootfs            string        `json:"rootfs"`
	RootReadonly      bool          `json:"rootReadonly,omitempty"`
	RootfsPropagation string        `json:"rootfsPropagation,omitempty"`
	Mounts            []specs.Mount `json:"mounts,omitempty"`
	// Devices are extra device nodes to bind from the host.
	Devices       []Device          `json:"devices,omitempty"`
	MaskedPaths   []string          `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string          `json:"readonlyPaths,omitempty"`
	Hostname      string            `json:"hostname,omitempty"`
	Domainname    string            `json:"domainname,omitempty"`
	Sysctl        map[string]string `json:"sysctl,omitempty"`

	Args           []string `json:"args"`
	Env            []string `json:"env,omitempty"`
	Cwd            string   `json:"cwd"`
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
	Terminal       bool     `json:"terminal,omitempty"`
	ConsoleRows    uint16   `json:"consoleRows,omitempty"`
	ConsoleCols    uint16   `json:"consoleCols,omitempty"`
	// Caps is nil when the spec has no capabilities object: the process
	// then keeps all of root's, as with runc.
	Caps            *Caps    `json:"caps,omitempty"`
	NoNewPrivileges bool     `json:"noNewPrivileges,omitempty"`
	Rlimits         []Rlimit `json:"rlimits,omitempty"`
	// Seccomp is nil when the container is unconfined.
	Seccomp *Seccomp `json:"seccomp,omitempty"`
	// Init keeps the init as the container's PID 1, a reaper that runs
	// the command as its child (docker run --init; see initproc).
	Init bool `json:"init,omitempty"`
	// WaitGo makes the init wait, after its setup and before it looks up
	// and executes the command, for a KindGo message from the parent
	// (which meanwhile connects the network namespace); EOF instead means
	// the parent gave up.
	WaitGo bool `json:"waitGo,omitempty"`
}

// Device is a host device node (Source) to bind at Path in the container.
type Device struct {
	Path   string `json:"path"`
	Source string `json:"source"`
}

// Caps are capability sets as bit masks (bit n: capability n).
type Caps struct {
	Bounding    uint64 `json:"bounding"`
	Effective   uint64 `json:"effective"`
	Permitted   uint64 `json:"permitted"`
	Inheritable uint64 `json:"inheritable"`
	Ambient     uint64 `json:"ambient"`
}

// Rlimit is one resource limit; Name is for messages.
type Rlimit struct {
	Name     string `json:"name"`
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Seccomp is a compiled filter: Program holds the kernel's struct
// sock_filter array (8 bytes per instruction, native byte order), which
// JSON carries as one base64 string rather than an array of objects.
type Seccomp struct {
	Program []byte `json:"program"`
	Flags   uint   `json:"flags,omitempty"`
}

// Message kinds sent by the init.
const (
	// KindConsole carries the pseudo-terminal master as SCM_RIGHTS.
	KindConsole = "console"
	// KindExec is sent right before execve (with Config.Init: right after
	// the command has been executed in the reaper's child). EOF after it
	// means the command runs; EOF without it means the init died during
	// setup.
	KindExec = "exec"
	// KindGo, from the parent to an init with Config.WaitGo: proceed to
	// the command.
	KindGo = "go"
	// KindError reports a failed step; the init exits after sending it.
	KindError = "error"
)

// Message is one packet on SyncFD.
type Message struct {
	Kind string `json:"kind"`
	// Stage names the setup step that failed (KindError).
	Stage string `json:"stage,omitempty"`
	// Errno is the failing system call's errno, 0 if none.
	Errno int `json:"errno,omitempty"`
	// Text is the complete error message (KindError).
	Text string `json:"text,omitempty"`
	// ExitCode is set when execve of the container command failed: 127
	// for a command that was not found, 126 for one that cannot be run.
	ExitCode int `json:"exitCode,omitempty"`
	// Init is "c" in the KindExec message of the C init.
	Init string `json:"init,omitempty"`
}

// maxPacket bounds one message; error texts are short.
const maxPacket = 64 << 10

// Send writes m as one packet on the socket fd, passing file along as
// SCM_RIGHTS when it is not nil.
func Send(fd int, m Message, file *os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(b) > maxPacket {
		m.Text = m.Text[:maxPacket/2] + "..."
		if b, err = json.Marshal(m); err != nil {
			return err
		}
	}
	var oob []byte
	if file != nil {
		oob = unix.UnixRights(int(file.Fd()))
	}
	for {
		err = unix.Sendmsg(fd, b, oob, nil, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// Recv reads one packet from the socket fd. It returns io.EOF when the peer
// has closed its end (or execve closed it), and the descriptor passed with
// the message, close-on-exec, or -1.
func Recv(fd int) (Message, int, error) {
	var m Message
	buf := make([]byte, maxPacket)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		// MSG_CMSG_CLOEXEC: a received descriptor must not leak into
		// processes the caller starts later.
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return m, -1, err
	}
	if n == 0 && oobn == 0 {
		return m, -1, io.EOF
	}
	passed := -1
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return m, -1, fmt.Errorf("parsing control message: %w", err)
		}
		for _, c := range cmsgs {
			fds, err := unix.ParseUnixRights(&c)
			if err != nil {
				continue
			}
			for _, f := range fds {
				if passed < 0 {
					passed = f
				} else {
					unix.Close(f)
				}
			}
		}
	}
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		if passed >= 0 {
			unix.Close(passed)
		}
		return m, -1, fmt.Errorf("decoding message from init: %w", err)
	}
	return m, passed, nil
}

// ReadConfig decodes the Config from r until EOF.
func ReadConfig(r io.Reader) (*Config, error) {
	var c Config
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return nil, fmt.Errorf("reading the container configuration: %w", err)
	}
	if c.Rootfs == "" || len(c.Args) == 0 {
		return nil, errors.New("reading the container configuration: no rootfs or no command")
	}
	return &c, nil
}
