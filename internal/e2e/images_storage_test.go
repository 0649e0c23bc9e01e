//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestImageStorageVFSWarning: with the vfs driver every command that uses
// the store says, once, on stderr, that vfs is slow and how to fix it;
// stdout stays clean. A store created with vfs stays vfs (and keeps
// warning) without the flag.
func TestImageStorageVFSWarning(t *testing.T) {
	h := newHarness(t)
	fixture := Fixture(t, "busybox", "docker")
	check := func(r Result, what string) {
		t.Helper()
		if n := strings.Count(r.Stderr, "storage driver vfs"); n != 1 {
			t.Errorf("%s: want the vfs warning exactly once on stderr, got %d:\n%s", what, n, r.Stderr)
		}
		for _, want := range []string{"warning", "slow", "Fix:", "fuse-overlayfs"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("%s: the vfs warning lacks %q: %q", what, want, r.Stderr)
			}
		}
		if strings.Contains(r.Stdout, "warning") || strings.Contains(r.Stdout, "storage driver") {
			t.Errorf("%s: the warning must stay off stdout: %q", what, r.Stdout)
		}
	}
	r := h.Run(0, "--storage-driver", "vfs", "load", "-q", "-i", fixture)
	check(r, "load")
	r = h.Run(0, "--storage-driver", "vfs", "images", "-q")
	check(r, "images -q")
	if ids := imgLines(r.Stdout); len(ids) != 1 || !imgHex12.MatchString(ids[0]) {
		t.Errorf("images -q stdout must hold only the ID: %q", r.Stdout)
	}
	r = h.Run(0, "--storage-driver", "vfs", "image", "inspect", "--format", "{{.GraphDriver.Name}}", "cove-test/busybox")
	check(r, "image inspect")
	if strings.TrimSpace(r.Stdout) != "vfs" {
		t.Errorf("GraphDriver.Name = %q", r.Stdout)
	}
	r = h.Run(0, "--storage-driver", "vfs", "info", "--format", "{{.Store.Driver.Driver}}|{{.Store.Driver.Reason}}")
	if got := strings.TrimSpace(r.Stdout); got != "vfs|chosen in configuration" {
		t.Errorf("info with --storage-driver vfs: %q", got)
	}
	// The store remembers its driver.
	r = h.Run(0, "images", "--format", "{{.Repository}}")
	check(r, "images without the flag")
	if strings.TrimSpace(r.Stdout) != "cove-test/busybox" {
		t.Errorf("the vfs store lost its image: %q", r.Stdout)
	}
	r = h.Run(0, "info", "--format", "{{.Store.Driver.Driver}}|{{.Store.Driver.Reason}}")
	if got := strings.TrimSpace(r.Stdout); got != "vfs|the store was created with vfs" {
		t.Errorf("info on a vfs store: %q", got)
	}
	r = h.Run(0, "rmi", "cove-test/busybox")
	check(r, "rmi")
	if got := h.imgLayers(); len(got) != 0 {
		t.Errorf("vfs layers left: %v", got)
	}
}

// TestImageStorageOverlayNoWarning: with native overlay, image commands
// print nothing on stderr but their own output, and info says why overlay
// was chosen.
func TestImageStorageOverlayNoWarning(t *testing.T) {
	h := newHarness(t)
	r := h.Run(0, "load", "-q", "-i", Fixture(t, "busybox", "docker"))
	if r.Stderr != "" {
		t.Errorf("load on overlay: unexpected stderr %q", r.Stderr)
	}
	r = h.Run(0, "images", "-q")
	if r.Stderr != "" {
		t.Errorf("images on overlay: unexpected stderr %q", r.Stderr)
	}
	r = h.Run(0, "info", "--format", "{{.Store.Driver.Driver}} {{.Store.Driver.NativeOverlay}} {{.Store.Driver.Reason}}")
	if got := strings.TrimSpace(r.Stdout); !strings.HasPrefix(got, "overlay true ") || !strings.Contains(got, "native") {
		t.Errorf("info: %q", got)
	}
	r = h.Run(0, "image", "inspect", "--format", "{{.GraphDriver.Name}}", "cove-test/busybox")
	if strings.TrimSpace(r.Stdout) != "overlay" {
		t.Errorf("GraphDriver.Name = %q", r.Stdout)
	}
}
