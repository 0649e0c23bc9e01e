// Package caps sets the capability sets of the container's init process
// with raw capset(2) and prctl(2) calls.
//
// Capabilities are per thread, not per process. The caller must run on the
// OS thread that will call execve (runtime.LockOSThread): execve keeps the
// calling thread's sets, and every other thread vanishes.
package caps

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Set is a capability bit mask: bit n is capability number n.
type Set uint64

// Has reports whether the capability numbered c is in s.
func (s Set) Has(c int) bool { return s&(1<<uint(c)) != 0 }

// names maps capability numbers to names without the "CAP_" prefix, as
// spelled by the kernel's include/uapi/linux/capability.h.
var names = [...]string{
	unix.CAP_CHOWN:              "CHOWN",
	unix.CAP_DAC_OVERRIDE:       "DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH:    "DAC_READ_SEARCH",
	unix.CAP_FOWNER:             "FOWNER",
	unix.CAP_FSETID:             "FSETID",
	unix.CAP_KILL:               "KILL",
	unix.CAP_SETGID:             "SETGID",
	unix.CAP_SETUID:             "SETUID",
	unix.CAP_SETPCAP:            "SETPCAP",
	unix.CAP_LINUX_IMMUTABLE:    "LINUX_IMMUTABLE",
	unix.CAP_NET_BIND_SERVICE:   "NET_BIND_SERVICE",
	unix.CAP_NET_BROADCAST:      "NET_BROADCAST",
	unix.CAP_NET_ADMIN:          "NET_ADMIN",
	unix.CAP_NET_RAW:            "NET_RAW",
	unix.CAP_IPC_LOCK:           "IPC_LOCK",
	unix.CAP_IPC_OWNER:          "IPC_OWNER",
	unix.CAP_SYS_MODULE:         "SYS_MODULE",
	unix.CAP_SYS_RAWIO:          "SYS_RAWIO",
	unix.CAP_SYS_CHROOT:         "SYS_CHROOT",
	unix.CAP_SYS_PTRACE:         "SYS_PTRACE",
	unix.CAP_SYS_PACCT:          "SYS_PACCT",
	unix.CAP_SYS_ADMIN:          "SYS_ADMIN",
	unix.CAP_SYS_BOOT:           "SYS_BOOT",
	unix.CAP_SYS_NICE:           "SYS_NICE",
	unix.CAP_SYS_RESOURCE:       "SYS_RESOURCE",
	unix.CAP_SYS_TIME:           "SYS_TIME",
	unix.CAP_SYS_TTY_CONFIG:     "SYS_TTY_CONFIG",
	unix.CAP_MKNOD:              "MKNOD",
	unix.CAP_LEASE:              "LEASE",
	unix.CAP_AUDIT_WRITE:        "AUDIT_WRITE",
	unix.CAP_AUDIT_CONTROL:      "AUDIT_CONTROL",
	unix.CAP_SETFCAP:            "SETFCAP",
	unix.CAP_MAC_OVERRIDE:       "MAC_OVERRIDE",
	unix.CAP_MAC_ADMIN:          "MAC_ADMIN",
	unix.CAP_SYSLOG:             "SYSLOG",
	unix.CAP_WAKE_ALARM:         "WAKE_ALARM",
	unix.CAP_BLOCK_SUSPEND:      "BLOCK_SUSPEND",
	unix.CAP_AUDIT_READ:         "AUDIT_READ",
	unix.CAP_PERFMON:            "PERFMON",
	unix.CAP_BPF:                "BPF",
	unix.CAP_CHECKPOINT_RESTORE: "CHECKPOINT_RESTORE",
}

// Number returns the number of the capability called name ("CAP_CHOWN" or
// "chown"; case does not matter).
func Number(name string) (int, bool) {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	for i, s := range names {
		if s == n {
			return i, true
		}
	}
	return 0, false
}

// Name returns "CAP_" and the name of capability c.
func Name(c int) string {
	if c >= 0 && c < len(names) {
		return "CAP_" + names[c]
	}
	return "CAP_" + strconv.Itoa(c)
}

// Parse turns capability names into a Set. Unknown names are an error.
// Known names beyond what the running kernel supports are left out, as
// runc and crun do, so that a spec written for a newer kernel still runs.
func Parse(list []string) (Set, error) {
	var s Set
	last := Last()
	for _, name := range list {
		c, ok := Number(name)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
		if c <= last {
			s |= 1 << uint(c)
		}
	}
	return s, nil
}

// Names lists the capabilities in s as "CAP_..." names, in number order.
func (s Set) Names() []string {
	var out []string
	for c := 0; c < 64; c++ {
		if s.Has(c) {
			out = append(out, Name(c))
		}
	}
	return out
}

var (
	lastOnce sync.Once
	lastCap  int
)

// Last returns the highest capability number the running kernel knows.
func Last() int {
	lastOnce.Do(func() {
		lastCap = len(names) - 1
		b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
		if err != nil {
			return
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 64 {
			lastCap = n
		}
	})
	return lastCap
}

// DropBounding removes every capability not in keep from the calling
// thread's bounding set. It needs CAP_SETPCAP in the effective set, so it
// must run before the user switch clears the effective set.
//
// The bounding set caps what any later execve can grant, including through
// file capabilities and setuid-root binaries, so it is what really limits a
// container whose processes switch users.
func DropBounding(keep Set) error {
	for c := 0; c <= Last(); c++ {
		if keep.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			// EINVAL: the kernel does not know c (cap_last_cap lied or
			// changed); nothing to drop.
			if err == unix.EINVAL {
				continue
			}
			return fmt.Errorf("dropping %s from the bounding set: %w", Name(c), err)
		}
	}
	return nil
}

// Apply sets the calling thread's effective, permitted and inheritable sets
// with capset(2) (version 3: two 32-bit words per set).
//
// The kernel only lets a thread shrink its permitted set, and effective must
// be a subset of permitted: Apply fails with EPERM otherwise.
func Apply(effective, permitted, inheritable Set) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(effective >> (32 * i))
		data[i].Permitted = uint32(permitted >> (32 * i))
		data[i].Inheritable = uint32(inheritable >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// RaiseAmbient clears the ambient set and raises each capability of s in
// it. A capability can only be ambient when it is both permitted and
// inheritable, so call Apply first.
//
// Ambient capabilities survive execve of a program without file
// capabilities even for a non-root user; they are how a non-root container
// process can keep, say, CAP_NET_BIND_SERVICE.
func RaiseAmbient(s Set) error {
	// PR_CAP_AMBIENT_CLEAR_ALL fails with EINVAL on kernels before 4.3, which
	// have no ambient set at all: fine when nothing is asked.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		if s == 0 {
			return nil
		}
		return fmt.Errorf("clearing the ambient capability set: %w", err)
	}
	for c := 0; c <= Last(); c++ {
		if !s.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raising ambient %s: %w", Name(c), err)
		}
	}
	return nil
}
