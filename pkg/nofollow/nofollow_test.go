package nofollow

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestOpenRefusesSymlink: an entry expected to be a FIFO (or any other
// type) that is a symlink to a host file is refused, and the host file is
// not touched.
func TestOpenRefusesSymlink(t *testing.T) {
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("host"), 0o600)
	dir := t.TempDir()
	os.Symlink(target, filepath.Join(dir, "entry"))
	dfd := openDir(t, dir)
	for _, kind := range []uint32{unix.S_IFIFO, unix.S_IFREG, unix.S_IFDIR} {
		if fd, err := Open(dfd, "entry", kind); !errors.Is(err, ErrReplaced) {
			t.Errorf("Open(kind %o) of a symlink = %d, %v; want ErrReplaced", kind, fd, err)
		}
	}
	// Asked for a link, it gets the link itself; Chmod and SetTimes
	// refuse it rather than resolve /proc/self/fd/N to the target.
	fd, err := Open(dfd, "entry", unix.S_IFLNK)
	if err != nil {
		t.Fatalf("Open(S_IFLNK) = %v", err)
	}
	defer unix.Close(fd)
	if err := Chmod(fd, 0o777); !errors.Is(err, unix.EPERM) {
		t.Errorf("Chmod of a link = %v, want EPERM", err)
	}
	ts := unix.NsecToTimespec(0)
	if err := SetTimes(fd, ts, ts); !errors.Is(err, unix.EPERM) {
		t.Errorf("SetTimes of a link = %v, want EPERM", err)
	}
	st, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.ModTime().Unix() == 0 {
		t.Errorf("host file changed: %v %v", st.Mode(), st.ModTime())
	}
}

// TestSetsFifo: mode and times reach a FIFO through its O_PATH descriptor
// (fchmod would refuse it), without opening the FIFO itself.
func TestSetsFifo(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "p"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := Open(openDir(t, dir), "p", unix.S_IFIFO)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer unix.Close(fd)
	if err := Chown(fd, os.Getuid(), os.Getgid()); err != nil {
		t.Errorf("Chown = %v", err)
	}
	if err := Chmod(fd, unix.S_IFIFO|0o751); err != nil {
		t.Fatalf("Chmod = %v", err)
	}
	when := time.Unix(1e9, 0)
	ts := unix.NsecToTimespec(when.UnixNano())
	if err := SetTimes(fd, ts, ts); err != nil {
		t.Fatalf("SetTimes = %v", err)
	}
	st, err := os.Lstat(filepath.Join(dir, "p"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o751 || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("mode %v, want a FIFO with 0751", st.Mode())
	}
	if !st.ModTime().Equal(when) {
		t.Errorf("mtime %v, want %v", st.ModTime(), when)
	}
}
