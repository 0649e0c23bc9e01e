package spec

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// allCaps lists every capability the kernel defines, in number order
// (CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE is 40).
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// DefaultCapabilities returns Docker's default capability set.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
		"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
		"CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
	}
}

// lastCap is the highest capability number the running kernel knows
// (/proc/sys/kernel/cap_last_cap), so that "all" does not name capabilities
// the kernel would reject.
var lastCap = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return len(allCaps) - 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n >= len(allCaps) {
		return len(allCaps) - 1
	}
	return n
})

// AllCapabilities returns every capability the running kernel supports.
func AllCapabilities() []string {
	return append([]string(nil), allCaps[:lastCap()+1]...)
}

// NormalizeCapability returns the canonical CAP_XXX name of a --cap-add or
// --cap-drop value: case-insensitive, with or without the CAP_ prefix. "ALL"
// is returned as "ALL".
func NormalizeCapability(s string) (string, error) {
	u := strings.ToUpper(s)
	if u == "ALL" || u == "CAP_ALL" {
		return "ALL", nil
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	for _, c := range allCaps {
		if c == u {
			return u, nil
		}
	}
	return "", invalid("capability %q: unknown capability", s)
}

// Capabilities computes the container's capability set as Docker does:
// privileged means all of them; otherwise start from DefaultCapabilities,
// remove drop and add add, where "ALL" in add means all capabilities minus
// drop, and "ALL" in drop means exactly add. Names are normalized with
// NormalizeCapability; the result has no duplicates.
func Capabilities(add, drop []string, privileged bool) ([]string, error) {
	adds, addAll, err := normalizeCaps(add)
	if err != nil {
		return nil, err
	}
	drops, dropAll, err := normalizeCaps(drop)
	if err != nil {
		return nil, err
	}
	if privileged {
		return AllCapabilities(), nil
	}
	var base []string
	switch {
	case addAll:
		base = AllCapabilities()
	case dropAll:
		base = nil
	default:
		base = DefaultCapabilities()
	}
	dropped := map[string]bool{}
	if !dropAll {
		for _, c := range drops {
			dropped[c] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range base {
		if !dropped[c] && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if !addAll {
		for _, c := range adds {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func normalizeCaps(list []string) (caps []string, all bool, err error) {
	for _, s := range list {
		c, err := NormalizeCapability(s)
		if err != nil {
			return nil, false, err
		}
		if c == "ALL" {
			all = true
			continue
		}
		caps = append(caps, c)
	}
	return caps, all, nil
}
