package initproc

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on
// linux/amd64 and arm64 (handler, flags, restorer, mask).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigDFL = 0
	sigIGN = 1
)

// resetIgnoredSignals gives the container command default dispositions.
// execve resets handled signals to the default but keeps ignored ones
// ignored, so a cove started with SIGINT ignored (`cove run ... &` from a
// non-interactive shell) would pass that on and ^C would not stop the
// container; Docker's containers start with every signal at its default.
// Called right before execve: the Go runtime's own handlers are not
// touched, only dispositions that are SIG_IGN.
func resetIgnoredSignals() {
	for sig := 1; sig <= 64; sig++ {
		if sig == int(syscall.SIGKILL) || sig == int(syscall.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
		if errno != 0 || old.handler != sigIGN {
			continue
		}
		dfl := kernelSigaction{handler: sigDFL}
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
}
