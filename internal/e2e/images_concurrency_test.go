//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPullConcurrentSame: two pulls of the same image at once both
// succeed, and the image and its layers are stored once.
func TestPullConcurrentSame(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/multi"
	var cmds [3]*imgStarted
	for i := range cmds {
		cmds[i] = h.imgStart("pull", "-q", ref)
	}
	var ids []string
	for i, c := range cmds {
		r := c.wait(t, 2*time.Minute)
		if r.Code != 0 {
			t.Fatalf("pull %d: exit %d\n%s", i, r.Code, r.Stderr)
		}
		ids = append(ids, strings.TrimSpace(r.Stdout))
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || !imgHex64.MatchString(ids[0]) {
		t.Errorf("concurrent pulls gave %v", ids)
	}
	if all := h.imgQuietIDs("-a", "--no-trunc"); len(all) != 1 {
		t.Errorf("want one image, got %v", all)
	}
	if l := h.imgLayers(); len(l) != 3 {
		t.Errorf("multi has 3 layers; the store has %d: %v", len(l), l)
	}
	// And a concurrent pull of another image sharing a layer.
	a := h.imgStart("pull", "-q", reg+"/cove-test/busybox")
	b := h.imgStart("load", "-q", "-i", Fixture(t, "many", "docker"))
	for _, c := range []*imgStarted{a, b} {
		if r := c.wait(t, 2*time.Minute); r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
	}
	if l := h.imgLayers(); len(l) != 4 {
		t.Errorf("multi, busybox and many share busybox's layer: want 4 layers, got %v", l)
	}
}

// bigOrMany returns the largest test image in the registry: big (250 MB,
// hack/setup-test-env.sh --big), else many.
func bigOrMany(t *testing.T, reg string) (ref string, layers int) {
	t.Helper()
	resp, err := http.Get("http://" + reg + "/v2/cove-test/big/tags/list")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return reg + "/cove-test/big", 6
		}
	}
	t.Logf("cove-test/big is not in %s (hack/setup-test-env.sh --big builds it): using many", reg)
	return reg + "/cove-test/many", 2
}

// TestPullKilledThenRepeated: a pull killed with SIGKILL half-way leaves
// nothing half-made that `images -a` shows; repeating it succeeds and
// stores each layer once; the layers the killed pull had stored are
// collected by the next image-writing command once they are older than the
// grace period (shortened here with COVE_ORPHAN_GRACE).
func TestPullKilledThenRepeated(t *testing.T) {
	reg := Registry(t)
	ref, nLayers := bigOrMany(t, reg)
	h := newHarness(t)

	killMidway := func() bool {
		c := h.imgStart("pull", ref)
		// Kill once the store holds some but not all of the layers.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && !c.exited() {
			if n := len(h.imgLayersQuiet()); n >= max(1, nLayers/2) && n < nLayers {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		stored := len(h.imgLayersQuiet())
		imgKillGroup(c.cmd)
		r := c.wait(t, time.Minute)
		t.Logf("killed the pull with %d of %d layers in the store (exit %d)", stored, nLayers, r.Code)
		if r.Code == 0 {
			return false
		}
		if !imgGroupGone(c.cmd.Process.Pid) {
			t.Fatalf("processes of the killed pull survive")
		}
		return true
	}
	if !killMidway() {
		t.Skip("the pull finished before it could be killed")
	}
	r := h.Run(0, "images", "-a", "--format", "{{.ID}} {{.Repository}}")
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("a killed pull left a visible image: %q", r.Stdout)
	}
	r = h.Run(0, "pull", "-q", ref)
	id := strings.TrimSpace(r.Stdout)
	if l := h.imgLayers(); len(l) != nLayers {
		t.Errorf("after the repeated pull: want %d layers, got %d", nLayers, len(l))
	}
	if all := h.imgQuietIDs("-a", "--no-trunc"); len(all) != 1 || all[0] != "sha256:"+id {
		t.Errorf("images after the repeated pull: %v", all)
	}
	// Storage still works for reading the image.
	h.Run(0, "image", "inspect", "--format", "{{len .RootFS.Layers}}", ref)

	// Orphans: kill a pull of an image that is not present, then have
	// another image-writing command collect what it stored.
	h.Run(0, "rmi", ref)
	if l := h.imgLayers(); len(l) != 0 {
		t.Fatalf("rmi left layers: %v", l)
	}
	if !killMidway() {
		t.Skip("the second pull finished before it could be killed")
	}
	orphans := h.imgLayers()
	if len(orphans) == 0 {
		t.Logf("the killed pull stored no complete layer")
	}
	h.Setenv("COVE_ORPHAN_GRACE", "0s")
	h.imgLoad("busybox")
	after := h.imgLayers()
	if len(after) != 1 {
		t.Errorf("after the next write only busybox's layer should remain; had %v, now %v", orphans, after)
	}
	r = h.Run(0, "images", "-a", "--format", "{{.Repository}}")
	if strings.TrimSpace(r.Stdout) != "cove-test/busybox" {
		t.Errorf("images after the cleanup: %q", r.Stdout)
	}
	// Without the override, young orphans are left alone: a writer that
	// is between two steps must not lose its layers.
	h.Unsetenv("COVE_ORPHAN_GRACE")
	if !killMidway() {
		return
	}
	young := h.imgCompleteLayers()
	h.Run(0, "tag", "cove-test/busybox", "x:1") // not a copy: takes no lock
	h.imgLoad("multi")
	for _, l := range young {
		found := false
		for _, n := range h.imgLayers() {
			found = found || n == l
		}
		if !found {
			t.Errorf("young layer %s collected within the grace period", l)
		}
	}
}
