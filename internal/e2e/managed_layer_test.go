//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storageContainers counts the containers storage knows: the entries of
// its containers.json and volatile-containers.json (cove's info counts its
// own records, whatever holds their layers).
func storageContainers(t *testing.T, h *Harness) string {
	t.Helper()
	n := 0
	for _, f := range []string{"containers.json", "volatile-containers.json"} {
		b, err := os.ReadFile(filepath.Join(h.Dir, "data", "cove", "storage", "overlay-containers", f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var list []json.RawMessage
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := json.Unmarshal(b, &list); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		n += len(list)
	}
	return strconv.Itoa(n)
}

// containerDir is the container's record directory, where a cove-managed
// layer keeps its upper directory.
func containerDir(h *Harness, id string) string {
	return filepath.Join(h.Dir, "data", "cove", "containers", id)
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
// protected like any other container's, its layer reads like a storage
// layer, and nothing of it stays.
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
	// Its layer is in its record's directory, and the commands that
	// read a layer read it there.
	if b, err := os.ReadFile(filepath.Join(containerDir(h, id), "upper", "written")); err != nil || string(b) != "data\n" {
		t.Errorf("the container's upper directory: %q, %v", b, err)
	}
	if r := h.Run(0, "diff", "eph"); !strings.Contains(r.Stdout, "A /written") {
		t.Errorf("diff of a run --rm container: %q", r.Stdout)
	}
	h.Run(0, "export", "-o", filepath.Join(h.Dir, "work", "x.tar"), "eph")
	h.Run(0, "commit", "eph", "snap")
	if r := h.Run(0, "run", "--rm", "--network", "none", "snap", "cat", "/written"); r.Stdout != "data\n" {
		t.Errorf("the commit of a run --rm container: %q", r.Stdout)
	}
	h.Run(0, "rmi", "snap")
	h.Run(0, "kill", "eph")
	run.wait(t, 10*time.Second)
	h.Run(0, "ps", "-a")
	if r := h.Run(0, "ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("run --rm left a container: %q", r.Stdout)
	}
	if _, err := os.Stat(containerDir(h, id)); !os.IsNotExist(err) {
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
	if _, err := os.Stat(containerDir(h, id)); !os.IsNotExist(err) {
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

// A durable container (run -d, no --rm) is not in storage either: its
// layer is in its record's directory, survives stop, start and restart,
// and its image is protected as storage protects an image its containers
// use.
func TestDurableManagedLayer(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	r := h.Run(0, "run", "-d", "--name", "dur", "--network", "none", bb, "sh", "-c", "test -e /written || echo data > /written; sleep 300")
	id := strings.TrimSpace(r.Stdout)
	waitRunning(t, h, "dur")
	if n := storageContainers(t, h); n != "0" {
		t.Errorf("storage knows %s containers while a run -d container runs, want 0", n)
	}
	if r := h.Run(0, "info", "--format", "{{.Store.Containers}}"); strings.TrimSpace(r.Stdout) != "1" {
		t.Errorf("info counts %q containers, want 1", r.Stdout)
	}
	// inspect says where the layer is, in Docker's GraphDriver section.
	r = h.Run(0, "inspect", "-f", "{{.GraphDriver.Name}} {{.GraphDriver.Data.UpperDir}}", "dur")
	if want := "overlay " + filepath.Join(containerDir(h, id), "upper"); strings.TrimSpace(r.Stdout) != want {
		t.Errorf("inspect GraphDriver: %q, want %q", r.Stdout, want)
	}
	upperFile := filepath.Join(containerDir(h, id), "upper", "written")
	waitFor(t, 10*time.Second, "the container's write", func() bool {
		b, err := os.ReadFile(upperFile)
		return err == nil && string(b) == "data\n"
	})
	h.Run(0, "stop", "-t", "0", "dur")
	// A stopped container keeps its image as much as a running one.
	r = h.Run(125, "rmi", bb)
	if !strings.Contains(r.Stderr, "in use by container") || !strings.Contains(r.Stderr, id[:12]) {
		t.Errorf("rmi of the image of a stopped container: %q", r.Stderr)
	}
	h.Run(0, "image", "prune", "-a", "-f")
	h.Run(0, "image", "exists", bb)
	if r := h.Run(0, "images", "--format", "{{.Containers}}"); strings.TrimSpace(r.Stdout) != "1" {
		t.Errorf("images counts %q containers of the image, want 1", r.Stdout)
	}
	// The layer comes back on every start, and a restart keeps it.
	h.Run(0, "start", "dur")
	if r := h.Run(0, "exec", "dur", "cat", "/written"); r.Stdout != "data\n" {
		t.Errorf("after stop and start: %q", r.Stdout)
	}
	h.Run(0, "restart", "-t", "0", "dur")
	if r := h.Run(0, "exec", "dur", "cat", "/written"); r.Stdout != "data\n" {
		t.Errorf("after restart: %q", r.Stdout)
	}
	if r := h.Run(0, "ps", "-s", "--format", "{{.Size}}", "--filter", "name=dur"); !strings.HasPrefix(r.Stdout, "5B (virtual ") {
		t.Errorf("ps -s of the container (5 bytes written): %q", r.Stdout)
	}
	// Docker's rmi -f: the image loses its name and stays for the
	// container.
	r = h.Run(0, "rmi", "-f", bb)
	if !strings.Contains(r.Stdout, "Untagged: cove-test/busybox") {
		t.Errorf("rmi -f of an image in use: %q", r.Stdout)
	}
	if r := h.Run(0, "exec", "dur", "cat", "/written"); r.Stdout != "data\n" {
		t.Errorf("after rmi -f: %q", r.Stdout)
	}
	h.Run(0, "rm", "-f", "dur")
	if _, err := os.Stat(containerDir(h, id)); !os.IsNotExist(err) {
		t.Errorf("the container's directory (and its upper layer) stayed: %v", err)
	}
	if r := h.Run(0, "images", "-aq"); strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("the untagged image went with its container (Docker keeps it)")
	}
	h.Run(0, "image", "prune", "-f")
	if r := h.Run(0, "images", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("prune after the container's removal left %q", r.Stdout)
	}
}

// Deletions in a cove-managed layer are overlay whiteouts (a 0:0
// character device) and opaque directories (an overlay xattr, user.* in
// the user namespace): diff shows them, export and commit apply them.
func TestDurableWhiteoutsCommit(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	h.Run(0, "run", "--name", "base", "--network", "none", bb, "sh", "-c", "mkdir /data && echo old > /data/old")
	h.Run(0, "commit", "base", "base2")
	r := h.Run(0, "run", "--name", "w", "--network", "none", "base2", "sh", "-c", "rm /bin/vi && rm -rf /data && mkdir /data && echo only > /data/only")
	id := h.Run(0, "inspect", "-f", "{{.Id}}", "w").Stdout
	upper := filepath.Join(containerDir(h, strings.TrimSpace(id)), "upper")
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(upper, "bin", "vi"), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != 0 {
		t.Errorf("/bin/vi in the upper directory is not a whiteout: mode %o rdev %d, %v", st.Mode, st.Rdev, err)
	}
	buf := make([]byte, 8)
	if n, err := syscall.Getxattr(filepath.Join(upper, "data"), "user.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("/data in the upper directory is not opaque (user.overlay.opaque): %q, %v", buf[:max(n, 0)], err)
	}
	r = h.Run(0, "diff", "w")
	// An opaque directory is a deletion and a new directory, as the
	// overlay drivers of storage and Docker list it.
	for _, want := range []string{"D /bin/vi\n", "D /data\n", "A /data/only\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = h.Run(0, "export", "w")
	if strings.Contains(r.Stdout, "bin/vi\x00") || strings.Contains(r.Stdout, "data/old\x00") || !strings.Contains(r.Stdout, "data/only\x00") {
		t.Errorf("export shows deleted files or lacks new ones")
	}
	h.Run(0, "commit", "w", "snap")
	r = h.Run(0, "run", "--rm", "--network", "none", "snap", "sh", "-c", "test ! -e /bin/vi && test ! -e /data/old && cat /data/only")
	if r.Stdout != "only\n" {
		t.Errorf("the committed image: %q", r.Stdout)
	}
	// The image's own tar layer carries Docker's whiteouts.
	h.Run(0, "save", "-o", filepath.Join(h.Dir, "work", "snap.tar"), "snap")
	names := tarNamesDeep(t, filepath.Join(h.Dir, "work", "snap.tar"))
	for _, want := range []string{"bin/.wh.vi", "data/.wh..wh..opq"} {
		if !names[want] {
			t.Errorf("the saved image's layers have no %s", want)
		}
	}
}

// tarNamesDeep lists the entries of the tar files inside a tar archive
// (an image archive's layers).
func tarNamesDeep(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		inner := tar.NewReader(tr)
		for {
			ih, err := inner.Next()
			if err != nil {
				break
			}
			out[strings.TrimPrefix(ih.Name, "./")] = true
		}
		_ = hdr
	}
}

// kill -9 of `rm` at any point leaves a container that is either gone or
// removable, and no files: a later rm sweeps what a killed one left.
func TestDurableRmKilled(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	for i, delay := range []time.Duration{2, 8, 15, 25, 40} {
		name := "k" + strconv.Itoa(i)
		// Many files make the removal of the upper directory slow enough
		// to be caught half-way.
		r := h.Run(0, "run", "-d", "--name", name, "--network", "none", bb, "sh", "-c", "mkdir /m && cd /m && for i in $(seq 2000); do echo $i > f$i; done; touch /done; sleep 300")
		id := strings.TrimSpace(r.Stdout)
		waitFor(t, 30*time.Second, "the files", func() bool {
			_, err := os.Stat(filepath.Join(containerDir(h, id), "upper", "done"))
			return err == nil
		})
		h.Run(0, "stop", "-t", "0", name)
		rm := h.imgStart("rm", name)
		time.Sleep(delay * time.Millisecond)
		syscall.Kill(-rm.cmd.Process.Pid, syscall.SIGKILL)
		rm.wait(t, 10*time.Second)
		r = run(h.Cmd("rm", "-f", name))
		if r.Code != 0 && !strings.Contains(r.Stderr, "no such container") {
			t.Fatalf("rm -f after a killed rm (%d ms): exit %d\n%s", delay, r.Code, r.Stderr)
		}
		if r := h.Run(0, "ps", "-aq", "--filter", "name="+name); strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("container %s still listed: %q", name, r.Stdout)
		}
	}
	// One more removal sweeps what the killed ones left.
	h.Run(0, "create", "--name", "last", bb)
	h.Run(0, "rm", "last")
	ents, err := os.ReadDir(filepath.Join(h.Dir, "data", "cove", "containers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in the containers directory: %s", e.Name())
	}
	h.Run(0, "rmi", bb)
}

// A record written before durable containers had a cove-managed layer
// (Ephemeral, for a foreground run --rm) still reads as one: removal and
// image protection see it.
func TestManagedLayerLegacyRecord(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	id := strings.TrimSpace(h.Run(0, "create", "--name", "old", "--network", "none", bb, "true").Stdout)
	cfg := filepath.Join(containerDir(h, id), "config.json")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ManagedLayer":true`) {
		t.Fatalf("the record does not say ManagedLayer: %s", b)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), `"ManagedLayer":true`, `"Ephemeral":true`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.Run(125, "rmi", bb)
	if !strings.Contains(r.Stderr, "in use by container") {
		t.Errorf("rmi of the image of a legacy record: %q", r.Stderr)
	}
	h.Run(0, "start", "-a", "old")
	h.Run(0, "rm", "old")
	h.Run(0, "rmi", bb)
}

// create and rmi of the same image at once: either the removal sees the
// new container's record and refuses, or the create sees the image gone
// and fails; never both succeed, leaving a container without its image.
func TestManagedLayerCreateRacesRmi(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	h.Run(0, "create", "--name", "base", "--network", "none", bb, "true")
	for i := 0; i < 8; i++ {
		// A fresh image each round, its own layer on top of busybox.
		victim := "victim:" + strconv.Itoa(i)
		h.Run(0, "commit", "-c", "LABEL round="+strconv.Itoa(i), "base", victim)
		name := "c" + strconv.Itoa(i)
		rs := h.RunParallel(2, func(j int) []string {
			if j == 0 {
				return []string{"create", "--name", name, "--network", "none", victim, "true"}
			}
			return []string{"rmi", victim}
		})
		created, removed := rs[0].Code == 0, rs[1].Code == 0
		t.Logf("round %d: create %v, rmi %v", i, created, removed)
		if created && removed {
			t.Fatalf("round %d: both create and rmi succeeded\ncreate: %s\nrmi: %s", i, rs[0].Stderr, rs[1].Stdout)
		}
		if !created && !removed {
			t.Fatalf("round %d: neither succeeded\ncreate: %s\nrmi: %s", i, rs[0].Stderr, rs[1].Stderr)
		}
		if created {
			h.Run(0, "start", "-a", name)
			h.Run(0, "rm", name)
			h.Run(0, "rmi", victim)
		} else if r := h.Run(0, "ps", "-aq", "--filter", "name="+name); strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("round %d: a failed create left %q", i, r.Stdout)
		}
	}
}

// kill -9 of `run -d` at any point of the create and start leaves a
// store the next commands use: the container is absent, or there and
// removable (or running, if the launcher got far enough), and a new one
// of the same name runs.
func TestDurableRunKilled(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	for i, delay := range []time.Duration{3, 10, 20, 35, 50, 80} {
		name := "k" + strconv.Itoa(i)
		fg := h.imgStart("run", "-d", "--name", name, "--network", "none", bb, "sleep", "300")
		time.Sleep(delay * time.Millisecond)
		syscall.Kill(-fg.cmd.Process.Pid, syscall.SIGKILL)
		fg.wait(t, 10*time.Second)
		h.Run(0, "ps", "-a")
		r := run(h.Cmd("rm", "-f", name))
		if r.Code != 0 && !strings.Contains(r.Stderr, "no such container") {
			t.Fatalf("rm -f after a killed run -d (%d ms): exit %d\n%s", delay, r.Code, r.Stderr)
		}
		h.Run(0, "run", "-d", "--name", name, "--network", "none", bb, "sleep", "300")
		if r := h.Run(0, "exec", name, "true"); r.Code != 0 {
			t.Errorf("the new container %s does not run", name)
		}
		h.Run(0, "rm", "-f", name)
	}
	if n := storageContainers(t, h); n != "0" {
		t.Errorf("storage has %s containers", n)
	}
	h.Run(0, "rmi", bb)
}

// rm -f of a running --rm container races its launcher, which removes it
// too once it sees the exit: whichever renames the record first, rm -f
// succeeds (the container is gone, as asked) and nothing stays.
func TestRmForceRacesAutoRemove(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	for i := 0; i < 10; i++ {
		name := "r" + strconv.Itoa(i)
		h.Run(0, "run", "-d", "--rm", "--name", name, "--network", "none", bb, "sleep", "300")
		if r := h.Run(0, "rm", "-f", name); strings.TrimSpace(r.Stdout) != name {
			t.Errorf("rm -f %s printed %q", name, r.Stdout)
		}
	}
	waitFor(t, 10*time.Second, "the launchers' removals", func() bool {
		ents, err := os.ReadDir(filepath.Join(h.Dir, "data", "cove", "containers"))
		return err == nil && len(ents) == 0
	})
}

// A view of a stopped container's layer (export, cp) that a killed
// command left is removed by the next view; one whose process lives is
// not.
func TestManagedLayerStaleView(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	id := strings.TrimSpace(h.Run(0, "create", "--name", "v", "--network", "none", bb, "true").Stdout)
	done := h.Cmd("version")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(containerDir(h, id), "view-"+strconv.Itoa(done.Process.Pid)+"-1", "work", "work")
	live := filepath.Join(containerDir(h, id), "view-"+strconv.Itoa(os.Getpid())+"-1")
	for _, d := range []string{stale, live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{stale, filepath.Dir(stale), filepath.Dir(filepath.Dir(stale)), live} {
		h.Chown(d)
	}
	h.Run(0, "export", "-o", filepath.Join(h.Dir, "work", "v.tar"), "v")
	if _, err := os.Stat(filepath.Dir(filepath.Dir(stale))); !os.IsNotExist(err) {
		t.Errorf("the stale view stayed: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the view of a live process went: %v", err)
	}
	h.Run(0, "rm", "v")
}
