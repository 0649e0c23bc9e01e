// Package nofollow sets the owner, mode and times of a file that cove has
// just created in a directory a container can write to (a volume, a bind,
// a running container's root file system) without ever following a
// symlink.
//
// The race it closes: a process in the container watches the directory
// (inotify), and between cove's mknod/mkfifo/symlink and its metadata
// calls it renames a symlink to a host file over the new entry. chmod and
// utimensat by name follow that link (the fchmodat system call takes no
// flags; fchmodat2 with AT_SYMLINK_NOFOLLOW came only with Linux 6.6),
// so cove, which owns the user's files, would change a host file. Here the entry is opened once as an
// O_PATH descriptor with O_NOFOLLOW, its type is checked against what the
// caller created, and every later call goes through that descriptor, which
// keeps naming the same inode whatever happens to the name.
package nofollow

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrReplaced reports that an entry no longer has the type its creator
// gave it: something renamed another file over it.
var ErrReplaced = errors.New("it was replaced while it was being copied")

// Open returns an O_PATH descriptor of the entry name in directory dirFd,
// not following a symlink, after checking that the entry has file type
// kind (the S_IFMT bits: unix.S_IFREG, unix.S_IFLNK, ...). A symlink gives
// a descriptor of the link itself.
func Open(dirFd int, name string, kind uint32) (int, error) {
	fd, err := unix.Openat(dirFd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != kind&unix.S_IFMT {
		unix.Close(fd)
		return -1, ErrReplaced
	}
	return fd, nil
}

// Chown changes the owner of the file fd holds (an O_PATH descriptor
// included); for a symlink that is the link itself.
func Chown(fd, uid, gid int) error {
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

// Chmod sets the permission bits of the file fd holds. fchmod refuses an
// O_PATH descriptor, so it goes through /proc/self/fd/N: the kernel
// resolves that magic link to the inode the descriptor holds, not by the
// file's name. A symlink's mode means nothing and is refused (EPERM), so
// that the /proc path never resolves to a link.
func Chmod(fd int, mode uint32) error {
	if err := refuseSymlink(fd); err != nil {
		return err
	}
	return unix.Chmod(procPath(fd), mode&0o7777)
}

// SetTimes sets the access and modification times of the file fd holds,
// through /proc/self/fd/N for the same reasons as Chmod (utimensat with
// AT_EMPTY_PATH is not accepted by every kernel).
func SetTimes(fd int, atime, mtime unix.Timespec) error {
	if err := refuseSymlink(fd); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, procPath(fd), []unix.Timespec{atime, mtime}, 0)
}

func refuseSymlink(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EPERM
	}
	return nil
}

func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
