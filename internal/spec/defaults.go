package spec

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// baseMaskedPaths are hidden from the container (a /dev/null bind for
// files, an empty read-only tmpfs for directories): Docker's list, plus
// /sys/dev/block from Podman's.
var baseMaskedPaths = []string{
	"/proc/acpi",
	"/proc/asound",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/sys/dev/block",
	"/sys/devices/virtual/powercap",
	"/sys/firmware",
}

// MaskedPaths returns the paths Generate masks in unprivileged containers:
// baseMaskedPaths and, as Docker does since GHSA-6fw5-f8r9-fgfm, the
// thermal_throttle directory of each possible CPU that has one on this host.
func MaskedPaths() []string {
	return append(append([]string(nil), baseMaskedPaths...), thermalPaths()...)
}

var thermalPaths = sync.OnceValue(func() []string {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		z, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || z < a || z-a > 8192 {
			continue
		}
		for c := a; c <= z; c++ {
			p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", c)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
})

// ReadonlyPaths returns the paths Generate remounts read-only in
// unprivileged containers (Docker's list).
func ReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// defaultMounts returns Docker's default mounts. The /sys/fs/cgroup entry has
// type "cgroup"; the runtime mounts cgroup2 on a unified host.
func defaultMounts(shmSize int64) []specs.Mount {
	if shmSize <= 0 {
		shmSize = DefaultShmSize
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize, 10)}},
	}
}

func i64(v int64) *int64 { return &v }

// defaultDeviceRules deny every device but the ones the OCI runtime spec
// always creates (null, zero, full, random, urandom, tty, console, ptmx)
// and the devpts slaves.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	allow := func(major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(major), Minor: i64(minor), Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		allow(1, 3), allow(1, 5), allow(1, 7), allow(1, 8), allow(1, 9),
		allow(5, 0), allow(5, 1), allow(5, 2),
		{Allow: true, Type: "c", Major: i64(136), Access: "rwm"}, // any minor
	}
}
