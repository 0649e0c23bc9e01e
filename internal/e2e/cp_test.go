//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tarOf makes a tar stream of regular files (name -> body), each owned by
// uid:gid.
func tarOf(t *testing.T, uid int, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o640, Size: int64(len(files[i+1])), Uid: uid, Gid: uid, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

// tarNames lists the entry names of a tar stream.
func tarNames(t *testing.T, data string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("not a tar stream: %v", err)
		}
		names = append(names, h.Name)
	}
}

// cpAndRead runs cp SRC DST and checks that the file rel (relative to the
// work directory, where the host paths of cp are) holds want.
func (h *Harness) cpAndRead(src, dst, rel, want string) {
	h.t.Helper()
	h.Run(0, "cp", src, dst)
	if got := h.readWork(rel); got != want {
		h.t.Errorf("cp %s %s: %s holds %q, want %q", src, dst, rel, got, want)
	}
}

func (h *Harness) readWork(rel string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir, "work", rel))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// ownedByUser checks that a copied-out file belongs to the test user.
func (h *Harness) ownedByUser(rel string) {
	h.t.Helper()
	fi, err := os.Lstat(filepath.Join(h.Dir, "work", rel))
	if err != nil {
		h.t.Fatal(err)
	}
	if h.user != nil && int(fi.Sys().(*syscall.Stat_t).Uid) != h.user.uid {
		h.t.Errorf("%s belongs to uid %d, want the user's %d", rel, fi.Sys().(*syscall.Stat_t).Uid, h.user.uid)
	}
}

func TestCpStoppedContainer(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "create", "--name", "c", "cove-test/busybox", "sleep", "60")
	h.WriteFile("f.txt", []byte("hello"))
	h.WriteFile("d/sub/y", []byte("y"))
	h.Chown(filepath.Join(h.Dir, "work", "d"))

	// Into the container: a file into a directory, a directory to a new
	// name, a tar stream, -a keeping its owner.
	h.Run(0, "cp", "f.txt", "c:/tmp/")
	h.Run(0, "cp", "d", "c:/tmp/d2")
	h.RunIn(tarOf(t, 0, "fromtar", "streamed"), 0, "cp", "-", "c:/tmp")
	h.RunIn(tarOf(t, 1234, "owned", "x"), 0, "container", "cp", "-a", "-", "c:/tmp")
	h.RunIn(tarOf(t, 1234, "plain", "x"), 0, "cp", "-", "c:/tmp")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarOf(t, 0, "zipped", "z"))
	zw.Close()
	h.RunIn(gz.Bytes(), 0, "cp", "-", "c:/tmp")

	// And back out.
	h.cpAndRead("c:/tmp/f.txt", "out.txt", "out.txt", "hello")
	h.ownedByUser("out.txt")
	h.cpAndRead("c:/tmp/d2/.", "outd", "outd/sub/y", "y")
	h.cpAndRead("c:/tmp/zipped", "zipped", "zipped", "z")
	h.cpAndRead("c:tmp/fromtar", "fromtar", "fromtar", "streamed")
	r := h.Run(0, "cp", "c:/etc/passwd", "-")
	if names := tarNames(t, r.Stdout); len(names) != 1 || names[0] != "passwd" {
		t.Errorf("cp c:/etc/passwd - wrote entries %q", names)
	}
	r = h.Run(0, "cp", "c:/tmp/d2/.", "-")
	if got := strings.Join(tarNames(t, r.Stdout), " "); got != "sub/ sub/y" {
		t.Errorf("cp c:/tmp/d2/. - wrote entries %q", got)
	}

	// Owners as the container sees them: root unless -a.
	h.Run(0, "rm", "-f", "c")
	h.Run(0, "create", "--name", "c2", "cove-test/busybox", "stat", "-c", "%u %n", "/tmp/owned", "/tmp/plain", "/tmp/f.txt")
	h.RunIn(tarOf(t, 1234, "owned", "x"), 0, "cp", "-a", "-", "c2:/tmp")
	h.RunIn(tarOf(t, 1234, "plain", "x"), 0, "cp", "-", "c2:/tmp")
	h.Run(0, "cp", "f.txt", "c2:/tmp/")
	r = h.Run(0, "start", "-a", "c2")
	if want := "1234 /tmp/owned\n0 /tmp/plain\n0 /tmp/f.txt\n"; r.Stdout != want {
		t.Errorf("owners:\n%s\nwant\n%s", r.Stdout, want)
	}
}

func TestCpErrors(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "create", "--name", "c", "cove-test/busybox", "true")
	h.WriteFile("f.txt", []byte("hello"))
	h.WriteFile("d/x", []byte("x"))
	// A --read-only container refuses a copy into its root file system
	// (Docker), not into a writable mount.
	h.Run(0, "create", "--name", "ro", "--read-only", "--tmpfs", "/scratch", "cove-test/busybox", "true")
	if r := h.Run(125, "cp", "f.txt", "ro:/etc/f.txt"); !strings.Contains(r.Stderr, "read-only") {
		t.Errorf("cp into a --read-only container: %q", r.Stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"c:/nonexistent", "x"}, "c:/nonexistent: no such file or directory"},
		{[]string{"nosuch:/etc/passwd", "x"}, "nosuch"},
		{[]string{"f.txt", "g.txt"}, "must be CONTAINER:PATH"},
		{[]string{"c:/etc", "c:/tmp"}, "between containers"},
		{[]string{"d", "c:/etc/passwd"}, "cannot copy a directory to a file"},
		{[]string{"f.txt", "c:/no/such/dir/f"}, "does not exist"},
		{[]string{"f.txt", "c:/newdir/"}, "no such directory"},
		{[]string{"c:/etc/passwd/", "x"}, "not a directory"},
		{[]string{"-", "c:/etc/passwd"}, "must be a directory"},
	} {
		r := h.Run(125, append([]string{"cp"}, c.args...)...)
		if !strings.Contains(r.Stderr, c.want) {
			t.Errorf("cp %v: stderr %q, want %q", c.args, r.Stderr, c.want)
		}
	}
	// Archive entries that would leave the destination are refused and
	// nothing is written.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "first", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.WriteHeader(&tar.Header{Name: "../escape", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	r := h.RunIn(buf.Bytes(), 125, "cp", "-", "c:/tmp")
	if !strings.Contains(r.Stderr, `"../escape"`) {
		t.Errorf("stderr %q should name the entry", r.Stderr)
	}
	// Refused as a whole: not even the good entry before it was written.
	h.Run(125, "cp", "c:/tmp/first", "first")
	r = h.RunIn([]byte("not a tar at all, but long enough to be read as a header block"), 125, "cp", "-", "c:/tmp")
	if !strings.Contains(r.Stderr, "archive") {
		t.Errorf("stderr %q", r.Stderr)
	}
}

func TestCpRunningContainer(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "-d", "--name", "r", "cove-test/busybox", "sleep", "60")
	h.WriteFile("f.txt", []byte("hello"))

	h.Run(0, "cp", "f.txt", "r:/f.txt")
	r := h.Run(0, "exec", "r", "stat", "-c", "%u:%g %s", "/f.txt")
	if r.Stdout != "0:0 5\n" {
		t.Errorf("copied file in the container: %q", r.Stdout)
	}
	// The live view: a file on the container's /dev/shm (a tmpfs that is
	// in no layer) and a file only a non-root user of the container may
	// read both come out.
	h.Run(0, "exec", "r", "sh", "-c", "echo live > /dev/shm/x")
	h.Run(0, "exec", "-u", "1000", "r", "sh", "-c", "echo secret > /tmp/s; chmod 600 /tmp/s")
	h.Run(0, "cp", "r:/dev/shm/x", "x")
	h.Run(0, "cp", "r:/tmp/s", "s")
	if got := h.readWork("x") + h.readWork("s"); got != "live\nsecret\n" {
		t.Errorf("copied out: %q", got)
	}
	h.ownedByUser("s")
	// -a keeps a tar's owners in a running container too.
	h.RunIn(tarOf(t, 1000, "owned", "x"), 0, "cp", "-a", "-", "r:/tmp")
	r = h.Run(0, "exec", "r", "stat", "-c", "%u", "/tmp/owned")
	if r.Stdout != "1000\n" {
		t.Errorf("cp -a owner: %q", r.Stdout)
	}

	// Symlinks in the container resolve inside it, in both directions.
	h.Run(0, "exec", "r", "sh", "-c", "ln -s / /tmp/root && ln -s ../../../../../../.. /tmp/up && ln -s /../../../tmp /target")
	want := h.Run(0, "exec", "r", "cat", "/etc/passwd").Stdout
	h.Run(0, "cp", "r:/tmp/up/etc/passwd", "p1")
	h.Run(0, "cp", "r:/tmp/root/etc/passwd", "p2")
	if h.readWork("p1") != want || h.readWork("p2") != want {
		t.Errorf("paths through symlinks left the container: %q %q", h.readWork("p1"), h.readWork("p2"))
	}
	h.Run(0, "cp", "f.txt", "r:/target/")
	if r := h.Run(0, "exec", "r", "cat", "/tmp/f.txt"); r.Stdout != "hello" {
		t.Errorf("cp through /target: %q", r.Stdout)
	}
	// A symlink is copied as a symlink unless -L.
	h.Run(0, "cp", "r:/tmp/root", "link")
	if l, err := os.Readlink(filepath.Join(h.Dir, "work", "link")); err != nil || l != "/" {
		t.Errorf("link: %q %v", l, err)
	}
	h.Run(0, "cp", "-L", "r:/target", "followed")
	if got := h.readWork("followed/f.txt"); got != "hello" {
		t.Errorf("followed/f.txt = %q", got)
	}
	// The pure-Go namespace entry (_COVE_USERNS_GO) copies as well: the
	// constructor still does the joining.
	h.Setenv("_COVE_USERNS_GO", "1")
	h.Run(0, "cp", "f.txt", "r:/go.txt")
	if r := h.Run(0, "exec", "r", "cat", "/go.txt"); r.Stdout != "hello" {
		t.Errorf("cp with _COVE_USERNS_GO: %q", r.Stdout)
	}
	h.Unsetenv("_COVE_USERNS_GO")
	h.Run(0, "rm", "-f", "r")
}

// TestCpParallel: copies into one stopped container at once each mount its
// layer in a namespace of their own; all land and the container starts.
func TestCpParallel(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "create", "--name", "c", "cove-test/busybox", "cat", "/p0", "/p1", "/p2", "/p3", "/p4", "/p5")
	done := make(chan Result)
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("p%d", i)
		h.WriteFile(name, []byte(name+"\n"))
		go func() { done <- run(h.Cmd("cp", name, "c:/"+name)) }()
	}
	for i := 0; i < 6; i++ {
		if r := <-done; r.Code != 0 {
			t.Errorf("cp: exit %d: %s", r.Code, r.Stderr)
		}
	}
	if r := h.Run(0, "start", "-a", "c"); r.Stdout != "p0\np1\np2\np3\np4\np5\n" {
		t.Errorf("container sees %q", r.Stdout)
	}
	h.Run(0, "rm", "c")
}

// TestCpStoppedMounts: cp to and from a stopped container goes to the
// volume or bind mount that covers the path (the nearest mount point), as
// Docker's does, never out of the mount's source.
func TestCpStoppedMounts(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	hostDir := filepath.Dir(h.WriteFile("bind/old", []byte("old")))
	hostFile := h.WriteFile("bound.txt", []byte("bound"))
	h.WriteFile("f.txt", []byte("hello"))
	h.WriteFile("d/sub/y", []byte("y"))
	h.Chown(filepath.Join(h.Dir, "work", "d"))
	h.Run(0, "create", "--name", "c",
		"-v", "cpdata:/data", "-v", "cpinner:/data/inner", "-v", hostDir+":/b",
		"-v", hostFile+":/etc/bound.txt", "-v", "cpro:/ro:ro",
		bb, "sh", "-c", "cat /data/f.txt /data/sub/y /data/inner/f.txt /b/f.txt /etc/bound.txt; ls /data")

	// In: a volume, a directory into it, a nested volume, a bind.
	h.Run(0, "cp", "f.txt", "c:/data/")
	h.Run(0, "cp", "d/sub", "c:/data")
	h.Run(0, "cp", "f.txt", "c:/data/inner/f.txt")
	h.cpAndRead("f.txt", "c:/b", "bind/f.txt", "hello")
	mp := func(v string) string {
		return strings.TrimSpace(h.Run(0, "volume", "inspect", "--format", "{{.Mountpoint}}", v).Stdout)
	}
	if b, err := os.ReadFile(filepath.Join(mp("cpinner"), "f.txt")); err != nil || string(b) != "hello" {
		t.Errorf("cp into the nested volume: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mp("cpdata"), "inner")); err == nil {
		t.Errorf("cp to /data/inner/f.txt wrote into the outer volume")
	}
	// A read-only mount refuses, and is left as it was.
	r := h.Run(125, "cp", "f.txt", "c:/ro/f.txt")
	if !strings.Contains(r.Stderr, "read-only") {
		t.Errorf("cp into a read-only volume: %q", r.Stderr)
	}
	if ents, _ := os.ReadDir(mp("cpro")); len(ents) != 0 {
		t.Errorf("the read-only volume got %d entries", len(ents))
	}
	// The container sees what was copied.
	r = h.Run(0, "start", "-a", "c")
	if want := "hello" + "y" + "hello" + "hello" + "bound" + "f.txt\ninner\nsub\n"; r.Stdout != want {
		t.Errorf("the container sees:\n%s\nwant\n%s", r.Stdout, want)
	}

	// Out: the mount point itself by its name, its contents, a bound file.
	h.cpAndRead("c:/data", "outdata", "outdata/sub/y", "y")
	h.ownedByUser("outdata/f.txt")
	r = h.Run(0, "cp", "c:/data/.", "-")
	if got := strings.Join(tarNames(t, r.Stdout), " "); got != "f.txt inner/ sub/ sub/y" {
		t.Errorf("cp c:/data/. - wrote %q", got)
	}
	// A path below a mount point keeps its own name.
	r = h.Run(0, "cp", "c:/data/sub/y", "-")
	if names := tarNames(t, r.Stdout); len(names) != 1 || names[0] != "y" {
		t.Errorf("cp c:/data/sub/y - wrote %q", names)
	}
	r = h.Run(0, "cp", "c:/data", "-")
	if names := tarNames(t, r.Stdout); len(names) == 0 || names[0] != "data/" {
		t.Errorf("cp c:/data - wrote %q", names)
	}
	h.cpAndRead("c:/etc/bound.txt", "out.txt", "out.txt", "bound")
	h.cpAndRead("c:/b/old", "old", "old", "old")

	// A link in a volume leads nowhere outside it.
	if err := os.Symlink("/", filepath.Join(mp("cpdata"), "esc")); err != nil {
		t.Fatal(err)
	}
	h.Run(0, "cp", "f.txt", "c:/data/esc/escaped.txt")
	if _, err := os.Stat("/escaped.txt"); err == nil {
		os.Remove("/escaped.txt")
		t.Fatalf("cp through a link in a volume wrote to the host's /")
	}
	if b, err := os.ReadFile(filepath.Join(mp("cpdata"), "escaped.txt")); err != nil || string(b) != "hello" {
		t.Errorf("cp through a link in a volume: %q, %v (want it in the volume's root)", b, err)
	}
	h.Run(125, "cp", "c:/data/esc/etc/shadow", "shadow")
}

// TestCpStoppedNewVolume: a volume the container has not started with yet
// holds the image's content for cp, as Docker's (filled at create) does: a
// copy out finds it, and a copy in adds to it rather than hiding it.
func TestCpStoppedNewVolume(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.WriteFile("f.txt", []byte("hello"))
	h.Run(0, "create", "--name", "c", "-v", "cpetc:/etc", bb, "sh", "-c", "cat /etc/new.txt; head -1 /etc/passwd")
	r := h.Run(0, "cp", "c:/etc/passwd", "-")
	if names := tarNames(t, r.Stdout); len(names) != 1 || names[0] != "passwd" {
		t.Errorf("cp c:/etc/passwd - wrote %q", names)
	}
	h.Run(0, "cp", "f.txt", "c:/etc/new.txt")
	if r := h.Run(0, "start", "-a", "c"); r.Stdout != "hello"+"root:x:0:0:root:/root:/bin/sh\n" {
		t.Errorf("the container sees %q", r.Stdout)
	}

	// A refused copy (read-only) leaves the new volume as it was: empty,
	// for the start to fill.
	h.Run(0, "create", "--name", "ro", "-v", "cpetcro:/etc:ro", bb, "true")
	h.Run(125, "cp", "f.txt", "ro:/etc/new.txt")
	mp := strings.TrimSpace(h.Run(0, "volume", "inspect", "--format", "{{.Mountpoint}}", "cpetcro").Stdout)
	if ents, err := os.ReadDir(mp); err != nil || len(ents) != 0 {
		t.Errorf("a refused cp changed the volume: %d entries, %v", len(ents), err)
	}
}
