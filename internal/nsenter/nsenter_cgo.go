//go:build cgo && linux

package nsenter

// The constructor in nsenter_linux.c does the work; cgo links it in and
// reads what it did.

/*
#cgo CFLAGS: -Wall -O2
extern int cove_nsenter_joined;
*/
import "C"

// Available reports whether this build can join containers (it needs cgo
// for the constructor).
const Available = true

// Joined reports whether the constructor has moved this process into a
// container's namespaces: true only in the child that runs Role's entry
// point.
func Joined() bool { return C.cove_nsenter_joined == 1 }
