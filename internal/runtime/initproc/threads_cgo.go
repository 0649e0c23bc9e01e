//go:build cgo

package initproc

// Capabilities are per thread, and a Go program has several threads that
// our code never runs on (sysmon, idle Ms, the template thread). Without
// --init that does not matter: execve keeps only the calling thread. With
// --init the init lives on as the container's PID 1, next to the
// container's processes, and its other threads must not keep what the main
// thread gave up (root's full capability and bounding sets): a container
// process allowed to ptrace PID 1 could otherwise run code on one of them.
//
// The Go runtime offers no way to run code on every thread of a cgo
// program (syscall.AllThreadsSyscall returns ENOTSUP there), so this file
// does what glibc does for setuid(2) in a threaded program: a signal
// handler, written in C so that it runs on the thread the signal
// interrupts, makes the change there; tgkill(2) sends the signal to each
// thread; /proc/self/task/TID/status tells which threads are done (a thread
// created meanwhile by one that was not yet done shows up there too and
// gets its own signal).

/*
#cgo CFLAGS: -Wall -O2
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// The request, written before any signal is sent (tgkill is a full
// barrier) and only read by the handler.
static volatile int cove_threads_op;                  // 1 bounding, 2 clear
static volatile unsigned long long cove_threads_keep; // op 1: set to keep
static volatile int cove_threads_last;                // highest cap number
static struct sigaction cove_threads_saved;

// Runs on the interrupted thread: raw system calls only (async-signal
// safe), errno preserved for the code it interrupted.
static void cove_threads_handler(int sig, siginfo_t *si, void *uc) {
	int saved_errno = errno;
	(void)sig;
	(void)uc;
	// Only our own tgkill: anything else (a stray kill(2) from outside)
	// must not change credentials.
	if (si->si_code == SI_TKILL && si->si_pid == getpid()) {
		if (cove_threads_op == 1) {
			// PR_CAPBSET_DROP works on the calling thread and needs
			// CAP_SETPCAP, which every thread still has at this point.
			for (int c = 0; c <= cove_threads_last; c++)
				if (!((cove_threads_keep >> c) & 1))
					syscall(SYS_prctl, (unsigned long)PR_CAPBSET_DROP, (unsigned long)c, 0UL, 0UL, 0UL);
		} else if (cove_threads_op == 2) {
			// Empty permitted, effective and inheritable sets; the kernel
			// clears the ambient set along with them.
			struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
			struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
			syscall(SYS_capset, &hdr, data);
		}
	}
	errno = saved_errno;
}

static int cove_threads_arm(int sig, int op, unsigned long long keep, int last) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = cove_threads_handler;
	// SA_ONSTACK: Go threads run on small goroutine stacks, signals go to
	// the alternate stack every Go thread has.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	cove_threads_op = op;
	cove_threads_keep = keep;
	cove_threads_last = last;
	if (sigaction(sig, &sa, &cove_threads_saved) != 0)
		return errno;
	return 0;
}

// Puts Go's handler back. A signal still queued for a thread then reaches
// Go's handler, which ignores a real-time signal nobody asked for.
static int cove_threads_disarm(int sig) {
	cove_threads_op = 0;
	if (sigaction(sig, &cove_threads_saved, NULL) != 0)
		return errno;
	return 0;
}
*/
import "C"

import (
	"fmt"
	"syscall"

	"github.com/cove-run/cove/internal/runtime/caps"
)

// onOtherThreads runs op on every thread but the calling one, until done
// reports every one of them as changed.
func onOtherThreads(op int, keep caps.Set, done func(threadCaps) bool) error {
	if e := C.cove_threads_arm(C.int(threadSignal), C.int(op), C.ulonglong(keep), C.int(caps.Last())); e != 0 {
		return fmt.Errorf("installing the handler of signal %d: %w", threadSignal, syscall.Errno(e))
	}
	defer C.cove_threads_disarm(C.int(threadSignal))
	return signalThreads(done)
}
