//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// startForeground starts `cove run --name NAME ARGS...` in the background
// and waits until the container printed "ready".
func startNamedFg(t *testing.T, h *Harness, name string, args ...string) func() int {
	t.Helper()
	cmd := h.Cmd(append([]string{"run", "--name", name}, args...)...)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, name+" ready", func() bool { return strings.Contains(out.String(), "ready") })
	return func() int { return exitCode(cmd.Wait()) }
}

func TestLifecycleStopKillWait(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)

	// stop: the stop signal first; a container that traps it exits with
	// its own code, quickly.
	wait := startNamedFg(t, h, "polite", "cove-test/busybox", "sh", "-c", "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done")
	start := time.Now()
	r := h.Run(0, "stop", "polite")
	if strings.TrimSpace(r.Stdout) != "polite" {
		t.Errorf("stop prints the name: %q", r.Stdout)
	}
	if time.Since(start) > 8*time.Second {
		t.Errorf("stop waited for the timeout although the container exited")
	}
	if code := wait(); code != 7 {
		t.Errorf("run exit %d after stop, want 7", code)
	}
	r = h.Run(0, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "polite")
	if strings.TrimSpace(r.Stdout) != "exited 7" {
		t.Errorf("after stop: %q", r.Stdout)
	}
	// Stopping a stopped container is not an error.
	h.Run(0, "stop", "polite")

	// stop -t 1 on a container that ignores SIGTERM: SIGKILL after 1 s.
	wait = startNamedFg(t, h, "stubborn", "cove-test/busybox", "sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done")
	start = time.Now()
	h.Run(0, "stop", "-t", "1", "stubborn")
	if d := time.Since(start); d < time.Second || d > 8*time.Second {
		t.Errorf("stop -t 1 took %s", d)
	}
	if code := wait(); code != 137 {
		t.Errorf("killed container: exit %d, want 137", code)
	}

	// kill -s and wait.
	wait = startNamedFg(t, h, "target", "cove-test/busybox", "sh", "-c", "trap 'exit 12' USR1; echo ready; while true; do sleep 0.1; done")
	h.Run(0, "kill", "-s", "USR1", "target")
	if code := wait(); code != 12 {
		t.Errorf("kill -s USR1: exit %d, want 12", code)
	}
	r = h.Run(0, "wait", "target")
	if strings.TrimSpace(r.Stdout) != "12" {
		t.Errorf("wait prints the exit code: %q", r.Stdout)
	}
	r = h.Run(125, "kill", "target")
	if !strings.Contains(r.Stderr, "not running") {
		t.Errorf("kill of a stopped container: %q", r.Stderr)
	}
	h.Run(125, "kill", "-s", "NOPE", "target")
	h.Run(125, "stop", "no-such-container")
}

func TestLifecycleWaitBlocks(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	wait := startNamedFg(t, h, "sleeper", "cove-test/busybox", "sh", "-c", "echo ready; sleep 1; exit 4")
	start := time.Now()
	r := h.Run(0, "wait", "sleeper")
	if strings.TrimSpace(r.Stdout) != "4" || time.Since(start) < 300*time.Millisecond {
		t.Errorf("wait returned %q after %s", r.Stdout, time.Since(start))
	}
	wait()
}

func TestLifecycleRenamePruneExists(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	// Names that are no hex prefix: "a" also matches any container whose
	// ID starts with a, as in Docker (1 in 16 of them).
	h.Run(0, "create", "--name", "ren-a", "cove-test/busybox", "true")
	h.Run(0, "create", "--name", "ren-b", "cove-test/busybox", "true")
	h.Run(0, "container", "exists", "ren-a")
	h.Run(1, "container", "exists", "zzz")
	r := h.Run(125, "rename", "ren-a", "ren-b")
	if !strings.Contains(r.Stderr, "already in use") {
		t.Errorf("rename onto a taken name: %q", r.Stderr)
	}
	h.Run(0, "rename", "ren-a", "ren-c")
	h.Run(1, "container", "exists", "ren-a")
	h.Run(0, "container", "exists", "ren-c")
	// The total is the containers' own layers: 1 MB written, the image
	// (2 MB, still used by nothing) not counted.
	h.Run(0, "run", "--name", "ren-big", "cove-test/busybox", "dd", "if=/dev/zero", "of=/big", "bs=1000", "count=1000")
	r = h.Run(0, "container", "prune", "-f")
	if !strings.HasPrefix(r.Stdout, "Deleted Containers:\n") || !strings.HasSuffix(r.Stdout, "\n\nTotal reclaimed space: 1MB\n") {
		t.Errorf("prune output: %q", r.Stdout)
	}
	// Nothing to prune: Docker still prints the total.
	r = h.Run(0, "container", "prune", "-f")
	if r.Stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("prune of nothing: %q", r.Stdout)
	}
	r = h.Run(0, "ps", "-aq")
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("prune left %q", r.Stdout)
	}
}

func TestRmExitCodes(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	wait := startNamedFg(t, h, "busy", "cove-test/busybox", "sh", "-c", "echo ready; sleep 60")
	r := h.Run(2, "rm", "busy")
	if !strings.Contains(r.Stderr, "running") {
		t.Errorf("rm of a running container: %q", r.Stderr)
	}
	h.Run(1, "rm", "nope")
	h.Run(0, "rm", "-f", "busy")
	if code := wait(); code != 137 {
		t.Errorf("rm -f: run exit %d, want 137", code)
	}
	h.Run(1, "container", "exists", "busy")
}

func TestRestartAndReplace(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "-d", "--name", "svc", "cove-test/busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
	r := h.Run(0, "inspect", "-f", "{{.State.Pid}}", "svc")
	pid1 := strings.TrimSpace(r.Stdout)
	r = h.Run(0, "restart", "-t", "2", "svc")
	if strings.TrimSpace(r.Stdout) != "svc" {
		t.Errorf("restart prints the name: %q", r.Stdout)
	}
	r = h.Run(0, "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "svc")
	f := strings.Fields(r.Stdout)
	if len(f) != 2 || f[0] != "running" || f[1] == pid1 {
		t.Errorf("after restart: %q (old pid %s)", r.Stdout, pid1)
	}
	// --replace: a bad new option keeps the old container.
	h.Run(125, "run", "--replace", "--name", "svc", "--ulimit", "bogus", "cove-test/busybox", "true")
	h.Run(0, "container", "exists", "svc")
	r = h.Run(0, "run", "--replace", "--name", "svc", "cove-test/busybox", "echo", "replaced")
	if r.Stdout != "replaced\n" {
		t.Errorf("--replace run: %q", r.Stdout)
	}
	r = h.Run(0, "ps", "-a", "--filter", "name=svc", "--format", "{{.Status}}")
	if !strings.HasPrefix(r.Stdout, "Exited (0)") || strings.Count(r.Stdout, "\n") != 1 {
		t.Errorf("one replaced container expected: %q", r.Stdout)
	}
	h.Run(125, "run", "--replace", "cove-test/busybox", "true")
	h.Run(0, "rm", "-f", "svc")
}

func TestPauseUnpause(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	// A counter that runs as a non-root user in a child process: pause must
	// stop it too, although a cove in another namespace may not signal it.
	h.Run(0, "run", "-d", "--name", "counter", "-u", "1000", "cove-test/busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done")
	read := func() string {
		out := strings.Fields(h.Run(0, "logs", "--tail", "1", "counter").Stdout)
		if len(out) == 0 {
			return ""
		}
		return out[len(out)-1]
	}
	time.Sleep(300 * time.Millisecond)
	h.Run(0, "pause", "counter")
	r := h.Run(0, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "counter")
	if strings.TrimSpace(r.Stdout) != "paused true" {
		t.Errorf("after pause: %q", r.Stdout)
	}
	r = h.Run(0, "ps", "--format", "{{.Status}}")
	if !strings.Contains(r.Stdout, "(Paused)") {
		t.Errorf("ps: %q", r.Stdout)
	}
	a := read()
	time.Sleep(400 * time.Millisecond)
	if b := read(); a != b {
		t.Errorf("counter moved while paused: %s -> %s", a, b)
	}
	h.Run(125, "pause", "counter")
	h.Run(125, "exec", "counter", "true")
	h.Run(0, "unpause", "counter")
	time.Sleep(400 * time.Millisecond)
	if b := read(); a == b {
		t.Errorf("counter did not move after unpause: %s", a)
	}
	h.Run(125, "unpause", "counter")
	h.Run(0, "pause", "counter")
	h.Run(0, "rm", "-f", "counter")
}
