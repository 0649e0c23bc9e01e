package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/cgroups"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
)

// StatsSample is one reading of a container's resource use; two readings
// give its CPU share (see Stats).
type StatsSample struct {
	ID, Name string
	at       time.Time
	running  bool
	cg       cgroups.Stats
	netRx    uint64
	netTx    uint64
	hostMem  uint64
}

// ContainerStats are Docker's `stats` figures for one container.
type ContainerStats struct {
	ID, Name              string
	CPUPerc, MemPerc      float64
	MemUsage, MemLimit    uint64
	NetRx, NetTx          uint64
	BlockRead, BlockWrite uint64
	PIDs                  uint64
}

// StatsAvailable says whether this host can give per-container figures:
// they come from the container's cgroup, and a rootless container only
// has one with cgroup v2 and delegated controllers.
func StatsAvailable() error {
	st := cgroups.Detect()
	if st.Version == cgroups.V2 && st.Delegated && st.Problem == "" {
		return nil
	}
	// Detect's problem says what is missing and why it matters.
	msg := "stats: no per-container cgroup to read figures from: " + st.Problem
	if st.Fix != "" {
		msg += "; fix: " + st.Fix
	}
	return fmt.Errorf("%s: %w", msg, errdefs.ErrUnsupported)
}

// SampleStats reads the container's figures now. A container that is not
// running reads as zeros, as in Docker.
func (e *Engine) SampleStats(ref string) (*StatsSample, error) {
	c, _, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	s := &StatsSample{ID: c.ID, Name: c.Name, at: time.Now()}
	if c.State.Status != state.Running && c.State.Status != state.Paused {
		return s, nil
	}
	dir := cgroups.ProcessV2Dir(c.State.Pid)
	if err := ownCgroup(dir, c.State.Pid); err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	cg, err := cgroups.ReadStats(dir)
	if err != nil {
		return nil, fmt.Errorf("container %s: reading its cgroup: %w", c.Name, err)
	}
	s.running, s.cg = true, *cg
	s.netRx, s.netTx = netDev(c.State.Pid)
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		s.hostMem = si.Totalram * uint64(si.Unit)
	}
	return s, nil
}

// ownCgroup checks that every process in the cgroup dir belongs to the
// container (its pid namespace): a cgroup shared with the user's other
// processes would give their figures as the container's.
func ownCgroup(dir string, pid int) error {
	procs, err := cgroups.Procs(dir)
	if err != nil {
		return fmt.Errorf("reading its cgroup %s: %w", dir, err)
	}
	target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return err
	}
	for _, p := range procs {
		if ns, err := os.Readlink("/proc/" + strconv.Itoa(p) + "/ns/pid"); err == nil && ns != target {
			return fmt.Errorf("it has no cgroup of its own (its cgroup %s holds other processes too), so its figures cannot be told apart: %w", dir, errdefs.ErrUnsupported)
		}
	}
	return nil
}

// netDev sums the bytes received and sent on the interfaces of the
// process's network namespace, loopback excepted, from /proc/PID/net/dev.
func netDev(pid int) (rx, tx uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0
	}
	return parseNetDev(b)
}

func parseNetDev(b []byte) (rx, tx uint64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx
}

// Stats turns two samples of a container into Docker's figures; CPU % is
// the share of one CPU used between them, as Docker computes it (100% per
// busy CPU).
func Stats(prev, cur *StatsSample) ContainerStats {
	out := ContainerStats{ID: cur.ID, Name: cur.Name}
	if !cur.running {
		return out
	}
	if prev != nil && prev.running {
		if wall := cur.at.Sub(prev.at); wall > 0 && cur.cg.CPUUsec >= prev.cg.CPUUsec {
			out.CPUPerc = 100 * float64(time.Duration(cur.cg.CPUUsec-prev.cg.CPUUsec)*time.Microsecond) / float64(wall)
		}
	}
	out.MemUsage = cur.cg.MemoryUsage
	out.MemLimit = cur.cg.MemoryLimit
	if out.MemLimit == 0 || (cur.hostMem > 0 && out.MemLimit > cur.hostMem) {
		out.MemLimit = cur.hostMem
	}
	if out.MemLimit > 0 {
		out.MemPerc = 100 * float64(out.MemUsage) / float64(out.MemLimit)
	}
	out.NetRx, out.NetTx = cur.netRx, cur.netTx
	out.BlockRead, out.BlockWrite = cur.cg.IORead, cur.cg.IOWrite
	out.PIDs = cur.cg.Pids
	return out
}
