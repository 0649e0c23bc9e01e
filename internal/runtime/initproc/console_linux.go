package initproc

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/runtime/mount"
)

// SetupConsole allocates a terminal in the container's devpts instance
// and makes it the calling process's controlling terminal and stdio; it
// returns the master side for the parent. The init also binds it over
// /dev/console (bindDevConsole); cove-exec, joining a running container,
// does not.
//
// The pty is allocated here, in the container's own devpts instance, not by
// the parent in the host's: a slave from another instance would not appear
// in the container's /dev/pts, and tty(1), ttyname(3) and /dev/console
// would all point at nothing. The master travels to the parent over the
// sync socket (SCM_RIGHTS), like runc's console socket.
func SetupConsole(rows, cols uint16, uid uint32, bindDevConsole bool) (*os.File, error) {
	master, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "opening the terminal multiplexer (is devpts mounted on /dev/pts?)", Path: "/dev/pts/ptmx", Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(master)
		}
	}()
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("unlocking the terminal: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return nil, fmt.Errorf("getting the terminal number: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	// TIOCGPTPEER opens the slave through the master (Linux 4.13): no path
	// lookup that a same-named file could intercept.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
	slave := int(r)
	if errno != 0 {
		if slave, err = unix.Open(name, unix.O_RDWR|unix.O_NOCTTY, 0); err != nil {
			return nil, &os.PathError{Op: "opening the terminal", Path: name, Err: err}
		}
	}
	defer unix.Close(slave)
	if rows > 0 && cols > 0 {
		ws := unix.Winsize{Row: rows, Col: cols}
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &ws); err != nil {
			return nil, fmt.Errorf("setting the terminal size: %w", err)
		}
	}
	// The slave belongs to the container user, who may reopen it by name
	// (Docker does the same); the group stays tty.
	if uid != 0 {
		if err := unix.Fchown(slave, int(uid), -1); err != nil {
			return nil, fmt.Errorf("changing the owner of %s to %d: %w%s", name, uid, err, unmappedHint(err))
		}
	}
	if _, err := os.Stat("/dev/console"); err == nil && bindDevConsole {
		if err := mount.BindFile(name, "/dev/console"); err != nil {
			return nil, err
		}
	}
	// The parent started us with setsid: we lead a session with no
	// controlling terminal, which TIOCSCTTY requires.
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return nil, fmt.Errorf("making %s the controlling terminal: %w", name, err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return nil, fmt.Errorf("connecting stdio to %s: %w", name, err)
		}
	}
	ok = true
	return os.NewFile(uintptr(master), "pty-master"), nil
}
