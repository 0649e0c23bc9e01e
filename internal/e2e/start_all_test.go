//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killLikeShutdown kills a detached container's monitor with SIGKILL, so
// the container dies with it and nothing records a stop: what a shutdown
// does to it.
func killLikeShutdown(t *testing.T, h *Harness, name string) {
	t.Helper()
	r := h.Run(0, "inspect", "-f", "{{.State.Pid}}", name)
	pid, _ := strconv.Atoi(strings.TrimSpace(r.Stdout))
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("container %s: %v", name, err)
	}
	monitor, _ := strconv.Atoi(strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))[1])
	syscall.Kill(monitor, syscall.SIGKILL)
	waitFor(t, 10*time.Second, name+" to die", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid))
		return err != nil || isZombieProc(pid)
	})
}

// TestStartAllRestartPolicies is what contrib/systemd's user unit does
// after a reboot: start --all --filter restart-policy=... brings back the
// always containers and the unless-stopped ones the user did not stop.
func TestStartAllRestartPolicies(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	for _, c := range []struct{ name, policy string }{
		{"always", "always"}, {"unless", "unless-stopped"}, {"stopped", "unless-stopped"}, {"never", "no"}, {"failing", "on-failure"},
	} {
		h.Run(0, "run", "-d", "--name", c.name, "--restart", c.policy, "cove-test/busybox", "sleep", "300")
	}
	h.Run(0, "create", "--name", "created", "--restart", "always", "cove-test/busybox", "sleep", "300")
	h.Run(0, "stop", "-t", "0", "stopped")
	for _, n := range []string{"always", "unless", "never", "failing"} {
		killLikeShutdown(t, h, n)
	}
	h.Run(0, "unshare", "rm", "-rf", filepath.Join(h.Dir, "run", "cove"))

	unit, err := os.ReadFile("../../contrib/systemd/user/cove-restart.service")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, l := range strings.Split(string(unit), "\n") {
		if cmd, ok := strings.CutPrefix(l, "ExecStart="); ok {
			args = strings.Fields(cmd)[1:]
		}
	}
	if len(args) < 2 || args[0] != "start" {
		t.Fatalf("the unit's ExecStart: %q", args)
	}
	r := h.Run(0, args...)
	got := strings.Fields(r.Stdout)
	sort.Strings(got)
	if strings.Join(got, " ") != "always created unless" {
		t.Errorf("started %q, want always, created and unless", got)
	}
	r = h.Run(0, "ps", "--format", "{{.Names}}")
	running := strings.Fields(r.Stdout)
	sort.Strings(running)
	if strings.Join(running, " ") != "always created unless" {
		t.Errorf("running %q", running)
	}
	// Again: nothing more to start.
	if r := h.Run(0, args...); r.Stdout != "" {
		t.Errorf("second run started %q", r.Stdout)
	}
	// --all with other filters, and bad input.
	r = h.Run(0, "start", "--all", "--filter", "name=never")
	if r.Stdout != "never\n" {
		t.Errorf("start --all --filter name=never: %q", r.Stdout)
	}
	for _, bad := range [][]string{
		{"start", "--all", "always"},
		{"start", "--filter", "restart-policy=always", "always"},
		{"start", "--all", "--filter", "restart-policy=sometimes"},
		{"start", "--all", "--filter", "bogus=1"},
		{"start"},
	} {
		h.Run(125, bad...)
	}
	h.Run(0, "rm", "-f", "always", "unless", "stopped", "never", "failing", "created")
}
