//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestConcurrentLifecycle: 20 concurrent run -d, ps, stop and rm -f leave
// no corruption, and names stay unique.
func TestConcurrentLifecycle(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Two containers compete for each name.
			name := fmt.Sprintf("c%d", i/2)
			codes[i] = run(h.Cmd("run", "-d", "--name", name, "cove-test/busybox", "sleep", "60")).Code
			run(h.Cmd("ps", "-a"))
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == 0 {
			ok++
		} else if c != 125 {
			t.Errorf("run -d exit %d, want 0 or 125 (name taken)", c)
		}
	}
	if ok != n/2 {
		t.Errorf("%d containers started for %d names", ok, n/2)
	}
	r := h.Run(0, "ps", "-a", "--format", "{{.Names}}")
	names := strings.Fields(r.Stdout)
	seen := map[string]bool{}
	for _, nm := range names {
		if seen[nm] {
			t.Errorf("name %s listed twice", nm)
		}
		seen[nm] = true
	}
	if len(names) != n/2 {
		t.Errorf("ps -a lists %d containers, want %d: %v", len(names), n/2, names)
	}
	for i := 0; i < n/2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("c%d", i)
			if i%2 == 0 {
				if c := run(h.Cmd("stop", "-t", "1", name)).Code; c != 0 {
					t.Errorf("stop %s: exit %d", name, c)
				}
			}
			if c := run(h.Cmd("rm", "-f", name)).Code; c != 0 {
				t.Errorf("rm -f %s: exit %d", name, c)
			}
		}(i)
	}
	wg.Wait()
	r = h.Run(0, "ps", "-aq")
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("containers left: %q", r.Stdout)
	}
}

// TestRebootSimulation: after every cove process is gone and the run root
// is wiped (what a reboot does), containers show as exited and start works.
func TestRebootSimulation(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "-d", "--name", "survivor", "cove-test/busybox", "sleep", "60")
	h.Run(0, "create", "--name", "fresh", "cove-test/busybox", "echo", "hi")
	r := h.Run(0, "inspect", "-f", "{{.State.Pid}}", "survivor")
	pid, _ := strconv.Atoi(strings.TrimSpace(r.Stdout))
	// The monitor is the container's parent: kill it, and the container
	// dies with it, as at a shutdown.
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ppid, _ := strconv.Atoi(fields[1])
	syscall.Kill(ppid, syscall.SIGKILL)
	waitFor(t, 10e9, "container to die", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid))
		return err != nil || isZombieProc(pid)
	})
	h.Run(0, "unshare", "rm", "-rf", filepath.Join(h.Dir, "run", "cove"))
	r = h.Run(0, "ps", "-a", "--format", "{{.Names}} {{.State}}")
	if !strings.Contains(r.Stdout, "survivor exited") || !strings.Contains(r.Stdout, "fresh created") {
		t.Fatalf("after the reboot: %q", r.Stdout)
	}
	h.Run(0, "start", "survivor")
	r = h.Run(0, "inspect", "-f", "{{.State.Status}}", "survivor")
	if strings.TrimSpace(r.Stdout) != "running" {
		t.Errorf("start after reboot: %q", r.Stdout)
	}
	r = h.Run(0, "start", "-a", "fresh")
	if r.Stdout != "hi\n" {
		t.Errorf("start -a after reboot: %q", r.Stdout)
	}
	h.Run(0, "rm", "-f", "survivor", "fresh")
}

func isZombieProc(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
