package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxRootFile bounds what readRootFile reads (an /etc/group of a large
// directory is a few MiB at most).
const maxRootFile = 32 << 20

// maxSymlinks is the kernel's limit on symlinks in one resolution.
const maxSymlinks = 40

// useOpenat2 is turned off by tests to exercise the fallback resolver.
var useOpenat2 = true

// readRootFile returns the content of the regular file name (an absolute
// path inside the container) under rootfs, or nil when it does not exist.
func readRootFile(rootfs, name string) ([]byte, error) {
	f, err := openInRoot(rootfs, name)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s of the container: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s of the container: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, invalid("%s of the container is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRootFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s of the container: %w", name, err)
	}
	if len(b) > maxRootFile {
		return nil, invalid("%s of the container is larger than %d bytes", name, maxRootFile)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// openInRoot opens name for reading, resolving it (symlinks and "..") as if
// root were the file system root: a symlink to /etc/shadow reaches
// root/etc/shadow, and ".." stops at root. The file is opened O_NONBLOCK so
// that a FIFO planted in the image cannot block cove.
func openInRoot(root, name string) (*os.File, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rfd)
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	if useOpenat2 {
		how := &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		for range 16 {
			fd, err := unix.Openat2(rfd, name, how)
			switch err {
			case nil:
				return os.NewFile(uintptr(fd), filepath.Join(root, name)), nil
			case unix.EAGAIN, unix.EINTR:
				// A concurrent rename made the kernel give up; retry.
				continue
			case unix.ENOSYS, unix.EPERM, unix.E2BIG:
				// No openat2 (kernel < 5.6, or filtered): resolve by hand.
			default:
				return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
			}
			break
		}
	}
	fd, err := openInRootManual(rfd, name, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, name)), nil
}

// openInRootManual resolves name one component at a time from rootFd with
// O_PATH|O_NOFOLLOW, following symlinks itself and never letting ".." go
// above rootFd: the same answer as RESOLVE_IN_ROOT on an image nobody is
// modifying concurrently. The last component is reopened for reading and
// checked to be the inode that was resolved.
func openInRootManual(rootFd int, name string, flags int) (int, error) {
	var dirs []int // fds of the directories below root on the current path
	defer func() {
		for _, d := range dirs {
			unix.Close(d)
		}
	}()
	cur := func() int {
		if len(dirs) == 0 {
			return rootFd
		}
		return dirs[len(dirs)-1]
	}
	parts := strings.Split(name, "/")
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			if len(dirs) > 0 {
				unix.Close(dirs[len(dirs)-1])
				dirs = dirs[:len(dirs)-1]
			}
			continue
		}
		fd, err := unix.Openat(cur(), p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			target, err := readlinkFd(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if links > maxSymlinks {
				return -1, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				for _, d := range dirs {
					unix.Close(d)
				}
				dirs = dirs[:0]
			}
			parts = append(strings.Split(target, "/"), parts...)
		case unix.S_IFDIR:
			dirs = append(dirs, fd)
		default:
			unix.Close(fd)
			if len(parts) > 0 {
				return -1, unix.ENOTDIR
			}
			rfd, err := unix.Openat(cur(), p, flags|unix.O_NOFOLLOW, 0)
			if err != nil {
				return -1, err
			}
			var st2 unix.Stat_t
			if err := unix.Fstat(rfd, &st2); err != nil || st2.Dev != st.Dev || st2.Ino != st.Ino {
				unix.Close(rfd)
				return -1, unix.EAGAIN
			}
			return rfd, nil
		}
	}
	return -1, unix.EISDIR
}

// readlinkFd reads the target of the symlink that fd (O_PATH|O_NOFOLLOW)
// refers to.
func readlinkFd(fd int) (string, error) {
	for size := 256; size <= 1<<16; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}
