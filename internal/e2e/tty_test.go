//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
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
	cmd, m, s, out, before := ttyCove(t, h, "run", "--rm", "-it", "cove-test/busybox", "sh", "-c", "tty; stty size; read line; echo got:$line; exit 7")
	waitFor(t, 20*time.Second, "the terminal's size", func() bool { return strings.Contains(out.String(), "33 101") })
	m.Write([]byte("hello\r"))
	if code := exitCode(cmd.Wait()); code != 7 {
		t.Fatalf("run -it exit %d, want 7; output %q", code, out.String())
	}
	termRestored(t, s, before)
	o := out.String()
	for _, want := range []string{"/dev/pts/", "33 101", "got:hello"} {
		if !strings.Contains(o, want) {
			t.Errorf("tty output lacks %q: %q", want, o)
		}
	}
}

// ttyCove starts cove ARGS with a new pseudo-terminal (33x101) as its
// controlling terminal and stdio; it returns the master, the slave, the
// collected output and the terminal's settings before.
func ttyCove(t *testing.T, h *Harness, args ...string) (*exec.Cmd, *os.File, *os.File, *syncBuffer, unix.Termios) {
	t.Helper()
	m, s := openPty(t)
	t.Cleanup(func() { m.Close(); s.Close() })
	if h.user != nil {
		os.Chown(s.Name(), h.user.uid, h.user.gid)
	}
	before, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Cmd(args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	out := &syncBuffer{}
	go io.Copy(out, m)
	return cmd, m, s, out, *before
}

// termRestored checks that the terminal's modes are back as they were.
func termRestored(t *testing.T, pty *os.File, before unix.Termios) {
	t.Helper()
	after, err := unix.IoctlGetTermios(int(pty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("terminal not restored: lflag %x -> %x", before.Lflag, after.Lflag)
	}
}
