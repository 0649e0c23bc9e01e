//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestImageStorageProbeFallback: when native overlay fails (simulated by
// the probe's cached verdict in the run root, which a reboot clears),
// fuse-overlayfs is chosen if it is installed and /dev/fuse opens, and a
// container runs on it; without fuse-overlayfs on PATH the store falls to
// vfs with the warning, never silently.
func TestImageStorageProbeFallback(t *testing.T) {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Skip("fuse-overlayfs is not installed (hack/setup-test-env.sh installs it)")
	}
	h := newHarness(t)
	runRoot := filepath.Join(h.Dir, "run", "cove")
	if err := os.MkdirAll(runRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	h.Chown(runRoot)
	probe := filepath.Join(runRoot, "overlay-probe")
	if err := os.WriteFile(probe, []byte("fail: simulated for the test"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Chown(probe)
	r := h.Run(0, "info", "--format", "{{.Store.Driver.Driver}}|{{.Store.Driver.MountProgram}}|{{.Store.Driver.Reason}}")
	f := strings.SplitN(strings.TrimSpace(r.Stdout), "|", 3)
	if len(f) != 3 || f[0] != "overlay" || !strings.HasSuffix(f[1], "fuse-overlayfs") || !strings.Contains(f[2], "simulated for the test") {
		t.Fatalf("native overlay failing: want overlay through fuse-overlayfs with the reason, got %q", r.Stdout)
	}
	r = h.Run(0, "load", "-q", "-i", Fixture(t, "busybox", "docker"))
	if r.Stderr != "" {
		t.Errorf("fuse-overlayfs is no reason for a warning: %q", r.Stderr)
	}
	r = h.Run(0, "run", "--rm", bb, "grep", " / ", "/proc/mounts")
	if !strings.Contains(r.Stdout, "fuse-overlayfs") {
		t.Errorf("the container's root should be a fuse-overlayfs mount: %q", r.Stdout)
	}

	// No fuse-overlayfs on PATH (newuidmap/newgidmap still there): vfs,
	// with the reason and the warning. A fresh graph root, since a store
	// keeps the driver that created it.
	bin := filepath.Join(h.Dir, "work", "bin")
	os.MkdirAll(bin, 0o755)
	for _, p := range []string{"newuidmap", "newgidmap"} {
		if full, err := exec.LookPath(p); err == nil {
			os.Symlink(full, filepath.Join(bin, p))
		}
	}
	defer h.Setenv("PATH", h.getenv("PATH")) // the clean-up runs cove unshare rm
	h.Setenv("PATH", bin)
	h.Setenv("XDG_DATA_HOME", filepath.Join(h.Dir, "data", "second"))
	r = h.Run(0, "info", "--format", "{{.Store.Driver.Driver}}|{{.Store.Driver.Reason}}")
	if got := strings.TrimSpace(r.Stdout); !strings.HasPrefix(got, "vfs|") || !strings.Contains(got, "fuse-overlayfs is not installed") {
		t.Errorf("neither overlay: want vfs and why, got %q", got)
	}
	r = h.Run(0, "load", "-q", "-i", Fixture(t, "busybox", "docker"))
	if !strings.Contains(r.Stderr, "storage driver vfs") {
		t.Errorf("vfs must be announced: %q", r.Stderr)
	}
}
