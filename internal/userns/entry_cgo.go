//go:build cgo

package userns

// The C constructor in entry_linux.c enters the user namespace before the
// Go runtime starts; see the comment at its top.

/*
#cgo CFLAGS: -Wall -O2
extern int cove_userns_state;
extern unsigned int cove_userns_uid, cove_userns_gid;
extern int cove_userns_errno;
extern int cove_detach_fd;
*/
import "C"

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// AdoptConstructorState publishes what the C constructor did in the Go
// environment (and so to storage, image and every child process). main
// calls it first.
func AdoptConstructorState() {
	switch C.cove_userns_state {
	case 1, 2, 4:
		os.Setenv(envStage, "2")
		os.Setenv(envConfigured, "done")
		os.Setenv(envRootlessUID, strconv.Itoa(int(C.cove_userns_uid)))
		os.Setenv(envRootlessGID, strconv.Itoa(int(C.cove_userns_gid)))
		if C.cove_userns_state == 2 {
			os.Setenv(envSingle, "1")
		}
		if C.cove_userns_state == 4 {
			// A container's namespace, joined for one command: the
			// command's own children must not try to join it again.
			os.Unsetenv(EnvJoinFD)
			joinedContainer = true
		}
	case 3:
		constructorErr = syscall.Errno(C.cove_userns_errno)
		// Do not let the Go fallback try (and warn) a second time.
		os.Setenv("_COVE_USERNS_GO", "off")
	}
}

// CanDetach reports whether this command may end its caller's wait early
// with Detach: it runs as the constructor's child, which the user's shell
// waits for through its parent, and it is on the main thread, the one that
// carries the parent-death signal the constructor set.
func CanDetach() bool {
	return C.cove_detach_fd >= 0 && unix.Gettid() == unix.Getpid()
}

// Detach ends the wait of the command's caller with exit code code, while
// this process lives on (`run -d` becoming its container's monitor). It
// first clears the parent-death signal, without which the parent's exit
// would kill us: the constructor set it on the main thread, so Detach must
// run there (CanDetach). After Detach nothing is left to tell the caller:
// its standard streams are the caller's business only until then.
func Detach(code int) error {
	fd := int(C.cove_detach_fd)
	if fd < 0 || unix.Gettid() != unix.Getpid() {
		return errors.New("no caller to detach from on this thread")
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		return err
	}
	C.cove_detach_fd = -1
	_, err := unix.Write(fd, []byte{byte(code)})
	unix.Close(fd)
	return err
}
