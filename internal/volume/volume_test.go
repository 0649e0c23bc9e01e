package volume

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/pkg/nofollow"
	"golang.org/x/sys/unix"
)

func TestCreateConcurrentOneWinner(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	made := make(chan bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created, err := s.Create(Volume{Name: "v"})
			if err != nil {
				t.Error(err)
			}
			made <- created
		}()
	}
	wg.Wait()
	close(made)
	count := 0
	for m := range made {
		if m {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d creators think they made the volume, want 1", count)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Name != "v" {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := s.Remove("v"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("v"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		if _, _, err := s.Create(Volume{Name: bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Create(%q): %v", bad, err)
		}
	}
}

// TestPopulateStaysInside: links in the image, absolute or relative, are
// copied as links and never followed out of the rootfs, on either side.
func TestPopulateStaysInside(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600)
	rootfs := t.TempDir()
	data := filepath.Join(rootfs, "data")
	os.MkdirAll(filepath.Join(data, "sub"), 0o750)
	os.WriteFile(filepath.Join(data, "sub", "f"), []byte("content"), 0o640)
	os.Symlink(outside, filepath.Join(data, "abs"))
	os.Symlink("../../../../../../"+outside, filepath.Join(data, "rel"))
	// The volume path itself is a link pointing out of the rootfs: it
	// resolves inside the rootfs (to nothing there).
	os.Symlink(outside, filepath.Join(rootfs, "escape"))

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, _, err := s.Create(Volume{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	copied, err := s.Populate("a", rootfs, "/data")
	if err != nil || !copied {
		t.Fatalf("Populate = %v, %v", copied, err)
	}
	got, err := os.ReadFile(filepath.Join(s.DataDir("a"), "sub", "f"))
	if err != nil || string(got) != "content" {
		t.Fatalf("copied file: %q, %v", got, err)
	}
	if st, _ := os.Stat(filepath.Join(s.DataDir("a"), "sub")); st.Mode().Perm() != 0o750 {
		t.Errorf("copied directory mode %v", st.Mode())
	}
	for _, l := range []string{"abs", "rel"} {
		st, err := os.Lstat(filepath.Join(s.DataDir("a"), l))
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: not copied as a link: %v %v", l, st, err)
		}
	}
	// A second populate of a non-empty volume copies nothing.
	if copied, err := s.Populate("a", rootfs, "/data"); err != nil || copied {
		t.Errorf("second Populate = %v, %v", copied, err)
	}
	if copied, err := s.Populate("b", rootfs, "/escape"); err != nil || copied {
		t.Errorf("Populate through an escaping link = %v, %v", copied, err)
	}
	if empty, _ := s.IsEmpty("b"); !empty {
		t.Error("the escaping link's target was copied")
	}
}

// TestPopulateAfterKill: a copy interrupted by a kill (its marker left)
// is redone, not taken for the user's data.
func TestPopulateAfterKill(t *testing.T) {
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "data"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "data", "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "data", "b"), []byte("b"), 0o644)
	s, _ := Open(t.TempDir())
	s.Create(Volume{Name: "v"})
	// What a killed copy leaves: part of the content and the marker.
	os.WriteFile(filepath.Join(s.DataDir("v"), "a"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(s.dir("v"), "populating"), nil, 0o600)
	if need, err := s.NeedsPopulate("v"); err != nil || !need {
		t.Errorf("NeedsPopulate of a half-copied volume = %v, %v", need, err)
	}
	if copied, err := s.Populate("v", rootfs, "/data"); err != nil || !copied {
		t.Fatalf("Populate after a kill = %v, %v", copied, err)
	}
	for f, want := range map[string]string{"a": "a", "b": "b"} {
		if got, _ := os.ReadFile(filepath.Join(s.DataDir("v"), f)); string(got) != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir("v"), "populating")); !os.IsNotExist(err) {
		t.Errorf("marker left after a complete copy: %v", err)
	}
	if need, err := s.NeedsPopulate("v"); err != nil || need {
		t.Errorf("NeedsPopulate of a filled volume = %v, %v", need, err)
	}
}

// TestPopulateSwappedNodeIsNotFollowed: a container that has the volume
// mounted renames a symlink to a host file over a FIFO the copy has just
// made (the reviewer's inotify race, made deterministic by the hook). The
// host file must keep its mode, owner and times; the copy fails instead.
func TestPopulateSwappedNodeIsNotFollowed(t *testing.T) {
	outside := t.TempDir()
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1e9, 0)
	os.Chtimes(target, old, old)
	rootfs := t.TempDir()
	data := filepath.Join(rootfs, "data")
	os.MkdirAll(data, 0o755)
	if err := unix.Mkfifo(filepath.Join(data, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(data, "fifo"), 0o777)
	s, _ := Open(t.TempDir())
	if _, _, err := s.Create(Volume{Name: "v"}); err != nil {
		t.Fatal(err)
	}
	swapped := false
	testHookCreated = func(dst int, name string) {
		if name != "fifo" {
			return
		}
		// What the racer does: a symlink made aside, renamed over.
		if err := unix.Symlinkat(target, dst, ".t"); err != nil {
			t.Error(err)
		}
		if err := unix.Renameat(dst, ".t", dst, name); err != nil {
			t.Error(err)
		}
		swapped = true
	}
	defer func() { testHookCreated = nil }()
	copied, err := s.Populate("v", rootfs, "/data")
	if !swapped {
		t.Fatal("the hook did not run")
	}
	if err == nil || copied || !errors.Is(err, nofollow.ErrReplaced) {
		t.Errorf("Populate = %v, %v; want the replacement reported", copied, err)
	}
	st, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("host file's mode changed to %v through the swapped symlink", st.Mode().Perm())
	}
	if !st.ModTime().Equal(old) {
		t.Errorf("host file's mtime changed to %v through the swapped symlink", st.ModTime())
	}
}

// TestFinishNodeOnSymlink: the metadata step on an entry that is a
// symlink to a host file leaves the file alone, whatever type the copy
// expected there.
func TestFinishNodeOnSymlink(t *testing.T) {
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("host"), 0o600)
	dir := t.TempDir()
	os.Symlink(target, filepath.Join(dir, "entry"))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	for _, kind := range []uint32{unix.S_IFIFO, unix.S_IFREG} {
		want := unix.Stat_t{Mode: kind | 0o777, Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
		if err := finishNode(&want, dfd, "entry"); !errors.Is(err, nofollow.ErrReplaced) {
			t.Errorf("finishNode(kind %o) on a symlink = %v, want ErrReplaced", kind, err)
		}
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Errorf("host file's mode changed to %v", st.Mode().Perm())
	}
}

// TestSize: a volume's size is its files' (a hard-linked file once, a
// link as itself, never what it points to).
func TestSize(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(Volume{Name: "sz"}); err != nil {
		t.Fatal(err)
	}
	d := s.DataDir("sz")
	os.MkdirAll(filepath.Join(d, "sub"), 0o755)
	os.WriteFile(filepath.Join(d, "sub", "a"), make([]byte, 1000), 0o644)
	os.Link(filepath.Join(d, "sub", "a"), filepath.Join(d, "b"))
	os.WriteFile(filepath.Join(d, "c"), make([]byte, 200), 0o644)
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, 1<<20), 0o644)
	os.Symlink(big, filepath.Join(d, "l"))
	got, err := s.Size("sz")
	if want := int64(1200 + len(big)); err != nil || got != want {
		t.Errorf("Size = %d, %v; want %d", got, err, want)
	}
}
