// Package flock takes whole-file exclusive locks with flock(2).
//
// cove's locks are flock locks because the kernel drops them when the
// holder dies, even by SIGKILL: a killed cove never leaves a lock held,
// and nothing has to clean stale lock files. The descriptor is
// close-on-exec, so a process that execs (the launcher becoming the
// monitor) lets go of it too, and no child inherits it.
package flock

import (
	"os"

	"golang.org/x/sys/unix"
)

// Exclusive blocks until it holds an exclusive lock on path, which it
// creates (mode 0600) if need be; release lets go of it.
func Exclusive(path string) (release func(), err error) {
	return lock(path, unix.LOCK_EX)
}

// Shared blocks until it holds a shared lock on path (created if need
// be): any number of holders of a shared lock exclude an exclusive one.
func Shared(path string) (release func(), err error) {
	return lock(path, unix.LOCK_SH)
}

func lock(path string, how int) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		// A signal handled by the Go runtime interrupts the wait.
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// TryExclusive takes an exclusive lock on path (created if need be) if no
// one holds it; ok is false, with no error, when someone does.
func TryExclusive(path string) (release func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, false, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() { f.Close() }, true, nil
}
