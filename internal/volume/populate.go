package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cove-run/cove/pkg/nofollow"
	"golang.org/x/sys/unix"
)

// Populate copies the image's content at dest (a path inside the mounted
// root file system rootfs) into the volume, if the volume is empty and
// dest is a directory in the image: Docker's behaviour for a new volume.
// Ownership, modes and times are kept. It returns whether it copied.
//
// The image is untrusted: dest is resolved with RESOLVE_IN_ROOT, and the
// walk goes by descriptors opened with O_NOFOLLOW, so neither a symlink in
// the image nor a rename during the copy leads outside rootfs. The volume
// side is created entry by entry inside directories this copy made
// (O_EXCL, O_NOFOLLOW), so no write follows a link either; a symlink in
// the image is copied as a symlink.
func (s *Store) Populate(name, rootfs, dest string) (bool, error) {
	unlock, err := s.lockVolume(name)
	if err != nil {
		return false, err
	}
	defer unlock()
	// A copy killed half-way (kill -9 of the starting cove) left its
	// marker: what it copied is incomplete, so it goes and the copy
	// starts over. Without a marker a non-empty volume is the user's.
	marker := s.populateMarker(name)
	if _, err := os.Lstat(marker); err == nil {
		if err := clearDir(s.DataDir(name)); err != nil {
			return false, fmt.Errorf("volume %s: clearing an interrupted copy: %w", name, err)
		}
	}
	empty, err := s.IsEmpty(name)
	if err != nil || !empty {
		return false, err
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(root)
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	src, err := openat2Retry(root, dest, &how)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return false, nil // nothing in the image there: nothing to copy
	}
	if err != nil {
		return false, fmt.Errorf("volume %s: opening %s in the image: %w", name, dest, err)
	}
	defer unix.Close(src)
	dst, err := unix.Open(s.DataDir(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(dst)
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return false, err
	}
	if err := copyDir(src, dst, 0); err != nil {
		return false, fmt.Errorf("volume %s: copying the image's %s: %w", name, dest, err)
	}
	// The volume's root takes the image directory's owner and mode, as
	// in Docker (a VOLUME /data owned by a service user stays writable
	// for that user).
	if err := copyMeta(src, dst); err != nil {
		return false, fmt.Errorf("volume %s: %w", name, err)
	}
	return true, os.Remove(marker)
}

// populateMarker is the file beside _data that a copy from the image
// holds while it runs.
func (s *Store) populateMarker(name string) string {
	return filepath.Join(s.dir(name), "populating")
}

// NeedsPopulate reports whether Populate would copy into the volume: it is
// empty, or a copy was killed half-way. A caller that must mount a root
// file system for Populate asks this first, without the volume's lock
// (Populate decides again under it).
func (s *Store) NeedsPopulate(name string) (bool, error) {
	if _, err := os.Lstat(s.populateMarker(name)); err == nil {
		return true, nil
	}
	return s.IsEmpty(name)
}

// clearDir removes the entries of dir, not dir itself (a container may
// have it mounted).
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) lockVolume(name string) (func(), error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return flock(filepath.Join(s.dir(name), "lock"))
}

func openat2Retry(dirfd int, p string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, p, how)
		// EAGAIN: a concurrent rename made the kernel give up a lookup
		// it could not prove safe; it asks for a retry.
		if (err == unix.EAGAIN || err == unix.EINTR) && i < 64 {
			continue
		}
		return fd, err
	}
}

// maxDepth bounds the recursion; a real image is never this deep.
const maxDepth = 256

// copyDir copies the entries of directory src into directory dst.
func copyDir(src, dst, depth int) error {
	if depth > maxDepth {
		return errors.New("directory tree too deep")
	}
	// Read the names through a duplicate: closing the *os.File would
	// close src, which the caller owns.
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(dup), "")
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := copyEntry(src, dst, n, depth); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

func copyEntry(src, dst int, name string, depth int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(sfd)
		dfd, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		if err := copyDir(sfd, dfd, depth+1); err != nil {
			return err
		}
		return copyMeta(sfd, dfd)
	case unix.S_IFREG:
		sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		in := os.NewFile(uintptr(sfd), name)
		defer in.Close()
		dfd, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		out := os.NewFile(uintptr(dfd), name)
		defer out.Close()
		// ReadFrom uses copy_file_range (reflinks where the file system
		// has them) and falls back to read/write.
		if _, err := out.ReadFrom(in); err != nil {
			return err
		}
		return copyMeta(sfd, dfd)
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dst, name); err != nil {
			return err
		}
		if testHookCreated != nil {
			testHookCreated(dst, name)
		}
		return copyLinkMeta(&st, dst, name)
	case unix.S_IFIFO:
		if err := unix.Mkfifoat(dst, name, 0o600); err != nil {
			return err
		}
		if testHookCreated != nil {
			testHookCreated(dst, name)
		}
		return finishNode(&st, dst, name)
	default:
		// Device nodes and sockets: a user namespace may not create
		// device nodes, and a socket is meaningless in a copy.
		return nil
	}
}

// testHookCreated, set by tests only, runs between the creation of a
// FIFO or symlink and its metadata calls: where a container's process
// can rename something over the new entry.
var testHookCreated func(dst int, name string)

// finishNode gives the entry name that the copy just created in dst (not
// a directory or a regular file: those are held open since their
// creation) the owner, mode and times in st. A container that has the
// volume mounted can rename a symlink to a host file over the new entry
// at any moment, so the entry is opened once without following a link,
// checked to have the type created, and changed only through that
// descriptor.
func finishNode(st *unix.Stat_t, dst int, name string) error {
	fd, err := nofollow.Open(dst, name, st.Mode)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return setMeta(st, fd)
}

// copyLinkMeta gives the new symlink name in dst the owner and times in
// st; a link has no mode of its own.
func copyLinkMeta(st *unix.Stat_t, dst int, name string) error {
	fd, err := nofollow.Open(dst, name, unix.S_IFLNK)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := chownKeeping(fd, st); err != nil {
		return err
	}
	// By name, not following: the worst a rename can do here is touch
	// the times of another entry of this volume.
	return unix.UtimesNanoAt(dst, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// copyMeta gives dst, a descriptor of the copy itself, the owner, mode
// and times of src, a descriptor of the original.
func copyMeta(src, dst int) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	return setMeta(&st, dst)
}

// setMeta gives fd, a descriptor of a file that is not a symlink, the
// owner, mode and times in st.
func setMeta(st *unix.Stat_t, fd int) error {
	// The owner first: chown clears set-user-ID bits, which the mode
	// then restores.
	if err := chownKeeping(fd, st); err != nil {
		return err
	}
	if err := nofollow.Chmod(fd, st.Mode); err != nil {
		return err
	}
	return nofollow.SetTimes(fd, st.Atim, st.Mtim)
}

// chownKeeping gives fd the owner in st. EINVAL: the owner is not mapped
// here (single-ID mode); the copy keeps the user's own IDs then.
func chownKeeping(fd int, st *unix.Stat_t) error {
	if err := nofollow.Chown(fd, int(st.Uid), int(st.Gid)); err != nil && err != unix.EINVAL && err != unix.EPERM {
		return err
	}
	return nil
}
