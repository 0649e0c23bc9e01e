//go:build e2e

package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// kill -9 of `cove run --rm` at any moment of its start-up leaves nothing
// visible once the next command has run: the container's record names its
// remover, and ps (or any command that looks the container up) removes a
// --rm container whose remover is dead.
func TestAutoRemoveAfterKill(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	delays := []time.Duration{5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 130, 160, 200}
	for _, d := range delays {
		cmd := h.Cmd("run", "--rm", bb, "sleep", "1")
		// Its own process group: the kill takes every cove process of
		// the run (the constructor's parent, cove itself, the network
		// helper) at once, as a closed terminal would.
		cmd.SysProcAttr.Setpgid = true
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d * time.Millisecond)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	// The next commands show nothing, also when several at once find the
	// same orphans (one removes each, the others wait for it rather than
	// list a container on its way out), and say so again after that.
	for i, r := range h.RunParallel(4, func(int) []string { return []string{"ps", "-a", "--format", "{{.ID}} {{.Status}}"} }) {
		if r.Code != 0 || r.Stdout != "" {
			t.Errorf("parallel ps -a %d after kill -9 of run --rm: exit %d\n%s%s", i, r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := h.Run(0, "ps", "-a", "--format", "{{.ID}} {{.Status}}"); r.Stdout != "" {
		t.Errorf("ps -a after the parallel ones:\n%s", r.Stdout)
	}
	// The store is usable and holds no container: the image is not in use
	// (a layer made just before a kill, before its record, goes too).
	r := h.Run(0, "images", "--format", "{{.Repository}}")
	if r.Stdout != bb+"\n" {
		t.Errorf("images: %q", r.Stdout)
	}
	h.Run(0, "rmi", bb)
	r = h.Run(0, "info")
	if !strings.Contains(r.Stdout, "Containers: 0\n") {
		t.Errorf("info after the kills and rmi:\n%s", r.Stdout)
	}
	loadBusybox(t, h)
	r = h.Run(0, "run", "--rm", bb, "echo", "ok")
	if r.Stdout != "ok\n" {
		t.Errorf("run after the kills: %q", r.Stdout)
	}

	// rm of an orphan succeeds: the container it names is gone, as asked.
	cmd := h.Cmd("run", "--rm", "--name", "orphan", bb, "sleep", "60")
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the run --rm container to start", func() bool {
		return h.Run(0, "ps", "-q").Stdout != ""
	})
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	if r := h.Run(0, "rm", "orphan"); r.Stdout != "orphan\n" {
		t.Errorf("rm of an orphaned --rm container: %q", r.Stdout)
	}
	h.Run(1, "rm", "orphan")

	// A detached --rm container whose monitor is killed goes too.
	id := strings.TrimSpace(h.Run(0, "run", "-d", "--rm", bb, "sleep", "60").Stdout)
	if err := syscall.Kill(monState(t, h, id).MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the killed monitor's container to go", func() bool {
		return h.Run(0, "ps", "-aq").Stdout == ""
	})
	h.Run(125, "inspect", id)

	// create --rm alone is no orphan: the container waits for its start.
	h.Run(0, "create", "--rm", "--name", "later", bb, "true")
	r = h.Run(0, "ps", "-a", "--format", "{{.Names}} {{.State}}")
	if r.Stdout != "later created\n" {
		t.Errorf("create --rm: %q", r.Stdout)
	}
	h.Run(0, "start", "-a", "later")
	waitFor(t, 5*time.Second, "start -a of a --rm container to remove it", func() bool {
		return h.Run(0, "ps", "-aq").Stdout == ""
	})
}
