package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats are a cgroup v2 group's resource figures, as `stats` shows them.
type Stats struct {
	// CPUUsec is cpu.stat's usage_usec: CPU time used, all CPUs.
	CPUUsec uint64
	// MemoryUsage is memory.current less the inactive page cache
	// (memory.stat's inactive_file), as Docker counts it.
	MemoryUsage uint64
	// MemoryLimit is memory.max; 0 means no limit.
	MemoryLimit uint64
	// IORead and IOWrite sum io.stat's rbytes and wbytes over devices.
	IORead, IOWrite uint64
	// Pids is pids.current.
	Pids uint64
}

// ReadStats reads the figures of the cgroup v2 directory dir. Files of a
// controller that is not enabled there are absent and leave their
// figures 0; memory.current and cpu.stat must exist.
func ReadStats(dir string) (*Stats, error) {
	var st Stats
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return nil, err
	}
	st.CPUUsec = cpu["usage_usec"]
	cur, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return nil, err
	}
	if ms, err := readKeyed(filepath.Join(dir, "memory.stat")); err == nil && ms["inactive_file"] < cur {
		cur -= ms["inactive_file"]
	}
	st.MemoryUsage = cur
	if b, err := os.ReadFile(filepath.Join(dir, "memory.max")); err == nil {
		if s := strings.TrimSpace(string(b)); s != "max" {
			if st.MemoryLimit, err = strconv.ParseUint(s, 10, 64); err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", filepath.Join(dir, "memory.max"), s)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "io.stat")); err == nil {
		st.IORead, st.IOWrite = parseIOStat(b)
	}
	if n, err := readUint(filepath.Join(dir, "pids.current")); err == nil {
		st.Pids = n
	}
	return &st, nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", path, s)
	}
	return n, nil
}

// readKeyed reads a flat-keyed file ("key value" lines: cpu.stat,
// memory.stat); lines that are not that are skipped.
func readKeyed(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out, nil
}

// parseIOStat sums io.stat lines ("MAJ:MIN rbytes=N wbytes=N rios=N ...").
func parseIOStat(b []byte) (read, write uint64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		// f[0] is the device.
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}

// ProcessV2Dir returns the cgroup v2 directory of process pid under Root.
func ProcessV2Dir(pid int) string {
	return filepath.Join(Root, ownV2Path("/proc/"+strconv.Itoa(pid)+"/cgroup"))
}

// Procs lists the processes in the cgroup directory dir.
func Procs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}
