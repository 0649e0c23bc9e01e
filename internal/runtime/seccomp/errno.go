//go:build linux

package seccomp

import (
	"fmt"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxErrno is the largest errno the kernel returns for SECCOMP_RET_ERRNO
// (larger values are clamped to MAX_ERRNO by the kernel).
const maxErrno = 4095

var (
	errnoOnce  sync.Once
	errnoNames map[string]uint
)

func loadErrnoNames() {
	errnoNames = make(map[string]uint, 160)
	for e := 1; e <= maxErrno; e++ {
		if n := unix.ErrnoName(syscall.Errno(e)); n != "" {
			errnoNames[n] = uint(e)
		}
	}
	// Aliases that share a number with the name x/sys reports.
	for alias, canon := range map[string]string{
		"EWOULDBLOCK": "EAGAIN",
		"EDEADLOCK":   "EDEADLK",
		"ENOTSUP":     "EOPNOTSUPP",
	} {
		if v, ok := errnoNames[canon]; ok {
			errnoNames[alias] = v
		}
	}
}

// parseErrno resolves a profile's "errno" string ("EPERM" or "1"); when it is
// empty the numeric errnoRet is used, else def. This is the precedence of
// podman's getErrno.
func parseErrno(name string, ret *uint, def uint) (uint, error) {
	if name == "" {
		if ret != nil {
			return *ret, nil
		}
		return def, nil
	}
	if v, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint(v), nil
	}
	errnoOnce.Do(loadErrnoNames)
	if v, ok := errnoNames[name]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown errno %q", name)
}
