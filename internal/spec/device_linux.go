package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// statDevice describes the host device node at path (symlinks followed, as
// Docker does for /dev/disk/by-id/... names). Tests replace it.
var statDevice = func(path string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return specs.LinuxDevice{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, fmt.Errorf("%s is not a character or block device", path)
	}
	mode := fs.FileMode(st.Mode & 0o777)
	return specs.LinuxDevice{
		Path:     path,
		Type:     typ,
		Major:    int64(unix.Major(st.Rdev)),
		Minor:    int64(unix.Minor(st.Rdev)),
		FileMode: &mode,
	}, nil
}

// skipDevDirs are the /dev subdirectories that hold no host devices a
// privileged container should get (runc's list).
var skipDevDirs = map[string]bool{
	"/dev/pts": true, "/dev/shm": true, "/dev/fd": true, "/dev/mqueue": true,
	"/dev/.lxc": true, "/dev/.lxd-mounts": true, "/dev/.udev": true,
}

// ociDefaultDevices are created by the runtime in every container.
var ociDefaultDevices = map[string]bool{
	"/dev/null": true, "/dev/zero": true, "/dev/full": true, "/dev/random": true,
	"/dev/urandom": true, "/dev/tty": true, "/dev/console": true, "/dev/ptmx": true,
}

// hostDevices lists the host's device nodes under /dev that this process
// can open for reading or writing: what --privileged hands to the
// container. In a rootless user namespace that excludes the devices owned
// by unmapped IDs unless their "other" bits allow access. Tests replace it.
var hostDevices = func() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	_ = filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if skipDevDirs[p] {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 || ociDefaultDevices[p] {
			return nil
		}
		if unix.Access(p, unix.R_OK) != nil && unix.Access(p, unix.W_OK) != nil {
			return nil
		}
		dev, err := statDevice(p)
		if err == nil {
			out = append(out, dev)
		}
		return nil
	})
	return out
}
