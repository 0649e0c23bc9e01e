// Package mount builds a container's root filesystem inside the init
// process's new mount namespace: propagation, the rootfs bind, the spec's
// mounts (proc, sysfs, tmpfs, devpts, mqueue, binds), the /dev population,
// pivot_root, masked and read-only paths.
//
// Every mount target is resolved inside the rootfs with openat2(2) and
// RESOLVE_IN_ROOT, so a symlink in the image ("/data -> /etc", or
// "-> ../../../") is followed as if the rootfs were "/" and can never make
// us mount over a host path. The resolved O_PATH descriptor is then used as
// the mount target through /proc/self/fd/N, so nothing can swap the path
// between the check and the mount(2) call. This needs Linux 5.6.
//
// Mounts inherited from a more privileged mount namespace are "locked" in a
// user namespace: the kernel refuses to clear their nosuid/nodev/noexec/ro
// and atime flags (EPERM), and every bind remount must repeat them. The
// remount helper reads them back with statfs(2) and ORs them in.
package mount

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Rootfs is the container's root directory while the init sets it up,
// before pivot_root. It is not safe for concurrent use.
type Rootfs struct {
	path string
	// fd is an O_PATH descriptor of the rootfs bind mount: every target is
	// resolved beneath it.
	fd int
	// devTmpfs records that the spec mounted a tmpfs on /dev, which then
	// needs the standard devices and links (SetupDev).
	devTmpfs bool
	// devpts records a devpts instance on /dev/pts, for the ptmx link.
	devpts bool
}

// SetRootPropagation changes the propagation of every mount in the init's
// new mount namespace. It must come first: the namespace starts as a copy of
// the caller's, with the same peer groups, so without it our mounts would
// propagate back to the caller (and, for a root caller, to the host), and
// the unmount of the old root after pivot_root would unmount the host's
// tree. mode is the spec's rootfsPropagation; "" means rprivate, as in
// Docker.
func SetRootPropagation(mode string) error {
	flag, err := PropagationFlag(mode)
	if err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", flag, ""); err != nil {
		return &Error{Op: "changing propagation of", Target: "/", Flags: flag, Err: err}
	}
	return nil
}

// PropagationFlag returns the mount flags of a rootfsPropagation mode
// (see SetRootPropagation).
func PropagationFlag(mode string) (uintptr, error) {
	switch mode {
	case "", "rprivate":
		return unix.MS_PRIVATE | unix.MS_REC, nil
	case "private":
		return unix.MS_PRIVATE, nil
	case "rslave":
		return unix.MS_SLAVE | unix.MS_REC, nil
	case "slave":
		return unix.MS_SLAVE, nil
	}
	// Shared propagation would need the rootfs's parent mount made
	// private for pivot_root, and leaks every container mount to the
	// caller; nothing in cove asks for it yet.
	return 0, fmt.Errorf("rootfs propagation %q is not supported (use rprivate, private, rslave or slave)", mode)
}

// OpenRootfs bind-mounts dir onto itself and opens it. pivot_root needs the
// new root to be a mount point, and the engine may hand us a plain directory
// (or an overlay whose submounts must come along, hence MS_REC).
func OpenRootfs(dir string) (*Rootfs, error) {
	if !path.IsAbs(dir) {
		return nil, fmt.Errorf("rootfs %q: not an absolute path", dir)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return nil, &Error{Op: "bind mounting", Source: dir, Target: dir, Flags: unix.MS_BIND | unix.MS_REC, Err: err}
	}
	// Opened after the bind, so fd names the new mount, not the directory
	// beneath it.
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "opening rootfs", Path: dir, Err: err}
	}
	return &Rootfs{path: dir, fd: fd}, nil
}

// Close releases the rootfs descriptor. Call it before pivot_root: an open
// descriptor into the old tree keeps it busy.
func (r *Rootfs) Close() error {
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// procfd names an open descriptor as a path. mount(2) and statfs(2) follow
// this "magic link" to exactly the file the descriptor refers to, which is
// what makes the checked target the mounted one. The init still sees the
// caller's /proc at this point, in which its own PID is visible.
func procfd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// open resolves dest (a container path) inside the rootfs.
func (r *Rootfs) open(dest string) (int, error) {
	how := unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC,
		// IN_ROOT: "/" and ".." stop at the rootfs, and absolute symlinks
		// are taken relative to it. NO_MAGICLINKS: /proc/*/fd-style links
		// inside a mounted procfs could point anywhere.
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(r.fd, dest, &how)
		// EAGAIN: a concurrent rename or mount made the kernel give up the
		// lookup to stay safe; retrying is what it asks for.
		if (err == unix.EAGAIN || err == unix.EINTR) && i < 64 {
			continue
		}
		if err == unix.ENOSYS {
			return -1, fmt.Errorf("resolving %s in the rootfs: openat2 is not available (cove needs Linux 5.6 or later)", dest)
		}
		if err != nil {
			return -1, &os.PathError{Op: "resolving", Path: dest, Err: err}
		}
		return fd, nil
	}
}

// mkdirAll resolves dest inside the rootfs, creating what is missing:
// directories, and for a file bind (file true) an empty file as the last
// component. Every component is created inside an already-resolved parent,
// so creation cannot escape the rootfs either. A dangling symlink on the
// way is followed inside the rootfs and its target created, as Docker does
// for a volume whose path in the image is such a link.
func (r *Rootfs) mkdirAll(dest string, file bool) (int, error) {
	for depth := 0; ; depth++ {
		fd, next, err := r.mkdirStep(dest, file)
		if next == "" {
			return fd, err
		}
		if depth == 40 { // the kernel's own limit on nested links
			return -1, &os.PathError{Op: "creating", Path: dest, Err: unix.ELOOP}
		}
		dest = next
	}
}

// mkdirStep does one pass of mkdirAll. It returns a non-empty next path
// when it met a dangling symlink: the path to create instead.
func (r *Rootfs) mkdirStep(dest string, file bool) (int, string, error) {
	fd, err := r.open(dest)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, "", err
	}
	parts := strings.Split(strings.Trim(path.Clean("/"+dest), "/"), "/")
	parent, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	defer func() { unix.Close(parent) }()
	cur := "/"
	for i, name := range parts {
		next := path.Join(cur, name)
		fd, err := r.open(next)
		if errors.Is(err, unix.ENOENT) {
			var cerr error
			if file && i == len(parts)-1 {
				var f int
				f, cerr = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				if cerr == nil {
					unix.Close(f)
				}
			} else {
				cerr = unix.Mkdirat(parent, name, 0o755)
			}
			if cerr == unix.EEXIST {
				// Something is there but does not resolve: a dangling
				// symlink (or a racing creator, which the retry handles).
				if target, lerr := readlinkat(parent, name); lerr == nil {
					if !path.IsAbs(target) {
						dir, derr := r.pathOf(parent)
						if derr != nil {
							return -1, "", derr
						}
						target = path.Join(dir, target)
					}
					return -1, path.Join(append([]string{target}, parts[i+1:]...)...), nil
				}
			} else if cerr != nil {
				return -1, "", &os.PathError{Op: "creating", Path: next, Err: cerr}
			}
			fd, err = r.open(next)
		}
		if err != nil {
			return -1, "", err
		}
		unix.Close(parent)
		parent, cur = fd, next
	}
	fd, parent = parent, -1
	return fd, "", nil
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// pathOf returns the container path of a directory descriptor inside the
// rootfs: the kernel's name for it, minus the rootfs prefix. A relative
// symlink is relative to the directory it is in, which need not be the
// textual parent when links were followed to get there.
func (r *Rootfs) pathOf(fd int) (string, error) {
	p, err := os.Readlink(procfd(fd))
	if err != nil {
		return "", err
	}
	if p == r.path {
		return "/", nil
	}
	rel, ok := strings.CutPrefix(p, strings.TrimSuffix(r.path, "/")+"/")
	if !ok {
		return "", fmt.Errorf("%s is outside the rootfs %s", p, r.path)
	}
	return "/" + rel, nil
}

// Mount performs one entry of the spec's mounts list, in the spec's order
// (a mount below another one, like /dev/pts below /dev, must come after it).
func (r *Rootfs) Mount(m specs.Mount) error {
	s, err := Plan(m, HostFacts{
		GIDMapped: GIDMapFunc(os.ReadFile("/proc/self/gid_map")),
		Exists:    func(p string) bool { _, err := os.Stat(p); return err == nil },
	})
	if err != nil {
		return err
	}
	return r.Do(s)
}

// Do performs a planned mount (see Plan).
func (r *Rootfs) Do(s Step) error {
	if s.Bind {
		return r.bind(s.Source, s.Dest, s.options())
	}
	err := r.mountFS(s.Source, s.Dest, s.FSType, s.options())
	switch {
	case err == nil:
		r.devTmpfs = r.devTmpfs || s.DevTmpfs
		r.devpts = r.devpts || s.Devpts
		return nil
	case s.Fallback == FallbackOnEPERM && errors.Is(err, unix.EPERM):
		return r.bind(s.FallbackSource, s.Dest, s.fallbackOptions())
	case s.Fallback == FallbackOnError:
		if berr := r.bind(s.FallbackSource, s.Dest, s.fallbackOptions()); berr != nil {
			return fmt.Errorf("%w; falling back to a bind of %s: %w", err, s.FallbackSource, berr)
		}
		return nil
	}
	return err
}

func hasOption(data []string, key string) bool {
	for _, d := range data {
		if d == key || strings.HasPrefix(d, key+"=") {
			return true
		}
	}
	return false
}

// fixDevptsGID drops a "gid=N" option when N is not mapped in our user
// namespace: devpts refuses the mount (EINVAL) otherwise. That happens with
// a single-ID mapping, where the tty group (5) does not exist.
func fixDevptsGID(data []string, mapped func(uint32) bool) []string {
	out := data[:0:0]
	for _, d := range data {
		if v, ok := strings.CutPrefix(d, "gid="); ok {
			if g, err := strconv.ParseUint(v, 10, 32); err == nil && !mapped(uint32(g)) {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// mountFS mounts a new file system instance at dest.
func (r *Rootfs) mountFS(source, dest, fstype string, o options) error {
	if source == "" {
		source = fstype
	}
	fd, err := r.mkdirAll(dest, false)
	if err != nil {
		return fmt.Errorf("mounting %s at %s: %w", fstype, dest, err)
	}
	data := o.dataString()
	err = unix.Mount(source, procfd(fd), fstype, o.flags, data)
	unix.Close(fd)
	if err != nil {
		return &Error{Op: "mounting", FSType: fstype, Target: dest, Flags: o.flags, Data: data, Err: err}
	}
	return r.finish(dest, o, false)
}

// bind bind-mounts the host path src on dest.
func (r *Rootfs) bind(src, dest string, o options) error {
	st, err := os.Stat(src)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &Error{Op: "bind mounting", Source: src, Target: dest, Err: fmt.Errorf("source: %w", err)}
	}
	fd, err := r.mkdirAll(dest, !st.IsDir())
	if err != nil {
		return &Error{Op: "bind mounting", Source: src, Target: dest, Err: err}
	}
	flags := uintptr(unix.MS_BIND)
	if o.rec {
		flags |= unix.MS_REC
	}
	err = unix.Mount(src, procfd(fd), "", flags, "")
	unix.Close(fd)
	if err != nil {
		return &Error{Op: "bind mounting", Source: src, Target: dest, Flags: flags, Err: err}
	}
	return r.finish(dest, o, true)
}

// finish applies what mount(2) cannot do in the first call: for a bind, the
// per-mount flags (a bind ignores them; they need a remount); recursive
// attributes; propagation.
func (r *Rootfs) finish(dest string, o options, bind bool) error {
	if !(bind && (o.flags != 0 || o.cleared != 0)) && o.recursive == 0 && len(o.propagation) == 0 {
		return nil
	}
	// Look the target up again: the descriptor used for the mount refers
	// to the directory beneath the new mount, not to the new mount.
	fd, err := r.open(dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if bind && (o.flags != 0 || o.cleared != 0) {
		if err := remount(procfd(fd), dest, o.flags, o.cleared); err != nil {
			return err
		}
	}
	if o.recursive != 0 {
		attr := unix.MountAttr{Attr_set: o.recursive}
		err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		if err == unix.ENOSYS && o.recursiveBestEffort {
			err = nil
		}
		if err != nil {
			return &Error{Op: "setting recursive attributes of", Target: dest, Err: err}
		}
	}
	for _, p := range o.propagation {
		if err := unix.Mount("", procfd(fd), "", p, ""); err != nil {
			return &Error{Op: "changing propagation of", Target: dest, Flags: p, Err: err}
		}
	}
	return nil
}

// lockable are the flags the kernel locks on mounts that a user namespace
// inherited from a more privileged one.
const lockable = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// remount changes the flags of the bind mount at target (a path or a
// procfd); shown is the path for messages. set are flags to add, cleared
// flags the caller explicitly wants off.
//
// MS_REMOUNT|MS_BIND replaces all per-mount flags at once. Flags neither
// set nor cleared keep their current value (read with statfs), which both
// preserves a read-only source and repeats the flags a user namespace
// locked. Only if that is refused (EPERM: an explicit "rw", "suid", "dev"
// or "exec" on a locked mount) do we retry with every current restriction
// kept, since it is the best the kernel allows.
func remount(target, shown string, set, cleared uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: shown, Err: err}
	}
	cur := statfsToMount(int64(st.Flags))
	flags := set | (cur & lockable &^ cleared)
	if (set|cleared)&atimeFlags == 0 {
		// Keep the access-time policy. Passing none of these would ask for
		// the kernel's default, relatime, and a locked noatime or
		// strictatime mount refuses that change.
		flags |= cur & (unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_NODIRATIME)
		if cur&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
			flags |= unix.MS_STRICTATIME
		}
	}
	err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
	if err == unix.EPERM && cur&lockable&^flags != 0 {
		flags |= cur & lockable
		err = unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
	}
	if err != nil {
		return &Error{Op: "remounting", Target: shown, Flags: unix.MS_REMOUNT | unix.MS_BIND | flags, Err: err}
	}
	return nil
}

// defaultDevices are the nodes every container gets (the OCI runtime spec's
// list, minus /dev/console and /dev/ptmx, which are set up separately).
var defaultDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// Device is a host device node to bind into the container.
type Device struct {
	// Source is the host's node, Path where it goes in the container.
	Source, Path string
}

// SetupDev populates a /dev tmpfs: the default devices and the spec's
// devices, the /proc/self/fd links, /dev/ptmx, and an empty /dev/console
// for a terminal to be bound on later.
//
// Devices are bind mounts of the host's nodes, never mknod:
// mknod is not allowed in a user namespace, and a tmpfs mounted in one is
// implicitly nodev anyway; a bound node keeps its host mount's dev
// permission. The spec's mode and owner for a device are therefore not
// applied: changing them would change the host's node.
func (r *Rootfs) SetupDev(devices []Device, console bool) error {
	for _, d := range DevicesToBind(r.devTmpfs, devices) {
		if err := r.bind(d.Source, d.Path, options{}); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	if !r.devTmpfs {
		return nil
	}
	dev, err := r.open("/dev")
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	links := [][2]string{
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
	}
	if r.devpts {
		// With a private devpts instance, /dev/ptmx must lead to that
		// instance's ptmx; the host's /dev/ptmx would allocate terminals
		// in the host's instance, invisible in /dev/pts.
		if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "removing", Path: "/dev/ptmx", Err: err}
		}
		links = append(links, [2]string{"ptmx", "pts/ptmx"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[1], dev, l[0]); err != nil && err != unix.EEXIST {
			return &os.PathError{Op: "creating symlink", Path: "/dev/" + l[0], Err: err}
		}
	}
	if console {
		fd, err := r.mkdirAll("/dev/console", true)
		if err != nil {
			return err
		}
		unix.Close(fd)
	}
	return nil
}

// PivotRoot makes the rootfs the root of the mount namespace and detaches
// the old root, so that nothing of the host's tree stays reachable.
//
// pivot_root(".", ".") stacks the old root on top of the new one at the
// same place, which needs no put_old directory inside the rootfs (an image
// may be read-only or lack one). The old root is then the topmost mount at
// "." and an MNT_DETACH unmount of "." removes exactly it. Before that it
// is made a slave so the unmount cannot propagate to the caller's
// namespace, whatever propagation the spec asked for.
func PivotRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: rootfs, Err: err}
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &Error{Op: "changing propagation of", Target: "the old root", Flags: unix.MS_SLAVE | unix.MS_REC, Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "unmounting the old root", Path: "/", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}
