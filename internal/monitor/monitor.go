//go:build linux && cgo

// Package monitor is the steady state of a detached container's
// supervisor: a C constructor (monitor_linux.c) that takes over the process
// when argv[0] is "cove-monitor", before the Go runtime starts, and never
// returns into Go. It logs the container's output, relays signals to it and
// waits for it; when the container exits it records the exit and execs the
// Go launcher (internal/engine, role "cove-launch") back, in the same
// process, which applies the restart policy. Read the comment at the top
// of monitor_linux.c for the whole design.
//
// cmd/cove imports this package for the constructor's sake only.
package monitor

/*
#cgo CFLAGS: -Wall -O2
#include <stdlib.h>
long cove_monitor_format_for_test(int driver, const char *stream, const char *text, long n, int partial, long long sec, long nsec, char *out, long cap);
*/
import "C"

import (
	"time"
	"unsafe"
)

// Available reports whether this binary carries the C monitor; without cgo
// it does not, and detached containers are refused.
const Available = true

// Role is the argv[0] that selects the monitor.
const Role = "cove-monitor"

// Driver numbers of monitor_linux.c.
const (
	driverJSON = 1
	driverK8s  = 2
)

// formatEntry runs one log entry through the C writer and returns its
// bytes; the tests compare them with the Go writer's.
func formatEntry(driver int, stream string, text []byte, partial bool, t time.Time) []byte {
	cs := C.CString(stream)
	defer C.free(unsafe.Pointer(cs))
	ct := C.CBytes(append(text, 0))
	defer C.free(ct)
	out := make([]byte, 32*len(text)+256)
	p := 0
	if partial {
		p = 1
	}
	n := C.cove_monitor_format_for_test(C.int(driver), cs, (*C.char)(ct), C.long(len(text)), C.int(p),
		C.longlong(t.Unix()), C.long(t.Nanosecond()), (*C.char)(unsafe.Pointer(&out[0])), C.long(len(out)))
	if n < 0 {
		return nil
	}
	return out[:n]
}
