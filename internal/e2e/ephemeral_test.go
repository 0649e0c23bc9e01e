//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storageContainers counts the containers storage knows.
func storageContainers(t *testing.T, h *Harness) string {
	t.Helper()
	return strings.TrimSpace(h.Run(0, "info", "--format", "{{.Store.Containers}}").Stdout)
}

// waitRunning waits until `ps` lists a running container named name and
// returns its full ID.
func waitRunning(t *testing.T, h *Harness, name string) string {
	t.Helper()
	for i := 0; i < 500; i++ {
		r := h.Run(0, "ps", "-q", "--no-trunc", "--filter", "name="+name)
		if id := strings.TrimSpace(r.Stdout); id != "" {
			return id
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("container %s never ran", name)
	return ""
}

// A foreground run --rm container is not in storage, yet its image is
// protected like any other container's, and nothing of it stays.
func TestRunRmEphemeral(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	if n := storageContainers(t, h); n != "0" {
		t.Fatalf("storage has %s containers before the test", n)
	}
	run := h.imgStart("run", "--rm", "--name", "eph", "--network", "none", bb, "sh", "-c", "echo data > /written; sleep 30")
	id := waitRunning(t, h, "eph")
	if n := storageContainers(t, h); n != "0" {
		t.Errorf("storage knows %s containers while a run --rm container runs, want 0", n)
	}
	r := h.Run(0, "exec", "eph", "cat", "/written")
	if strings.TrimSpace(r.Stdout) != "data" {
		t.Errorf("the container's writes: %q", r.Stdout)
	}
	// Image removal sees it.
	r = h.Run(125, "rmi", bb)
	if !strings.Contains(r.Stderr, "in use by container") || !strings.Contains(r.Stderr, id[:12]) {
		t.Errorf("rmi of the image of a running run --rm container: %q", r.Stderr)
	}
	h.Run(0, "image", "prune", "-a", "-f")
	h.Run(0, "image", "exists", bb)
	// Storage-based commands say why they cannot.
	for _, args := range [][]string{{"diff", "eph"}, {"export", "-o", filepath.Join(h.Dir, "work", "x.tar"), "eph"}, {"commit", "eph", "snap"}} {
		r = h.Run(125, args...)
		if !strings.Contains(r.Stderr, "run --rm") {
			t.Errorf("cove %v of a run --rm container: %q", args, r.Stderr)
		}
	}
	h.Run(0, "kill", "eph")
	run.wait(t, 10*time.Second)
	h.Run(0, "ps", "-a")
	if r := h.Run(0, "ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("run --rm left a container: %q", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "data", "cove", "containers", id)); !os.IsNotExist(err) {
		t.Errorf("the container's directory (and its upper layer) stayed: %v", err)
	}
	h.Run(0, "rmi", bb)
}

// kill -9 of the foreground run leaves a record whose removal takes the
// upper directory with it.
func TestRunRmEphemeralKilled(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	fg := h.imgStart("run", "--rm", "--name", "eph", "--network", "none", bb, "sh", "-c", "echo data > /written; sleep 30")
	id := waitRunning(t, h, "eph")
	syscall.Kill(-fg.cmd.Process.Pid, syscall.SIGKILL)
	fg.wait(t, 10*time.Second)
	// Whatever the next command makes of it (Docker shows nothing once
	// removed), rm -f must leave no files behind.
	h.Run(0, "ps", "-a")
	r := run(h.Cmd("rm", "-f", "eph"))
	if r.Code != 0 && r.Code != 1 {
		t.Fatalf("rm -f: exit %d\n%s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "data", "cove", "containers", id)); !os.IsNotExist(err) {
		t.Errorf("the container's directory (and its upper layer) stayed: %v", err)
	}
	if n := storageContainers(t, h); n != "0" {
		t.Errorf("storage has %s containers", n)
	}
	h.Run(0, "rmi", bb)
}

// An image with more layers than one overlay option can name by absolute
// path still runs with --rm (through storage's mount, which shortens them).
func TestRunRmManyLayers(t *testing.T) {
	h := newHarness(t)
	img := h.imgLoad("busybox")
	const layers = 28
	for i := 0; i < layers; i++ {
		h.Run(0, "run", "--name", "step", "--network", "none", img, "touch", "/layer"+strconv.Itoa(i))
		img = "deep:" + strconv.Itoa(i)
		h.Run(0, "commit", "step", img)
		h.Run(0, "rm", "step")
	}
	r := h.Run(0, "run", "--rm", "--network", "none", img, "sh", "-c", "ls / | grep -c '^layer'")
	if strings.TrimSpace(r.Stdout) != strconv.Itoa(layers) {
		t.Errorf("files from %d layers: %q", layers, r.Stdout)
	}
}
