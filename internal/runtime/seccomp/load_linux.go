//go:build linux

package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs f in the calling process, to be inherited across execve.
// A nil f (an empty profile, see Compile) installs nothing.
//
// Call it as late as possible: on the OS thread that will call execve
// (runtime.LockOSThread), after every other setup step, immediately before
// the exec. From the moment it returns, every syscall of this process —
// including the Go runtime's own — is filtered, and a profile may deny calls
// the remaining setup code would need. Filters cannot be removed; they
// survive fork and execve.
//
// noNewPrivs sets PR_SET_NO_NEW_PRIVS first. The runtime decides it from the
// container's no-new-privileges setting; Load does not force it, because the
// kernel accepts a filter without it when the caller has CAP_SYS_ADMIN in its
// user namespace, which is the case for cove's container init (root in the
// container's user namespace). Without either, seccomp(2) fails with EACCES
// and the error says so.
//
// SECCOMP_FILTER_FLAG_TSYNC is always set: a Go process has several threads,
// and a filter installed without TSYNC applies only to the calling thread.
// With TSYNC the kernel installs it on every thread of the process
// atomically, so whichever thread ends up calling execve (execve kills the
// others and keeps its own filter) is filtered, and no goroutine can run
// unfiltered code on another thread in between.
func Load(f *Filter, noNewPrivs bool) error {
	if f == nil {
		return nil
	}
	n := len(f.Program)
	if n == 0 || n > maxInsns {
		return fmt.Errorf("seccomp: cannot load a program of %d instructions (1-%d)", n, maxInsns)
	}

	// Copy into the kernel's struct sock_filter layout (identical to
	// bpf.RawInstruction, but spelled out rather than cast).
	prog := make([]unix.SockFilter, n)
	for i, ins := range f.Program {
		prog[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(n), Filter: &prog[0]}

	if noNewPrivs {
		// Must come before seccomp(2): the kernel checks no_new_privs when
		// the filter is installed. It is per-thread state and TSYNC also
		// requires it on all threads, but the kernel's TSYNC path copies
		// no_new_privs to the synchronized threads itself.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("seccomp: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}

	flags := uintptr(unix.SECCOMP_FILTER_FLAG_TSYNC | f.Flags)
	// seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog). The kernel copies the
	// program during the call; prog must stay alive until it returns.
	r1, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	switch {
	case errno == unix.EACCES:
		return errors.New("seccomp: installing the filter needs no_new_privs or CAP_SYS_ADMIN in the current user namespace (EACCES)")
	case errno == unix.EINVAL && f.Flags != 0:
		return fmt.Errorf("seccomp: the kernel refused the filter or its flags %#x (EINVAL); SECCOMP_FILTER_FLAG_LOG needs Linux 4.14, SPEC_ALLOW 4.17", f.Flags)
	case errno != 0:
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	case r1 != 0:
		// With TSYNC, a positive return is the TID of a thread that could
		// not be synchronized (it already has an unrelated filter or is in
		// seccomp strict mode). Nothing was installed.
		return fmt.Errorf("seccomp: thread %d could not be synchronized (TSYNC)", r1)
	}
	return nil
}
