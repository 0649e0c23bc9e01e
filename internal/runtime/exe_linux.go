package runtime

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The binary Start executes as the container init, and whether to protect
// it; variables so that tests can run a copy and check the protection
// bites.
var (
	initBinary = "/proc/self/exe"
	protectExe = true
)

var exeCache struct {
	sync.Mutex
	path    string
	protect bool
	file    *os.File
}

// initExecutable returns a descriptor of the binary to execute as the
// init, opened once per process (see "Protecting the cove binary" in the
// package documentation). The descriptor is close-on-exec; Start passes it
// to the child as proto.ExeFD.
func initExecutable() (*os.File, error) {
	exeCache.Lock()
	defer exeCache.Unlock()
	if exeCache.file != nil && exeCache.path == initBinary && exeCache.protect == protectExe {
		return exeCache.file, nil
	}
	var f *os.File
	var err error
	if protectExe {
		f, err = openReadonlyExe(initBinary)
	} else {
		f, err = os.Open(initBinary)
	}
	if err != nil {
		return nil, err
	}
	// A replaced descriptor may still be in use by a concurrent Start; it
	// is only ever replaced by tests, so let it leak.
	exeCache.path, exeCache.protect, exeCache.file = initBinary, protectExe, f
	return f, nil
}

// openReadonlyExe returns a descriptor of bin through which the kernel
// refuses writes.
//
// open_tree(OPEN_TREE_CLONE) makes a detached bind mount of the file: a
// mount attached to no namespace, so nothing appears in anyone's mount
// table and nothing has to be unmounted, even after a crash. It goes away
// with the last descriptor or process using it. mount_setattr makes it
// read-only (and nosuid, nodev, which cost nothing). Both need
// CAP_SYS_ADMIN over our mount namespace, which cove has as root and as
// root of its user namespace.
//
// Files opened through /proc/PID/exe of a process executed from it carry
// this mount, so the kernel checks writes against it and returns EROFS;
// file ownership does not matter, which is the point in a rootless setup
// where the container's root is the owner of the binary.
//
// The clone must be made from a mount of our own mount namespace: the
// kernel refuses (EINVAL) to clone a mount of another one. /proc/self/exe
// is not a path but a link to the file as executed, on the mount it had
// then, and a rootless cove executed its binary before it unshared its
// mount namespace (internal/userns): that mount belongs to the host's
// namespace. So the tree is opened by the path the link names, which
// resolves in our namespace, and accepted only if it is the same file,
// which it is unless the binary was replaced since we started (an upgrade:
// then the sealed copy of what we run). Without this, every rootless start
// fell back to the 25 MB copy, 20 ms.
func openReadonlyExe(bin string) (*os.File, error) {
	fd, err := openTreeOf(bin)
	if err == nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err == nil {
			return os.NewFile(uintptr(fd), bin+" (read-only)"), nil
		}
		unix.Close(fd)
	}
	// Before Linux 5.12, or without privilege over the mount namespace.
	f, cerr := sealedCopy(bin)
	if cerr != nil {
		return nil, fmt.Errorf("protecting the cove binary from the container: read-only mount: %v; sealed copy: %w", err, cerr)
	}
	return f, nil
}

// openTreeOf returns a detached clone of the mount of bin, opened by the
// path it names when bin is a link into /proc, after checking that the
// path still leads to the same file.
func openTreeOf(bin string) (int, error) {
	path := bin
	if strings.HasPrefix(bin, "/proc/") {
		target, err := os.Readlink(bin)
		if err != nil {
			return -1, err
		}
		path = target
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil || path == bin {
		return fd, err
	}
	var want, got unix.Stat_t
	if err := unix.Stat(bin, &want); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Fstat(fd, &got); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		unix.Close(fd)
		return -1, fmt.Errorf("%s no longer names the running binary (replaced since cove started)", path)
	}
	return fd, nil
}

// sealedCopy copies bin into a memfd sealed against any change: the
// container can at most see the copy.
func sealedCopy(bin string) (*os.File, error) {
	src, err := os.Open(bin)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("cove-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "cove-init (sealed copy)")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copying %s: %w", bin, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing the copy: %w", err)
	}
	return f, nil
}
