package initproc

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/runtime/caps"
	"github.com/cove-run/cove/internal/runtime/proto"
)

// The reaper (docker run --init, Config.Init).
//
// Design. The init does the whole setup as without --init, up to the state
// the command must start in: user and groups, capabilities, no_new_privs,
// seccomp filter, working directory, resource limits, umask. Then, instead
// of execve, it starts the command with syscall.ForkExec from its main
// thread (the one all that per-thread state was applied to; see init) and
// stays on as PID 1. The child therefore starts from exactly the state the
// command gets without --init, and its execve transforms it the same way
// (TestContainerInitSameState compares the two). Only what --init is about
// differs: the command is not PID 1; it leads a process group of its own,
// the terminal's foreground group with -t, so that ^C and SIGWINCH from
// the terminal reach it and not the reaper; it dies with the reaper
// (parent-death signal; without a pid namespace nothing else would kill
// it); and the signals the reaper handles start at their default
// disposition in it, even one the init inherited as ignored.
//
// Why not a fresh process: Go cannot fork without an immediate execve,
// and re-executing the cove binary as the reaper after pivot_root is not
// possible either: the binary is dynamically linked against the host's
// libc, which the container's root does not have. Hence the reaper is the
// init itself, a Go process whose other threads were started by the Go
// runtime long before setup, as root with every capability.
//
// What PID 1 keeps:
//   - credentials, seccomp filter and no_new_privs: the container's (the
//     set*id calls and the filter's TSYNC cover every thread), so the
//     reaper can do nothing the command could not;
//   - capabilities: CAP_KILL, when the command has it, to signal a
//     command that changed user, on its main thread; nothing on the others,
//     whose bounding sets are cut to the container's too (threads_linux.go:
//     capabilities are per thread). Until the main thread has dropped to
//     CAP_KILL, right after the fork, it holds the container's own sets,
//     never more;
//   - it is not dumpable: the container's processes cannot ptrace it, read
//     its memory or descriptors, or open /proc/1/exe, which is the cove
//     binary: the CVE-2019-5736 surface. A container given CAP_SYS_PTRACE
//     gets past that, and then finds the binary on a read-only mount (see
//     runtime.Start): EROFS, or ETXTBSY while it runs;
//   - descriptors: the container's stdio and the Go runtime's own poller;
//     the sync socket closes once the command runs, anything inherited by
//     accident was closed at start (closeInherited), and the parent keeps
//     the Go runtime from holding the host cgroup's files (GODEBUG).
//
// Signals. Every signal that can be caught, except those listed at
// forwarded, is forwarded to the command's process (not to its group), as
// Docker's tini does by default: a shell running a pipeline then decides
// what its children get. SIGCHLD makes the reaper collect every child that
// has exited, its own or an orphan reparented to it (it is PID 1, or a
// child subreaper without a pid namespace). When the command exits, the
// reaper exits with its status, 128+n when signal n killed it; the kernel
// then kills whatever is left in the pid namespace.
//
// Errors. A command that cannot be executed is reported over the sync
// socket exactly as without --init (ForkExec returns the execve error of
// the child), and the init exits 126 or 127. The reaper runs under the
// container's seccomp profile: a custom profile that denies what it needs
// (wait4, kill, rt_sigaction, tgkill, capset, the Go runtime's own calls)
// breaks --init, as it would break Docker's tini.

// reap starts the command and never returns unless that fails.
func reap(c *proto.Config, path string) error {
	// Before any container process exists. Dumpability is per process
	// (per mm); the child gets its own back at its execve.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fail("init", os.NewSyscallError("prctl(PR_SET_DUMPABLE)", err))
	}
	if unix.Getpid() != 1 {
		// No pid namespace of our own: orphans of the command would go to
		// the host's reaper; make them ours.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fail("init", os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err))
		}
	}
	// Handlers before the fork, so that neither the child's exit nor a
	// signal sent right after it starts is missed. One buffered SIGCHLD is
	// enough: every wake-up collects all exited children.
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, unix.SIGCHLD)
	fwd := make(chan os.Signal, 64)
	signal.Notify(fwd, forwarded()...)

	pid, err := syscall.ForkExec(path, c.Args, &syscall.ProcAttr{
		Env:   c.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			// Go's child calls setpgid, then (Foreground) TIOCSPGRP on
			// our fd 0, the terminal, with signals still blocked so that
			// it gets no SIGTTOU. A handled signal's disposition goes back
			// to the default in the child, as execve would do.
			Setpgid:    true,
			Foreground: c.Terminal,
			Ctty:       0,
			// Tied to this (main, pinned) thread, which lives as long as
			// the reaper.
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		signal.Reset()
		return execError(c.Args[0], path, err)
	}
	// As without --init, a profile that denies sendmsg only costs the
	// message: the parent sees EOF and finds the init alive.
	proto.Send(proto.SyncFD, proto.Message{Kind: proto.KindExec}, nil)
	unix.Close(proto.SyncFD)

	minimize()
	os.Exit(waitChild(pid, chld, fwd))
	return nil
}

// minimize drops what PID 1 no longer needs once the command runs: every
// capability but CAP_KILL on this thread, everything on the others
// (threads started since clearOtherThreads inherited this thread's sets).
// CAP_KILL only when the command has it too: a root command gets its
// capabilities from the bounding set at execve, a non-root one only its
// ambient ones (the spec's permitted set is what the init applied, not
// what a non-root command ends up with). Best effort: a seccomp profile may
// deny capset, and PID 1 then keeps the container's own sets, no more.
func minimize() {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		keep := caps.Set(0)
		if data[0].Permitted&(1<<unix.CAP_KILL) != 0 {
			ambient, _ := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, unix.CAP_KILL, 0, 0)
			if unix.Geteuid() == 0 || ambient == 1 {
				keep = 1 << unix.CAP_KILL
			}
		}
		caps.Apply(keep, keep, 0)
		caps.RaiseAmbient(0)
	}
	clearOtherThreads()
}

// waitChild forwards signals to child and collects exited children until
// child has exited; it returns child's exit code.
func waitChild(child int, chld, fwd <-chan os.Signal) int {
	for {
		select {
		case s := <-fwd:
			// ESRCH: the child is gone; its SIGCHLD is on the way.
			unix.Kill(child, s.(syscall.Signal))
			continue
		case <-chld:
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break // ECHILD, or nothing more has exited
			}
			if pid == child {
				switch {
				case ws.Exited():
					return ws.ExitStatus()
				case ws.Signaled():
					return 128 + int(ws.Signal())
				}
			}
		}
	}
}

// forwarded lists the signals the reaper passes on to the command: every
// signal but those that cannot be caught (SIGKILL, SIGSTOP), SIGCHLD (the
// reaper's own business), the faults a signal handler cannot take from
// outside (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: they would be
// the reaper's own), SIGURG (the Go runtime preempts its threads with it,
// so one from outside cannot be told apart and is dropped), SIGTTIN and
// SIGTTOU (the reaper is in the terminal's background group with -t),
// glibc's internal 32 and 33, and threadSignal. Built on each call: nothing
// for package initialization to do.
func forwarded() []os.Signal {
	list := make([]os.Signal, 0, 64)
	for s := syscall.Signal(1); s <= 64; s++ {
		switch s {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD,
			unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS,
			unix.SIGURG, unix.SIGTTIN, unix.SIGTTOU, 32, 33, threadSignal:
			continue
		}
		list = append(list, s)
	}
	return list
}
