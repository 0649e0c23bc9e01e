package initproc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/runtime/caps"
)

// threadSignal carries a capability change to the init's other threads (see
// threads_cgo.go). A real-time signal: neither the Go runtime nor glibc
// uses any above 33, and the reaper does not forward this one.
const threadSignal = unix.Signal(42)

// What onOtherThreads does on each thread (the C handler's op).
const (
	opBounding = 1 // drop from the bounding set all but keep
	opClear    = 2 // empty permitted, effective and inheritable
)

// threadCaps are one thread's capability sets as /proc shows them.
type threadCaps struct {
	inh, prm, eff, bnd, amb uint64
}

// boundOtherThreads drops every capability not in keep from the bounding
// set of every thread but the calling one (which caps.DropBounding has
// done already). It must run while those threads still have CAP_SETPCAP:
// before the user switch, which empties a non-root user's sets.
func boundOtherThreads(keep caps.Set) error {
	err := onOtherThreads(opBounding, keep, func(t threadCaps) bool { return t.bnd&^uint64(keep) == 0 })
	if err != nil {
		return fmt.Errorf("limiting the bounding set of the init's threads: %w", err)
	}
	return nil
}

// clearOtherThreads empties the permitted, effective, inheritable and
// ambient sets of every thread but the calling one. It must run after the
// user switch: glibc makes every thread call setresuid(2) itself, which
// needs CAP_SETUID on each.
func clearOtherThreads() error {
	err := onOtherThreads(opClear, 0, func(t threadCaps) bool { return t.prm|t.eff|t.inh|t.amb == 0 })
	if err != nil {
		return fmt.Errorf("dropping the capabilities of the init's threads: %w", err)
	}
	return nil
}

// signalThreads sends threadSignal to every other thread until done holds
// for all of them. A thread that has not handled the signal after a while
// gets it again (it may have had signals blocked, as Go does briefly around
// thread creation); a queued duplicate is harmless.
func signalThreads(done func(threadCaps) bool) error {
	pid, self := unix.Getpid(), unix.Gettid()
	if pid != self {
		// init pins the main goroutine to the main thread, whose TID is
		// the PID; anything else means that pinning is broken.
		return fmt.Errorf("running on thread %d, not on the main thread %d", self, pid)
	}
	sent := map[int]time.Time{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pending, err := threadsNotDone(self, done)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		now := time.Now()
		if now.After(deadline) {
			return fmt.Errorf("thread %d did not handle signal %d", pending[0], threadSignal)
		}
		for _, tid := range pending {
			if t, ok := sent[tid]; ok && now.Sub(t) < 20*time.Millisecond {
				continue
			}
			// ESRCH: the thread has exited, which is as good.
			if err := unix.Tgkill(pid, tid, threadSignal); err != nil && err != unix.ESRCH {
				return fmt.Errorf("signalling thread %d: %w", tid, err)
			}
			sent[tid] = now
		}
		// A raw sleep of this thread: no Go timer, nothing else to run.
		unix.Nanosleep(&unix.Timespec{Nsec: 50_000}, nil)
	}
}

// threadsNotDone lists the threads other than self for which done is false.
func threadsNotDone(self int, done func(threadCaps) bool) ([]int, error) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("listing the init's threads: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("listing the init's threads: %w", err)
	}
	var pending []int
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil || tid == self {
			continue
		}
		t, err := readThreadCaps(tid)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // exited meanwhile
		}
		if err != nil {
			return nil, err
		}
		if !done(t) {
			pending = append(pending, tid)
		}
	}
	return pending, nil
}

func readThreadCaps(tid int) (threadCaps, error) {
	var t threadCaps
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return t, err
	}
	seen := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "CapInh":
			dst = &t.inh
		case "CapPrm":
			dst = &t.prm
		case "CapEff":
			dst = &t.eff
		case "CapBnd":
			dst = &t.bnd
		case "CapAmb":
			dst = &t.amb
		default:
			continue
		}
		if *dst, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
			return t, fmt.Errorf("thread %d: parsing %s %q: %w", tid, k, v, err)
		}
		seen++
	}
	if seen < 4 { // CapAmb only exists since Linux 4.3
		return t, fmt.Errorf("thread %d: no capability sets in /proc/self/task/%d/status", tid, tid)
	}
	return t, nil
}
