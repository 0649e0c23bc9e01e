//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Helpers shared by the image tests (images_*_test.go).

var (
	imgHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	imgHex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// load loads a fixture archive (busybox, multi, many) and returns its ID.
func (h *Harness) imgLoad(name string) string {
	h.t.Helper()
	h.Run(0, "load", "-q", "-i", Fixture(h.t, name, "docker"))
	return h.imgID("cove-test/" + name)
}

// imageID returns the full ID (without sha256:) of a local image.
func (h *Harness) imgID(name string) string {
	h.t.Helper()
	r := h.Run(0, "image", "inspect", "--format", "{{.Id}}", name)
	return strings.TrimPrefix(strings.TrimSpace(r.Stdout), "sha256:")
}

// imgStoreState is what "nothing lost, nothing added" compares: every image
// ID with its names, and every layer the store holds.
type imgStoreState struct {
	Images string
	Layers []string
	Files  []string
}

// imgDiffLists returns what is only in b (added) and only in a (removed).
func imgDiffLists(a, b []string) (added, removed []string) {
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range list {
			m[s] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	for _, s := range b {
		if !ina[s] {
			added = append(added, s)
		}
	}
	for _, s := range a {
		if !inb[s] {
			removed = append(removed, s)
		}
	}
	return added, removed
}

func (h *Harness) imgGraphRoot() string {
	return filepath.Join(h.Dir, "data", "cove", "storage")
}

// imgLayers lists the layer IDs in the store's layers.json, read directly
// (the test runs as root, or as the store's owner).
func (h *Harness) imgLayers() []string {
	h.t.Helper()
	ids, err := h.imgLayerList(false)
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// imgLayersQuiet is imgLayers for polling while a writer runs.
func (h *Harness) imgLayersQuiet() []string {
	ids, _ := h.imgLayerList(false)
	return ids
}

// imgCompleteLayers leaves out layers flagged incomplete (the store
// deletes those itself the next time it is opened for writing).
func (h *Harness) imgCompleteLayers() []string {
	h.t.Helper()
	ids, err := h.imgLayerList(true)
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

func (h *Harness) imgLayerList(completeOnly bool) ([]string, error) {
	var ids []string
	for _, drv := range []string{"overlay", "vfs"} {
		b, err := os.ReadFile(filepath.Join(h.imgGraphRoot(), drv+"-layers", "layers.json"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var ls []struct {
			ID    string         `json:"id"`
			Flags map[string]any `json:"flags"`
		}
		if err := json.Unmarshal(b, &ls); err != nil {
			return nil, fmt.Errorf("layers.json: %v", err)
		}
		for _, l := range ls {
			if completeOnly && l.Flags["incomplete"] != nil {
				continue
			}
			ids = append(ids, l.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (h *Harness) imgState() imgStoreState {
	h.t.Helper()
	r := h.Run(0, "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	sort.Strings(lines)
	return imgStoreState{Images: strings.Join(lines, "\n"), Layers: h.imgLayers(), Files: h.imgStoreFiles()}
}

// imgStoreFiles lists every file and directory of cove's data directory
// (the store, cove's records, its spool), with the size of regular files,
// so that "nothing lost, nothing added" also covers what `images` and
// layers.json do not show: a half-extracted layer directory, a spooled
// archive, a stray image directory. Left out, because reads change them:
// lock files, and the blob-info cache (where blobs were seen, not content).
func (h *Harness) imgStoreFiles() []string {
	h.t.Helper()
	root := filepath.Join(h.Dir, "data", "cove")
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == "cache" || rel == "locks":
			return filepath.SkipDir
		case strings.HasSuffix(rel, ".lock") || strings.HasSuffix(rel, ".lock.rw"):
			return nil
		case rel == "tmp":
			// The spool directory itself, made on first use; what it
			// holds is listed.
			return nil
		}
		if fi.Mode().IsRegular() {
			rel += fmt.Sprintf(" %d", fi.Size())
		}
		out = append(out, rel)
		return nil
	})
	return out
}

// assertState fails unless the store is exactly as before.
func (h *Harness) imgAssertState(before imgStoreState, after string) {
	h.t.Helper()
	now := h.imgState()
	if now.Images != before.Images {
		h.t.Errorf("%s: images changed:\nbefore:\n%s\nafter:\n%s", after, before.Images, now.Images)
	}
	if strings.Join(now.Layers, ",") != strings.Join(before.Layers, ",") {
		h.t.Errorf("%s: layers changed: before %v, after %v", after, before.Layers, now.Layers)
	}
	if added, removed := imgDiffLists(before.Files, now.Files); len(added)+len(removed) > 0 {
		h.t.Errorf("%s: files in the store changed: added %v, removed %v", after, added, removed)
	}
}

// quietIDs returns the lines of `images -q` (and flags).
func (h *Harness) imgQuietIDs(args ...string) []string {
	h.t.Helper()
	r := h.Run(0, append([]string{"images", "-q"}, args...)...)
	out := strings.Fields(r.Stdout)
	sort.Strings(out)
	return out
}

// RunTimeout is Run with a deadline: the command is killed (and the test
// fails) if it takes longer, so a hang never stalls the suite.
func (h *Harness) imgRunTimeout(d time.Duration, stdin []byte, wantExit int, args ...string) Result {
	h.t.Helper()
	r := h.imgRunAny(d, stdin, args...)
	if r.Code != wantExit {
		h.t.Fatalf("cove %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, wantExit, r.Stdout, r.Stderr)
	}
	return r
}

// runAny runs cove with a deadline and returns whatever it exits with.
func (h *Harness) imgRunAny(d time.Duration, stdin []byte, args ...string) Result {
	h.t.Helper()
	cmd := h.Cmd(args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	imgSetpgid(cmd)
	var out, errb imgBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan Result, 1)
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { done <- imgWait(cmd) }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		imgKillGroup(cmd)
		r := <-done
		h.t.Fatalf("cove %s: still running after %s (killed)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), d, r.Stdout, r.Stderr)
		return r
	}
}

// imgStarted is a cove process running in the background.
type imgStarted struct {
	cmd       *exec.Cmd
	out, errb *imgBuffer
	done      chan Result
}

// imgStart starts cove in its own process group, with output captured.
func (h *Harness) imgStart(args ...string) *imgStarted {
	h.t.Helper()
	cmd := h.Cmd(args...)
	imgSetpgid(cmd)
	s := &imgStarted{cmd: cmd, out: &imgBuffer{}, errb: &imgBuffer{}, done: make(chan Result, 1)}
	cmd.Stdout, cmd.Stderr = s.out, s.errb
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { s.done <- imgWait(cmd) }()
	return s
}

// wait waits for the process, killing its group after timeout.
func (s *imgStarted) wait(t *testing.T, timeout time.Duration) Result {
	t.Helper()
	select {
	case r := <-s.done:
		s.done <- r
		return r
	case <-time.After(timeout):
		imgKillGroup(s.cmd)
		r := <-s.done
		s.done <- r
		t.Fatalf("cove %v still running after %s\nstderr:\n%s", s.cmd.Args[1:], timeout, r.Stderr)
		return r
	}
}

func (s *imgStarted) exited() bool {
	select {
	case r := <-s.done:
		s.done <- r
		return true
	default:
		return false
	}
}

// imgGroupGone waits for every process of a process group to be gone.
func imgGroupGone(pgid int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		alive := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// pid (comm) state ppid pgrp ...
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i >= 0 {
				f := strings.Fields(s[i+1:])
				if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
					alive = true
				}
			}
		}
		if !alive {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func imgSetpgid(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// wait collects the result of a command started with imgBuffer output.
func imgWait(cmd *exec.Cmd) Result {
	err := cmd.Wait()
	r := Result{Stdout: fmt.Sprint(cmd.Stdout), Stderr: fmt.Sprint(cmd.Stderr)}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
			if ee.ExitCode() < 0 {
				r.Code = 137
			}
		} else {
			r.Code = -1
		}
	}
	return r
}

// killGroup sends SIGKILL to the command's whole process group: cove
// re-executes itself inside the user namespace, and the child must die too.
func imgKillGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// imgBuffer is a bytes.Buffer safe to read while a process writes it.
type imgBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *imgBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *imgBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var imgUniq atomic.Int64

// uniqueRepo returns a registry repository name no other test (or earlier
// run) uses.
func imgUniqueRepo(t *testing.T) string {
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	return fmt.Sprintf("cove-e2e/%s-%d-%d", n, time.Now().UnixNano(), imgUniq.Add(1))
}

// imgEntry is one entry of a hand-made layer tar.
type imgEntry struct {
	Name, Link string
	Type       byte
	Data       string
}

func imgLayer(t *testing.T, es ...imgEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}
		switch e.Type {
		case tar.TypeReg:
			h.Size = int64(len(e.Data))
		case tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.Type == tar.TypeReg {
			tw.Write([]byte(e.Data))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// dockerArchive writes a docker-archive ("docker save" format) by hand:
// manifest.json, the config, and one layer.tar per layer. An empty tag
// makes an untagged image.
func (h *Harness) imgDockerArchive(rel, tag string, layers ...[]byte) string {
	h.t.Helper()
	var diffIDs, names []string
	for _, l := range layers {
		sum := fmt.Sprintf("%x", sha256.Sum256(l))
		diffIDs = append(diffIDs, "sha256:"+sum)
		names = append(names, sum+"/layer.tar")
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": time.Now().UTC().Format(time.RFC3339Nano),
		"config": map[string]any{"Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	tags := []string{}
	if tag != "" {
		tags = append(tags, tag)
	}
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": tags, "Layers": names}})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(n string, d []byte) {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
		tw.Write(d)
	}
	add("manifest.json", man)
	add(cfgName, cfg)
	for i, l := range layers {
		add(names[i], l)
	}
	tw.Close()
	return h.WriteFile(rel, b.Bytes())
}

// assertNoFile fails if any of the paths exists.
func imgAssertNoFile(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists: an archive escaped its layer", p)
			os.Remove(p)
		}
	}
}

// findFile walks dir for a file called name.
func imgFindFile(dir, name string) []string {
	var found []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == name {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func imgLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func imgCountPrefix(s, prefix string) int {
	n := 0
	for _, l := range imgLines(s) {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// rootfsTar writes a root filesystem tarball for import.
func (h *Harness) imgRootfsTar(rel string, files map[string]string) string {
	h.t.Helper()
	var es []imgEntry
	for name, data := range files {
		es = append(es, imgEntry{Name: name, Type: tar.TypeReg, Data: data})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return h.WriteFile(rel, imgLayer(h.t, es...))
}
