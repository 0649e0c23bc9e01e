//go:build cgo

package userns

// The C constructor in entry_linux.c enters the user namespace before the
// Go runtime starts; see the comment at its top.

/*
#cgo CFLAGS: -Wall -O2
extern int cove_userns_state;
extern unsigned int cove_userns_uid, cove_userns_gid;
extern int cove_userns_errno;
*/
import "C"

import (
	"os"
	"strconv"
	"syscall"
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
