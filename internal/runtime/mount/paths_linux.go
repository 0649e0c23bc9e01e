package mount

import (
	"os"

	"golang.org/x/sys/unix"
)

// The functions below run after PivotRoot: paths are container paths, and
// since "/" is now the rootfs, no symlink can lead out of it.

// MaskPaths hides each path: a file gets /dev/null bound over it, a
// directory an empty read-only tmpfs. Paths that do not exist are skipped
// (the list is the same on every kernel; /proc/timer_stats, for one, is
// gone from new ones).
func MaskPaths(paths []string) error {
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			if err == unix.ENOENT {
				continue
			}
			return &os.PathError{Op: "masking", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, ""); err != nil {
				return &Error{Op: "masking", FSType: "tmpfs", Target: p, Flags: unix.MS_RDONLY, Err: err}
			}
			continue
		}
		if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
			return &Error{Op: "masking", Source: "/dev/null", Target: p, Flags: unix.MS_BIND, Err: err}
		}
	}
	return nil
}

// ReadonlyPaths makes each path a read-only bind of itself; missing paths
// are skipped. In a fresh procfs, /proc/sys and friends are otherwise
// writable by root of the container, and some of their files act on the
// whole host, not on a namespace.
func ReadonlyPaths(paths []string) error {
	for _, p := range paths {
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if err == unix.ENOENT {
				continue
			}
			return &Error{Op: "bind mounting", Source: p, Target: p, Flags: unix.MS_BIND | unix.MS_REC, Err: err}
		}
		if err := remount(p, p, unix.MS_RDONLY, 0); err != nil {
			return err
		}
	}
	return nil
}

// RemountReadonly makes the mount at path read-only, keeping its other
// (possibly locked) flags. Used for the spec's root.readonly.
func RemountReadonly(path string) error {
	return remount(path, path, unix.MS_RDONLY, 0)
}

// BindFile binds the file src on dst (both container paths), used for
// /dev/console.
func BindFile(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return &Error{Op: "bind mounting", Source: src, Target: dst, Err: err}
	}
	return nil
}
