package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// writeOpen tries to open f's file for writing through /proc, the way a
// container would reach it through /proc/PID/exe.
func writeOpen(f *os.File) error {
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.Write([]byte{0})
	return err
}

func runVia(t *testing.T, f *os.File) {
	t.Helper()
	cmd := exec.Command("/proc/self/fd/3")
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("executing through the descriptor: %v %s", err, out)
	}
}

func TestReadonlyExe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("open_tree needs CAP_SYS_ADMIN over the mount namespace")
	}
	bin := t.TempDir() + "/true"
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	os.WriteFile(bin, b, 0o755)
	f, err := openReadonlyExe(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeOpen(f); !errors.Is(err, unix.EROFS) {
		t.Errorf("write-open through the read-only view: %v, want EROFS", err)
	}
	runVia(t, f)
	// Nothing may show up in our mount table.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if len(mi) > 0 && contains(string(mi), bin) {
		t.Errorf("the read-only view of %s is visible in mountinfo", bin)
	}
}

// TestReadonlyExeAfterUnshare is the rootless case: the binary was
// executed before its mount namespace was unshared, so /proc/self/exe
// points at a mount of another namespace, which open_tree cannot clone.
// The read-only view must still be made (not the 20 ms sealed copy).
func TestReadonlyExeAfterUnshare(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare(CLONE_NEWNS) needs CAP_SYS_ADMIN")
	}
	type result struct {
		target string
		err    error
	}
	done := make(chan result)
	go func() {
		// Unsharing affects only this thread, which is never unlocked
		// and so ends with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			done <- result{err: err}
			return
		}
		unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
		f, err := openReadonlyExe("/proc/self/exe")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		done <- result{target: target}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.HasPrefix(r.target, "/memfd:") {
		t.Errorf("fell back to the sealed copy (%s) instead of the read-only view", r.target)
	}
}

func TestSealedCopy(t *testing.T) {
	f, err := sealedCopy("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeOpen(f); err == nil {
		t.Error("the sealed copy accepted a write")
	}
	runVia(t, f)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
