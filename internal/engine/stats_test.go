package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/cgroups"
)

func TestStatsFromSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := &StatsSample{ID: "id", Name: "n", at: t0, running: true, cg: cgroups.Stats{CPUUsec: 1_000_000}}
	cur := &StatsSample{ID: "id", Name: "n", at: t0.Add(500 * time.Millisecond), running: true, hostMem: 1 << 30,
		cg: cgroups.Stats{CPUUsec: 1_250_000, MemoryUsage: 1 << 20, IORead: 5, IOWrite: 6, Pids: 2}, netRx: 7, netTx: 8}
	got := Stats(prev, cur)
	want := ContainerStats{ID: "id", Name: "n", CPUPerc: 50, MemUsage: 1 << 20, MemLimit: 1 << 30, MemPerc: 100.0 / 1024,
		NetRx: 7, NetTx: 8, BlockRead: 5, BlockWrite: 6, PIDs: 2}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// A limit below the host's memory is the limit.
	cur.cg.MemoryLimit = 4 << 20
	if got := Stats(prev, cur); got.MemLimit != 4<<20 || got.MemPerc != 25 {
		t.Errorf("limited: %+v", got)
	}
	// Not running: zeros.
	if got := Stats(nil, &StatsSample{ID: "id", Name: "n"}); got != (ContainerStats{ID: "id", Name: "n"}) {
		t.Errorf("stopped: %+v", got)
	}
}

func TestParseNetDev(t *testing.T) {
	b := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2048      20    0    0    0     0          0         0      512       5    0    0    0     0       0          0
   tap0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0
`)
	if rx, tx := parseNetDev(b); rx != 2148 || tx != 712 {
		t.Errorf("rx %d tx %d", rx, tx)
	}
}

// TestOwnCgroup: a cgroup is used only when every process in it is in the
// container's pid namespace (here: the test's own, standing in for it).
func TestOwnCgroup(t *testing.T) {
	root := t.TempDir()
	old := cgroups.Root
	cgroups.Root = root
	defer func() { cgroups.Root = old }()
	dir := cgroups.ProcessV2Dir(os.Getpid())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cgroup.procs", strconv.Itoa(os.Getpid())+"\n")
	write("cpu.stat", "usage_usec 5\n")
	write("memory.current", "4096\n")
	if err := ownCgroup(dir, os.Getpid()); err != nil {
		t.Fatalf("own cgroup refused: %v", err)
	}
	if st, err := cgroups.ReadStats(dir); err != nil || st.MemoryUsage != 4096 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// A process that exited between the two reads is no stranger.
	write("cgroup.procs", strconv.Itoa(os.Getpid())+"\n999999999\n")
	if err := ownCgroup(dir, os.Getpid()); err != nil {
		t.Fatalf("a vanished process should not count: %v", err)
	}
	if err := ownCgroup(filepath.Join(root, "missing"), os.Getpid()); err == nil {
		t.Fatal("a missing cgroup accepted")
	}
}
