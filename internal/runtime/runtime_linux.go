// Package runtime is cove's built-in OCI runtime, parent side: it starts a
// container's init process (package initproc, the role proto.Role of this
// same binary) in new namespaces, hands it the spec, and reports either a
// running container or a typed setup error. There is no runc and no
// conmon; the caller (the engine, later the monitor) is the container's
// parent and supervisor.
//
// # Process model
//
// Start clones /proc/self/exe with the spec's namespaces as clone flags
// (the user and mount namespaces cannot be entered later: the Go runtime is
// multithreaded by the time our code runs). The init configures the
// namespaces from inside (mounts, pivot_root, hostname, capabilities,
// seccomp) and then execve's the container command, which keeps its PID.
// Joining existing namespaces (a namespace with a path) needs a
// single-threaded process and is not supported here: Start returns
// errdefs.ErrUnsupported.
//
// The init is normally initproc's C init (cinit_linux.c), which runs from
// the binary's C constructor and executes a plan that Start digests from
// the spec before the clone (cplan_linux.go): no Go runtime starts in the
// container. The Go init (initproc.Main) remains for a terminal, --init
// and the few specs the planner refuses; see cplan_linux.go.
//
// # Parent death
//
// The init is started with a parent-death signal of SIGKILL. The kernel
// clears it when credentials change; initproc restores it after the user
// switch, and the execve of the container command keeps it (unless that
// command is set-user-ID or has file capabilities). So the container's
// first process dies with the process that called Start, and with a pid
// namespace the kernel then kills every other process of the container
// too; without one, only the first process dies. The signal is tied to the
// OS thread that called clone, not to the process: the Go runtime only
// retires a thread when a goroutine exits while locked to it, so do not
// call Start from a goroutine that is locked to its thread and about to
// exit. A future monitor process, as the parent, will own containers that
// outlive the CLI.
//
// # Protecting the cove binary
//
// A container must never be able to open the cove binary for writing
// (CVE-2019-5736: a container process that gets hold of the runtime's
// /proc/PID/exe, for example by making the runtime execute
// "#!/proc/self/exe", can overwrite the host binary once the runtime has
// exited). Start therefore never executes the binary through its real
// path: it executes it through a read-only, detached bind mount of the
// binary (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY),
// Linux 5.12), made once per process and visible in no mount namespace.
// The init's /proc/PID/exe, and anything the kernel executes through it,
// then refers to that read-only mount, and an open for writing fails with
// EROFS (ETXTBSY while the binary runs) whoever owns the file. Where the
// kernel lacks those calls, a sealed memfd copy of the binary is executed
// instead, which costs a copy of the binary once per process.
//
// # Mounts
//
// The init performs the spec's mounts in order, resolving every target
// inside the rootfs (openat2 RESOLVE_IN_ROOT, Linux 5.6) and creating
// missing targets there. Where a user namespace forbids a fresh instance,
// it falls back to what the kernel allows, as podman does: /proc needs a
// pid namespace owned by our user namespace and /sys a network namespace
// owned by it, so a rootless container sharing the host's pid or network
// namespace gets a recursive bind of the host's /proc, or a read-only one
// of the host's /sys (same for mqueue without an IPC namespace). A tmpfs on
// /dev gets the standard devices as binds of the host's nodes (mknod is
// refused in a user namespace), /dev/ptmx pointing into the container's
// own devpts instance, and the /proc/self/fd links. Read-only binds repeat
// the flags the kernel locks on mounts inherited from a more privileged
// namespace. The spec is digested (names resolved, seccomp compiled) before
// the clone, so mistakes fail with exit code 125 before any process exists.
//
// # Terminal
//
// With process.terminal, the init allocates the pseudo-terminal in the
// container's own devpts instance (mounted with newinstance), makes the
// slave its controlling terminal and stdio and binds it on /dev/console,
// then sends the master back over the sync socket (SCM_RIGHTS), as runc's
// console socket does. A pty allocated by the parent in the host's devpts
// would not exist in the container's /dev/pts, so tty(1) and /dev/console
// would point at nothing. Process.Console returns the master; raw mode and
// SIGWINCH are the caller's business, Process.Resize sets the size.
//
// # Init
//
// With the annotation AnnotationInit (docker run --init), the init does
// not execute the command: after the same setup it starts the command as
// its child, from exactly the state it would have executed it in, and
// stays on as the container's PID 1, a reaper built into cove (no tini
// binary). It forwards the signals it gets to the command (so Signal and
// the stop signal reach it even when it does not handle them), collects
// every exited process of the container, and exits with the command's
// status. It keeps only CAP_KILL, runs as the container user under the
// container's seccomp filter, and is not dumpable, so the container cannot
// reach into it or open the cove binary through /proc/1/exe. Process.Pid
// is then the reaper's PID. See initproc's reaper_linux.go for the design.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime/proto"
)

// AnnotationInit, set to "true" in a spec's annotations, keeps cove's
// init as the container's PID 1: a reaper that runs the command as its
// child, forwards signals to it, reaps orphans and exits with the
// command's status (docker run --init; see "Init" in the package
// documentation).
const AnnotationInit = "run.cove.init"

// Options describe a container to start.
type Options struct {
	// Spec describes the container. Root.Path is the already mounted
	// root filesystem, an absolute path; Process.Args must not be empty.
	// Start does not modify it.
	Spec *specs.Spec

	// Stdin, Stdout and Stderr are the container's standard streams when
	// Spec.Process.Terminal is false (they are ignored otherwise). An
	// *os.File is handed to the container as is; any other reader or
	// writer goes through a pipe that a goroutine copies until Wait
	// returns. nil means /dev/null.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Detached leaves out the parent-death signal: the caller (cove's
	// launcher) exits right after the start, and the container, re-parented
	// to its monitor (a child subreaper), must live on.
	Detached bool

	// BeforeSetup, if set, runs once the init exists in its new
	// namespaces, concurrently with the init's setup: the init waits for
	// it before it executes the command, and Start returns only after it
	// has returned. cove connects the container's network namespace here
	// (/proc/PID/ns/net), so that the command finds its network up. An
	// error kills the init and is returned.
	BeforeSetup func(pid int) error

	// NetNS, if set, is a network namespace the init joins instead of
	// creating one (the spec must still ask for a network namespace): cove
	// makes it ahead of the init so that its network helper can start
	// while the container is being created. The init joins it in the C
	// constructor, before the Go runtime starts threads (setns changes
	// only the calling thread's namespace).
	NetNS *os.File
}

// netnsFDEnv names the init's descriptor of Options.NetNS; the C
// constructor in internal/userns reads it.
const netnsFDEnv = "_COVE_INIT_NETNS_FD"

// waitNetNSJoined waits until process pid is in the network namespace ns
// (same device and inode), which the init's constructor joins right after
// its execve: about a millisecond. An init that dies first fails the wait.
func waitNetNSJoined(pid int, ns *os.File) error {
	var want unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &want); err != nil {
		return err
	}
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	deadline := time.Now().Add(10 * time.Second)
	for delay := 50 * time.Microsecond; ; {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return fmt.Errorf("the container init exited before joining its network namespace: %w", err)
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the container init did not join its network namespace within 10 s")
		}
		time.Sleep(delay)
		if delay < 2*time.Millisecond {
			delay *= 2
		}
	}
}

// InitError is a failure of the container's init before it could execute
// the container command. Its message names the object and the failed step
// ("mounting tmpfs at /run: invalid argument (flags nosuid; data size=x)").
type InitError struct {
	// Stage is the setup step: "config", "rootfs", "mount", "dev",
	// "pivot_root", "console", "sysctl", "masked paths",
	// "read-only paths", "hostname", "rlimits", "cwd", "capabilities",
	// "seccomp", "user", "no_new_privs", "network" (the parent did not
	// let it go on), "exec", or "init" when the init
	// died without saying why.
	Stage string
	// Errno is the failing system call's error, 0 if none.
	Errno syscall.Errno
	Msg   string
}

func (e *InitError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, unix.ENOENT) and the like work.
func (e *InitError) Unwrap() error {
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}

// Start starts the container described by opts and returns once the
// container command has been executed, or with an error:
//
//   - errdefs.ErrInvalidArgument or errdefs.ErrUnsupported (exit code 125)
//     for a spec Start cannot run, before any process is created;
//   - an *errdefs.ExitError with Code 127 (command not found) or 126
//     (command cannot be executed: a directory, no permission, bad
//     format), wrapping an *InitError;
//   - an *InitError for any other setup failure (exit code 125).
//
// ctx bounds the start only: if it is done before the command runs, the
// init is killed and ctx's error returned. It has no effect afterwards.
//
// Start is safe for concurrent use.
func Start(ctx context.Context, opts Options) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := opts.Spec
	ns, err := validate(s)
	if err != nil {
		return nil, err
	}
	filter, err := compileSeccomp(s)
	if err != nil {
		return nil, err
	}
	exe, err := initExecutable()
	if err != nil {
		return nil, err
	}
	c, err := buildConfig(s, filter)
	if err != nil {
		return nil, err
	}
	c.WaitGo = opts.BeforeSetup != nil
	// The C init when it can (see cplan_linux.go), else the Go init.
	cfg, cinit := cPlan(c, s, ns.flags&unix.CLONE_NEWUSER != 0)
	if !cinit {
		if cfg, err = json.Marshal(c); err != nil {
			return nil, fmt.Errorf("encoding the container configuration: %w", err)
		}
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// SOCK_SEQPACKET keeps message boundaries and carries SCM_RIGHTS;
	// close-on-exec so that no other child of ours inherits our end, and
	// so that the init's end closes at its execve.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cfgR.Close()
		return nil, fmt.Errorf("creating the sync socket: %w", err)
	}
	parentSock := os.NewFile(uintptr(pair[0]), "sync")
	childSock := os.NewFile(uintptr(pair[1]), "sync-child")
	defer parentSock.Close()

	proc := s.Process
	cmd := &exec.Cmd{
		// fd ExeFD in the child is the read-only view of our binary (see
		// the package documentation). The path is resolved by the child's
		// execve, after Go has moved ExtraFiles into place.
		Path: fmt.Sprintf("/proc/self/fd/%d", proto.ExeFD),
		Args: []string{proto.Role},
		// The init needs nothing from the environment, and the container's
		// comes from the spec; an empty one keeps the caller's secrets out.
		// Only this for the Go runtime: without it, the runtime keeps the
		// host cgroup's cpu limit files open for the life of the process
		// to adjust GOMAXPROCS, and the --init reaper lives as long as the
		// container.
		Env:        []string{"GODEBUG=containermaxprocs=0,updatemaxprocs=0"},
		ExtraFiles: []*os.File{cfgR, childSock, exe},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: ns.flags,
			// Own session and process group: terminal signals (^C) reach
			// the caller, which decides what to forward; and a session
			// leader without a terminal can acquire the container's pty.
			Setsid:    true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if cinit {
		cmd.Env = append(cmd.Env, proto.PlanEnv+"=1")
	}
	if opts.Detached {
		cmd.SysProcAttr.Pdeathsig = 0
	}
	if opts.NetNS != nil && ns.has[specs.NetworkNamespace] {
		cmd.SysProcAttr.Cloneflags &^= unix.CLONE_NEWNET
		cmd.ExtraFiles = append(cmd.ExtraFiles, opts.NetNS)
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", netnsFDEnv, 2+len(cmd.ExtraFiles)))
	}
	if ns.flags&unix.CLONE_NEWUSER != 0 {
		// Written by the Go runtime from this process between clone and
		// the child's execve; needs privilege over the mapped IDs.
		cmd.SysProcAttr.UidMappings = idMaps(s.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(s.Linux.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Our own IDs are usually not in those maps; become the
		// namespace's root before the execve, or it would drop every
		// capability the child holds as the namespace's creator.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if !proc.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	}
	// Write the configuration while the child starts, so that it is
	// waiting in the pipe when the init first reads. A goroutine, because
	// a large spec may not fit the pipe's buffer. A write error means the
	// init died (or never started), which the socket or cmd.Start tells.
	go func() {
		cfgW.Write(cfg)
		cfgW.Close()
	}()
	err = cmd.Start()
	cfgR.Close()
	childSock.Close()
	if err != nil {
		return nil, fmt.Errorf("starting the container init with namespaces %s: %w", ns.names, err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	// The hook overlaps with the init's setup; the init waits for KindGo
	// (or EOF, when we give up) before its command. It runs on this
	// goroutine, hence this thread: a process it starts with a
	// parent-death signal must not die with some other thread (the
	// launcher's execve into the monitor ends every thread but the
	// leader).
	syncDone := make(chan SyncResult, 1)
	go func() { syncDone <- ReadSync(int(parentSock.Fd())) }()
	var hookErr error
	if opts.BeforeSetup != nil {
		if opts.NetNS != nil {
			// The init joins NetNS only once its C constructor runs, after
			// its execve; until then /proc/PID/ns/net is ours, and a hook
			// that opens it (cove-netd plugging in a user network's veth)
			// would get the wrong namespace.
			hookErr = waitNetNSJoined(cmd.Process.Pid, opts.NetNS)
		}
		if hookErr == nil {
			hookErr = opts.BeforeSetup(cmd.Process.Pid)
		}
		if hookErr != nil {
			cmd.Process.Kill()
		} else {
			proto.Send(int(parentSock.Fd()), proto.Message{Kind: proto.KindGo}, nil)
		}
	}
	res := <-syncDone
	// An init that failed on its own (and exited) is the cause even when
	// the hook failed too: a C init that fails within a millisecond may be
	// gone before waitNetNSJoined sees it in its network namespace.
	if hookErr != nil && res.Err == nil {
		if res.Console != nil {
			res.Console.Close()
		}
		cmd.Process.Kill()
		cmd.Wait()
		return nil, hookErr
	}
	if !stop() {
		// ctx was done first and the init has been killed.
		if res.Console != nil {
			res.Console.Close()
		}
		cmd.Process.Kill()
		cmd.Wait()
		return nil, ctx.Err()
	}
	if res.Err == nil && !res.Exec && exitedSoon(cmd.Process.Pid) {
		res.Err = &InitError{Stage: "init", Msg: "the container init exited during setup"}
		if res.RecvErr != nil {
			res.Err.Msg += " (" + res.RecvErr.Error() + ")"
		}
	}
	if res.Err != nil {
		if res.Console != nil {
			res.Console.Close()
		}
		cmd.Process.Kill()
		werr := cmd.Wait()
		if res.Err.Stage == "init" && werr != nil {
			res.Err.Msg += ": " + werr.Error()
		}
		if res.ExitCode != 0 {
			return nil, &errdefs.ExitError{Code: res.ExitCode, Err: res.Err}
		}
		return nil, res.Err
	}
	setupBy := "go"
	if res.Init == "c" {
		setupBy = "c"
	}
	return &Process{cmd: cmd, console: res.Console, setupBy: setupBy, done: make(chan struct{})}, nil
}

// SyncResult is what a started init (or cove-exec) said on its sync
// socket before it executed the command or died.
type SyncResult struct {
	// Console is the terminal's master side it passed, nil without one.
	Console *os.File
	// Exec is set when it announced the execve of the command.
	Exec bool
	// Init is the announcement's Init: "c" from the C init.
	Init string
	// Err is the first setup failure it reported, with ExitCode (126 or
	// 127 for a command that could not be executed, else 0).
	Err      *InitError
	ExitCode int
	// RecvErr is a failure of the socket itself.
	RecvErr error
}

// ReadSync reads the messages on a sync socket until EOF, which comes when
// the other side has executed the command (its end is close-on-exec) or
// has exited. cove-exec speaks the same protocol.
func ReadSync(fd int) SyncResult {
	var r SyncResult
	for resets := 0; ; {
		m, passed, err := proto.Recv(fd)
		if err == unix.ECONNRESET && resets < 4 {
			// The other side exited with a message of ours unread (the
			// parent's "go" to an init that had just failed): the kernel
			// flags the reset once, and the packets it sent before
			// exiting, its error among them, are still queued.
			r.RecvErr = err
			resets++
			continue
		}
		if err != nil {
			if err != io.EOF {
				r.RecvErr = err
			}
			return r
		}
		if m.Kind == proto.KindConsole && passed >= 0 && r.Console == nil {
			// Non-blocking before os.NewFile, so that the file uses Go's
			// poller: Close then interrupts a pending Read, and deadlines
			// work, which a CLI copying to and from the terminal needs.
			if err := unix.SetNonblock(passed, true); err != nil {
				unix.Close(passed)
				r.RecvErr = err
				continue
			}
			r.Console = os.NewFile(uintptr(passed), "console")
			continue
		}
		if passed >= 0 {
			unix.Close(passed)
		}
		switch m.Kind {
		case proto.KindExec:
			r.Exec = true
			r.Init = m.Init
		case proto.KindError:
			// The first failure is the cause; later ones follow from it.
			if r.Err == nil {
				r.Err = &InitError{Stage: m.Stage, Errno: syscall.Errno(m.Errno), Msg: m.Text}
				r.ExitCode = m.ExitCode
			}
		}
	}
}

// exitedSoon tells, after EOF without the "exec" message, a dead init from
// one that did execute its command but could not say so (a seccomp profile
// that denies sendmsg). A dead process closes its files before it becomes a
// zombie, so give it a moment.
func exitedSoon(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return errors.Is(err, unix.ESRCH)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(200 * time.Millisecond)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline)/time.Millisecond)+1)
		if err == unix.EINTR && time.Now().Before(deadline) {
			continue
		}
		return err == nil && n > 0
	}
}

func idMaps(in []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(in))
	for i, m := range in {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}
