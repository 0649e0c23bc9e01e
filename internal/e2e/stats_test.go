//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestStats covers what this kind of host allows: without cgroup v2 and
// delegated controllers stats explains what is missing and the fix; the
// figures themselves are unit-tested against a fake cgroupfs
// (internal/cgroups, internal/engine).
func TestStats(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "stats", "--no-stream")
	if !strings.HasPrefix(r.Stdout, "CONTAINER ID") || !strings.Contains(r.Stdout, "MEM USAGE / LIMIT") {
		t.Errorf("no containers: the header alone, got %q", r.Stdout)
	}
	r = h.Run(125, "stats", "--no-stream", "nosuch")
	if !strings.Contains(r.Stderr, "nosuch") {
		t.Errorf("stderr %q", r.Stderr)
	}
	h.Run(0, "run", "-d", "--name", "r", "cove-test/busybox", "sleep", "60")
	if st, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && len(st) > 0 {
		t.Skip("cgroup v2 host: the figures need per-container cgroups, which cove does not create yet")
	}
	for _, args := range [][]string{{"stats", "--no-stream", "r"}, {"container", "stats", "--no-stream", "-a"}} {
		r = h.Run(125, args...)
		if !strings.Contains(r.Stderr, "cgroup v2") || !strings.Contains(r.Stderr, "fix:") {
			t.Errorf("%v: stderr %q should name cgroup v2 and the fix", args, r.Stderr)
		}
	}
	h.Run(125, "stats", "--no-stream", "--format", "{{", "r")
	h.Run(0, "rm", "-f", "r")
}
