package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

func fakeCgroup(t testing.TB, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadStats(t *testing.T) {
	dir := fakeCgroup(t, map[string]string{
		"cpu.stat":       "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
		"memory.current": "10485760\n",
		"memory.stat":    "anon 4194304\nfile 6291456\ninactive_file 2097152\n",
		"memory.max":     "536870912\n",
		"io.stat":        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=100 wbytes=0 rios=1 wios=0\n",
		"pids.current":   "3\n",
		"cgroup.procs":   "10\n11\n12\n",
	})
	st, err := ReadStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{CPUUsec: 1500000, MemoryUsage: 10485760 - 2097152, MemoryLimit: 536870912, IORead: 4196, IOWrite: 8192, Pids: 3}
	if *st != want {
		t.Errorf("got %+v\nwant %+v", *st, want)
	}
	procs, err := Procs(dir)
	if err != nil || len(procs) != 3 || procs[2] != 12 {
		t.Errorf("procs %v %v", procs, err)
	}
}

func TestReadStatsUnlimitedAndPartial(t *testing.T) {
	// No io or pids controller enabled, no memory limit.
	st, err := ReadStats(fakeCgroup(t, map[string]string{
		"cpu.stat":       "usage_usec 7\n",
		"memory.current": "100\n",
		"memory.max":     "max\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if *st != (Stats{CPUUsec: 7, MemoryUsage: 100}) {
		t.Errorf("got %+v", *st)
	}
}

func TestReadStatsErrors(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no cpu.stat":     {"memory.current": "1\n"},
		"no memory":       {"cpu.stat": "usage_usec 1\n"},
		"garbage current": {"cpu.stat": "usage_usec 1\n", "memory.current": "lots\n"},
		"garbage max":     {"cpu.stat": "usage_usec 1\n", "memory.current": "1\n", "memory.max": "-5\n"},
	} {
		if _, err := ReadStats(fakeCgroup(t, files)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzParseIOStat: io.stat content is the kernel's, but a parser takes
// whatever it is given without panicking.
func FuzzParseIOStat(f *testing.F) {
	f.Add([]byte("8:0 rbytes=4096 wbytes=8192 rios=1\n"))
	f.Add([]byte("8:0\n=\nrbytes=x wbytes=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseIOStat(b)
	})
}
