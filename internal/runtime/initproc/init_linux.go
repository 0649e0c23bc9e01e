// Package initproc is the container's init process up to the execve of the
// container's command: the role proto.Role of the cove binary, started by
// package runtime in new namespaces. With Config.Init (docker run --init)
// it stays on as the container's PID 1 instead, a reaper that runs the
// command as its child: see reaper_linux.go.
//
// Setup runs in one fixed order; the comments in run say why each step sits
// where it does. Failures are reported to the parent over the sync socket
// (stage, errno, message) and the process exits; success is the execve
// itself, which closes the close-on-exec sync socket (the reaper closes it
// once its child has executed the command).
//
// The whole role runs on the main OS thread (see init). The Go runtime has
// other threads, which is why nothing here may use unshare(2) or setns(2)
// for the user or mount namespace (the kernel refuses them in a
// multithreaded process): the parent creates every namespace with clone
// flags, and the init only configures them.
package initproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/runtime/caps"
	"github.com/cove-run/cove/internal/runtime/mount"
	"github.com/cove-run/cove/internal/runtime/proto"
	"github.com/cove-run/cove/internal/runtime/seccomp"
)

// Role is the argv[0] under which cmd/cove registers Main.
const Role = proto.Role

// init pins the main goroutine to the main thread, before main runs, when
// this process is a container init. Capabilities, the parent-death signal,
// no_new_privs and the keep-capabilities bit are per-thread attributes and
// execve keeps only the calling thread's: every step and the execve must
// happen on one thread. The main thread is the one the parent's clone
// created, the one carrying the parent-death signal.
//
// And it runs the whole role from here, never returning: Go initializes
// packages in import-path order as soon as their imports are, so this
// package's init comes before most of the binary's (the image and storage
// libraries' regexps, grpc and protobuf registries, openpgp curve tables:
// three quarters of the 5-6 ms of package init), none of which the init
// uses. That is 4 ms off every container start. Everything this package
// imports, directly or not, is initialized by now; nothing else is needed.
func init() {
	if len(os.Args) > 0 && os.Args[0] == Role {
		runtime.LockOSThread()
		os.Exit(Main())
	}
}

// stageError is a setup failure with the step it happened in.
type stageError struct {
	stage string
	// exitCode is 126 or 127 for a failed execve of the container
	// command, 0 otherwise.
	exitCode int
	err      error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func fail(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: stage, err: err}
}

// Main is the entry point of the role. It only returns when setup failed,
// after reporting the failure; its result is the exit code.
func Main() int {
	// The sync socket must close at execve, so that the parent sees EOF
	// exactly when the container command has replaced us. Go passed it
	// (like every ExtraFiles entry) without close-on-exec.
	unix.CloseOnExec(proto.SyncFD)
	// The read-only view of our own binary is only needed to start us;
	// keeping it open would hand the container a descriptor to it.
	unix.Close(proto.ExeFD)
	// We were executed as /proc/self/fd/N, so ps would call us "N"; with
	// --init this name stays visible in the container as PID 1's. (Per
	// thread: this is the main thread, the one ps shows.)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&procName[0])), 0, 0, 0)

	err := run()
	m := proto.Message{Kind: proto.KindError, Stage: "init", Text: err.Error()}
	var se *stageError
	if errors.As(err, &se) {
		m.Stage, m.ExitCode = se.stage, se.exitCode
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	}
	if serr := proto.Send(proto.SyncFD, m, nil); serr != nil {
		// No parent to tell: stderr is all that is left.
		fmt.Fprintf(os.Stderr, "cove-init: %v\n", err)
	}
	if m.ExitCode != 0 {
		return m.ExitCode
	}
	return 1
}

// procName is the init's command name, NUL-terminated for prctl.
var procName = [...]byte{'c', 'o', 'v', 'e', '-', 'i', 'n', 'i', 't', 0}

func run() error {
	f := os.NewFile(proto.ConfigFD, "config")
	c, err := proto.ReadConfig(f)
	f.Close()
	if err != nil {
		return fail("config", err)
	}

	// As PID 1 the reaper keeps its descriptors for the container's
	// lifetime: let go of any the caller leaked to us.
	if c.Init {
		if err := closeInherited(); err != nil {
			return fail("init", err)
		}
	}

	// Files and directories we create (mount targets, the working
	// directory) get the usual modes whatever the caller's umask; the
	// container's processes inherit 022 too, as in Docker.
	unix.Umask(0o022)

	// 1. Mount propagation first, before anything is mounted (see
	// SetRootPropagation).
	if err := mount.SetRootPropagation(c.RootfsPropagation); err != nil {
		return fail("rootfs", err)
	}
	// 2. The rootfs becomes a mount point: pivot_root needs one.
	root, err := mount.OpenRootfs(c.Rootfs)
	if err != nil {
		return fail("rootfs", err)
	}
	// 3. The spec's mounts, in order, while host paths (bind sources, the
	// host's device nodes) are still reachable. proc is among them and is
	// mounted here, inside our new pid namespace, so it shows the
	// container's processes.
	for _, m := range c.Mounts {
		if err := root.Mount(m); err != nil {
			root.Close()
			return fail("mount", err)
		}
	}
	// 4. /dev contents after /dev itself and /dev/pts are mounted.
	devices := make([]mount.Device, len(c.Devices))
	for i, d := range c.Devices {
		devices[i] = mount.Device{Source: d.Source, Path: d.Path}
	}
	if err := root.SetupDev(devices, c.Terminal); err != nil {
		root.Close()
		return fail("dev", err)
	}
	root.Close()
	// 5. Switch root. Everything after this sees only the container's
	// tree; paths are container paths and cannot lead back to the host.
	if err := mount.PivotRoot(c.Rootfs); err != nil {
		return fail("pivot_root", err)
	}
	// 6. The terminal: opened in the container's own devpts instance,
	// which is only reachable as /dev/pts after the pivot. It needs
	// CAP_SYS_ADMIN for the /dev/console bind, so before the user switch.
	if c.Terminal {
		master, err := SetupConsole(c.ConsoleRows, c.ConsoleCols, c.UID, true)
		if err != nil {
			return fail("console", err)
		}
		err = proto.Send(proto.SyncFD, proto.Message{Kind: proto.KindConsole}, master)
		master.Close()
		if err != nil {
			return fail("console", fmt.Errorf("sending the terminal to the parent: %w", err))
		}
	}
	// 7. Sysctls are written through /proc/sys, so before /proc/sys
	// becomes read-only in the next step.
	if err := writeSysctls(c.Sysctl); err != nil {
		return fail("sysctl", err)
	}
	// 8. Masked and read-only paths, after every mount that could cover
	// them and after the sysctls.
	if err := mount.MaskPaths(c.MaskedPaths); err != nil {
		return fail("masked paths", err)
	}
	if err := mount.ReadonlyPaths(c.ReadonlyPaths); err != nil {
		return fail("read-only paths", err)
	}
	// 9. Names of the UTS namespace.
	if c.Hostname != "" {
		if err := unix.Sethostname([]byte(c.Hostname)); err != nil {
			return fail("hostname", fmt.Errorf("setting hostname %q: %w", c.Hostname, err))
		}
	}
	if c.Domainname != "" {
		if err := unix.Setdomainname([]byte(c.Domainname)); err != nil {
			return fail("hostname", fmt.Errorf("setting domain name %q: %w", c.Domainname, err))
		}
	}
	// 10. Resource limits while we are still root: raising a hard limit
	// needs CAP_SYS_RESOURCE.
	if err := setRlimits(c.Rlimits); err != nil {
		return fail("rlimits", err)
	}
	// 11. The working directory is created as root (Docker creates a
	// missing one, whoever the user is), and before a read-only root.
	cwd := c.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fail("cwd", fmt.Errorf("creating working directory: %w", err))
	}
	if c.RootReadonly {
		if err := mount.RemountReadonly("/"); err != nil {
			return fail("rootfs", err)
		}
	}

	// 12. Privileges, from most to least privileged step.
	sets := c.Caps
	filter := seccompFilter(c.Seccomp)
	// The bounding set first: dropping from it needs CAP_SETPCAP in the
	// effective set, which the user switch may clear.
	if sets != nil {
		if err := caps.DropBounding(caps.Set(sets.Bounding)); err != nil {
			return fail("capabilities", err)
		}
		// The reaper outlives this step on all its threads: the bounding
		// set of the others too (see threads_linux.go), while they still
		// have CAP_SETPCAP.
		if c.Init {
			if err := boundOtherThreads(caps.Set(sets.Bounding)); err != nil {
				return fail("capabilities", err)
			}
		}
	}
	// The parent-death signal the parent's clone gave us (0 when detached),
	// read now: the user switch below clears it (restored in step 12b), and
	// before any seccomp filter that might deny the read.
	pdeath, err := parentDeathSignal()
	if err != nil {
		return fail("user", err)
	}
	// Without no_new_privs the kernel accepts a seccomp filter only from a
	// thread with CAP_SYS_ADMIN, which a non-root container user no longer
	// has after the switch. So the filter goes in now, while we are root,
	// and must allow the few calls that remain (setgroups, setres[ug]id,
	// capset, prctl, chdir, execve): Docker's default profile does. With
	// no_new_privs it is loaded last, right before execve (step 14).
	if !c.NoNewPrivileges {
		if err := seccomp.Load(filter, false); err != nil {
			return fail("seccomp", err)
		}
	}
	if err := setUser(c.UID, c.GID, c.AdditionalGids); err != nil {
		return fail("user", err)
	}
	// As the container user and before capset, while a non-root user's
	// effective set is still empty, so that a directory the user may not
	// enter is an error, as in Docker (runc changes directory at the same
	// point).
	if err := unix.Chdir(cwd); err != nil {
		return fail("cwd", &os.PathError{Op: "chdir to working directory", Path: cwd, Err: err})
	}
	if sets != nil {
		// On the final uid: with PR_SET_KEEPCAPS the permitted set survived
		// the switch, and capset now trims it to the spec's sets. For a
		// non-root user without file capabilities the kernel then clears
		// permitted and effective at execve (ambient aside), as in Docker;
		// the bounding set stays.
		if err := caps.Apply(caps.Set(sets.Effective), caps.Set(sets.Permitted), caps.Set(sets.Inheritable)); err != nil {
			return fail("capabilities", fmt.Errorf("setting effective %#x, permitted %#x, inheritable %#x: %w",
				sets.Effective, sets.Permitted, sets.Inheritable, err))
		}
		if err := caps.RaiseAmbient(caps.Set(sets.Ambient)); err != nil {
			return fail("capabilities", err)
		}
	}
	unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
	// 12b. The parent-death signal back, after the last credential change
	// of this thread. The kernel (commit_creds) clears it whenever the
	// euid, egid, fsuid or fsgid changes, or the permitted set is not a
	// subset of the old one: so a non-root user's setresuid above always
	// cleared it (root's setresuid(0) changes nothing, which is why only
	// non-root containers outlived a killed parent). capset, the ambient
	// set and KEEPCAPS only lower or keep the sets and leave it alone, but
	// restoring after them, not between, makes that irrelevant. Nothing
	// after this point changes this thread's credentials: the other
	// threads' changes (clearOtherThreads, the reaper's minimize) are
	// theirs, and the command's execve keeps it unless it is a secure
	// exec (a set-id or file-capability binary: the kernel's choice).
	if pdeath != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(pdeath), 0, 0, 0); err != nil {
			return fail("user", fmt.Errorf("restoring the parent-death signal: %w", err))
		}
		// A parent that died while the signal was cleared never sends it:
		// give up rather than run a container nobody owns.
		if parentGone() {
			return fail("user", errors.New("the parent exited during setup"))
		}
	}
	// The reaper's other threads need no capability at all; without this,
	// a root container's would keep root's full sets (the user switch
	// above only empties them for a non-root user). After the switch:
	// glibc's setresuid needs CAP_SETUID on every thread.
	if c.Init {
		if err := clearOtherThreads(); err != nil {
			return fail("capabilities", err)
		}
	}

	// 12b. The parent may still be connecting the network namespace
	// (pasta): it has overlapped with the setup above, and the command
	// must not run before it is done.
	if c.WaitGo {
		m, fd, err := proto.Recv(proto.SyncFD)
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil || m.Kind != proto.KindGo {
			return fail("network", errors.New("the parent did not connect the network"))
		}
	}

	// 13. Find the command inside the container, with the container's
	// PATH and as the container user.
	path, err := lookPath(c.Args[0], c.Env)
	if err != nil {
		return err
	}
	if err := closeExtraFDs(); err != nil {
		return fail("exec", err)
	}

	// 14. Last: no_new_privs and the filter, as close to execve as
	// possible, so that the profile constrains the container and not our
	// setup. Load uses TSYNC so every thread of the Go runtime gets it.
	if c.NoNewPrivileges {
		if filter != nil {
			if err := seccomp.Load(filter, true); err != nil {
				return fail("seccomp", err)
			}
		} else if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail("no_new_privs", fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err))
		}
	}
	// 15. With --init, the command runs as our child, from this very
	// state, and we stay on as PID 1.
	if c.Init {
		return reap(c, path)
	}
	// An error here means a profile that denies sendmsg: the parent copes
	// (see runtime.Start), and the execve is what matters.
	proto.Send(proto.SyncFD, proto.Message{Kind: proto.KindExec}, nil)
	resetIgnoredSignals()
	err = syscall.Exec(path, c.Args, c.Env)
	return execError(c.Args[0], path, err)
}

// parentDeathSignal returns this thread's parent-death signal. The kernel
// writes it through the pointer in arg2 and returns 0: prctl's return value
// is not the signal (reading it as PrctlRetInt(PR_GET_PDEATHSIG, 0, ...)
// does, gets EFAULT, and so always "0": the bug that let a non-root
// container outlive its parent). unix.Syscall, an assembly function, so
// that the compiler keeps sig where the pointer says while the kernel
// writes it (unsafe.Pointer rule 4); an int32, the kernel's int.
func parentDeathSignal() (int, error) {
	var sig int32
	if _, _, e := unix.Syscall(unix.SYS_PRCTL, unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0); e != 0 {
		return 0, fmt.Errorf("prctl(PR_GET_PDEATHSIG): %w", e)
	}
	return int(sig), nil
}

// parentGone reports whether the parent's end of the sync socket is closed.
// In our own pid namespace getppid() is 0, so the socket is the only cheap
// way to see the parent.
func parentGone() bool {
	fds := []unix.PollFd{{Fd: proto.SyncFD, Events: unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLRDHUP) != 0
}

// closeExtraFDs marks every descriptor above stderr close-on-exec, so that
// nothing of ours (the caller's leftovers, the Go runtime's poller) reaches
// the container. The sync socket is among them, as it must be.
func closeExtraFDs() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Before Linux 5.11: walk /proc/self/fd (the container's procfs now,
	// but our PID is visible in it).
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing open files: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("listing open files: %w", err)
	}
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// closeInherited closes the descriptors we inherited by accident: every
// one without close-on-exec above the protocol's. The caller's process
// hands its children whatever it has open without close-on-exec (a
// shell's or make's leftovers); without --init the execve of the command
// closes them (closeExtraFDs), with it PID 1 would keep them. Descriptors
// the Go runtime opened are close-on-exec and stay.
func closeInherited() error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing open files: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("listing open files: %w", err)
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= proto.ExeFD {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
	return nil
}

// writeSysctls writes each key through /proc/sys. The parent has checked
// that every key is namespaced.
func writeSysctls(m map[string]string) error {
	for k, v := range m {
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("setting sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

func setRlimits(list []proto.Rlimit) error {
	for _, l := range list {
		// syscall.Setrlimit, not unix.Setrlimit: the Go runtime raised its
		// own soft RLIMIT_NOFILE at start and puts the original back at
		// execve unless the program set the limit itself, which only the
		// syscall package's wrapper tells it.
		rl := syscall.Rlimit{Cur: l.Soft, Max: l.Hard}
		if err := syscall.Setrlimit(l.Resource, &rl); err != nil {
			return fmt.Errorf("setting %s to %d/%d: %w", l.Name, l.Soft, l.Hard, err)
		}
	}
	return nil
}

// seccompFilter rebuilds the compiled filter from its wire form.
func seccompFilter(s *proto.Seccomp) *seccomp.Filter {
	if s == nil {
		return nil
	}
	f := &seccomp.Filter{Flags: s.Flags, Program: make([]bpf.RawInstruction, len(s.Program)/8)}
	for i := range f.Program {
		b := s.Program[i*8:]
		f.Program[i] = bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(b[0:]),
			Jt: b[2],
			Jf: b[3],
			K:  binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return f
}
