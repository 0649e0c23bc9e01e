//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty returns a pseudo-terminal pair for driving cove as a user's
// terminal would.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101})
	return m, s
}

func TestRunTTY(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	m, s := openPty(t)
	defer m.Close()
	if h.user != nil {
		os.Chown(s.Name(), h.user.uid, h.user.gid)
	}
	before, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Cmd("run", "--rm", "-it", "cove-test/busybox", "sh", "-c", "tty; stty size; read line; echo got:$line; exit 7")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, m); close(done) }()
	time.Sleep(300 * time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "33 101") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	m.Write([]byte("hello\r"))
	err = cmd.Wait()
	if code := exitCode(err); code != 7 {
		t.Fatalf("run -it exit %d, want 7; output %q", code, out.String())
	}
	after, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	o := out.String()
	for _, want := range []string{"/dev/pts/", "33 101", "got:hello"} {
		if !strings.Contains(o, want) {
			t.Errorf("tty output lacks %q: %q", want, o)
		}
	}
	if before.Lflag != after.Lflag || before.Iflag != after.Iflag || before.Oflag != after.Oflag {
		t.Errorf("terminal not restored: lflag %x -> %x", before.Lflag, after.Lflag)
	}
}
