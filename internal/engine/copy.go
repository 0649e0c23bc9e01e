package engine

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/userns"
)

// Environment and descriptors of a `cove cp` that the CLI re-executed
// inside a running container's user namespace (see CopyJoin).
const (
	// EnvCopyPid names the container's first process, whose root is the
	// tree to copy from or into.
	EnvCopyPid = "_COVE_COPY_PID"
	// CopyPidFD is a pidfd of that process: the root is used only if the
	// process is still alive after /proc/PID/root was opened.
	CopyPidFD = 4
)

// CopyOptions are `cove cp`'s.
type CopyOptions struct {
	// Container and ContainerPath name the container's side; HostPath
	// the host's, "-" for a tar stream on Stdin or Stdout.
	Container, ContainerPath, HostPath string
	// ToContainer says which way the copy goes.
	ToContainer bool
	// Archive is -a: keep the owners of the source (otherwise files in
	// the container belong to its root, files on the host to the user).
	Archive bool
	// FollowLink is -L: a symlink named as the source is followed.
	FollowLink bool
	Stdin      io.Reader
	Stdout     io.Writer
	// Warn reports what could not be copied faithfully.
	Warn func(string)
}

// CopyResult says what a copy did.
type CopyResult struct {
	// Bytes is the size of the tar stream that carried the copy.
	Bytes int64
}

// CopyJoin is what the CLI needs to re-execute `cp` inside a running
// container's user namespace. A rootless cove in a namespace of its own
// cannot reach a running container's files: the container's mounts live in
// the namespaces of its own cove, and /proc/PID/root of the container needs
// privilege in the container's user namespace. Only the namespace's owner,
// on the host, may join it; the C constructor of internal/userns does that
// (setns before the Go runtime starts) when EnvUsernsJoinFD is set.
type CopyJoin struct {
	// Running is false for a stopped container: its layer is mounted
	// from cove's own namespace instead, and nothing else here is set.
	Running bool
	Pid     int
	// UserNS is /proc/PID/ns/user, PidFD a pidfd of the process.
	UserNS, PidFD *os.File
}

// Close releases the descriptors.
func (j *CopyJoin) Close() {
	if j.UserNS != nil {
		j.UserNS.Close()
	}
	if j.PidFD != nil {
		j.PidFD.Close()
	}
}

// PrepareCopyJoin looks the container up from the host side and, if it is
// running, opens what the joining process needs.
func (e *Engine) PrepareCopyJoin(ref string) (*CopyJoin, error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status != state.Running && c.State.Status != state.Paused {
		return &CopyJoin{}, nil
	}
	uidm, _, err := e.idMaps(rec)
	if err != nil {
		return nil, err
	}
	pidfd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	j := &CopyJoin{Running: true, Pid: c.State.Pid, PidFD: os.NewFile(uintptr(pidfd), "pidfd")}
	ns, err := os.Open("/proc/" + strconv.Itoa(c.State.Pid) + "/ns/user")
	if err == nil && uidm != nil {
		// A container with a user namespace of its own (keep-id,
		// --uidmap) is nested in the namespace of the cove that started
		// it, where the user is root and the container's IDs are mapped.
		// Join that one: there root is the user on the host (files
		// copied out are the user's) and has privilege over the nested
		// namespace's files; in the container's own, root is a
		// subordinate ID and the user's directories are not ours.
		var parent int
		parent, err = unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_PARENT)
		ns.Close()
		if err == nil {
			ns = os.NewFile(uintptr(parent), "userns-parent")
		}
	}
	if err == nil {
		j.UserNS = ns
	}
	// The pidfd was opened while the recorded process was alive (same
	// start time), so it names that process and no reused PID.
	if err != nil || !alive(&c.State) {
		j.Close()
		return nil, fmt.Errorf("container %s is not running any more: %w", c.Name, errdefs.ErrInvalidState)
	}
	return j, nil
}

// containerRoot returns a descriptor of the container's root directory and
// a function that releases it: the live root of a running container (in
// the joined namespace, or as real root), else its layer mounted from
// storage; but for a stopped container's path under one of its volumes or
// binds, the mount's source, with the path rewritten relative to it
// (copy_mounts.go).
func (e *Engine) containerRoot(ref string, end *copyEnd, toContainer bool) (int, func(), error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return -1, nil, err
	}
	if s := os.Getenv(EnvCopyPid); s != "" {
		pid, _ := strconv.Atoi(s)
		if pid != c.State.Pid || pid <= 0 {
			return -1, nil, fmt.Errorf("container %s is not running any more: %w", c.Name, errdefs.ErrInvalidState)
		}
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			if serr := unix.PidfdSendSignal(CopyPidFD, 0, nil, 0); serr != nil {
				unix.Close(fd)
				err = serr
			}
		}
		if err != nil {
			return -1, nil, fmt.Errorf("container %s is not running any more: %w", c.Name, errdefs.ErrInvalidState)
		}
		return fd, func() { unix.Close(fd) }, nil
	}
	if c.State.Status == state.Running || c.State.Status == state.Paused {
		if userns.InNamespace() {
			return -1, nil, fmt.Errorf("container %s started while cp was getting ready; run cp again: %w", c.Name, errdefs.ErrInvalidState)
		}
		// Real root: /proc/PID/root is open to us.
		pidfd, err := unix.PidfdOpen(c.State.Pid, 0)
		if err != nil {
			return -1, nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		defer unix.Close(pidfd)
		fd, err := unix.Open("/proc/"+strconv.Itoa(c.State.Pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil || !alive(&c.State) {
			if err == nil {
				unix.Close(fd)
			}
			return -1, nil, fmt.Errorf("container %s is not running any more: %w", c.Name, errdefs.ErrInvalidState)
		}
		return fd, func() { unix.Close(fd) }, nil
	}
	mnt, err := e.stoppedMountRoot(c, rec, end.path, toContainer)
	if err != nil {
		return -1, nil, err
	}
	if mnt.fd >= 0 {
		end.path, end.top = mnt.path, mnt.top
		return mnt.fd, func() { unix.Close(mnt.fd) }, nil
	}
	rootfs, release, err := e.layerView(c, rec, toContainer)
	if err != nil {
		return -1, nil, err
	}
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		release()
		return -1, nil, err
	}
	return fd, func() {
		unix.Close(fd)
		release()
	}, nil
}

// Copy copies between a container and the host with Docker's rules:
//   - a file to a missing path creates it (its directory must exist), to an
//     existing file replaces it, to a directory lands inside it;
//   - a directory to a missing path creates it with the source's contents,
//     to a directory lands inside it, or, with SRC ending in "/.", only its
//     contents do; a directory never replaces a file;
//   - "-" as the host path reads a tar stream to extract into a directory,
//     or writes the source as one.
func (e *Engine) Copy(o CopyOptions) (*CopyResult, error) {
	if o.ToContainer {
		if err := e.checkWritableTarget(o.Container, o.ContainerPath); err != nil {
			return nil, err
		}
	}
	ctrPath := o.ContainerPath
	if !strings.HasPrefix(ctrPath, "/") {
		// Docker: container paths are relative to the container's root.
		ctrPath = "/" + ctrPath
	}
	dst := copyEnd{path: ctrPath, name: o.Container + ":" + o.ContainerPath}
	rootFd, release, err := e.containerRoot(o.Container, &dst, o.ToContainer)
	if err != nil {
		return nil, err
	}
	defer release()
	dst.root = rootFd
	hostRoot, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(hostRoot)
	hostPath := o.HostPath
	if hostPath != "-" && !strings.HasPrefix(hostPath, "/") {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		// Joined by hand: filepath.Join would drop a trailing "/." that
		// means "the contents".
		hostPath = strings.TrimSuffix(wd, "/") + "/" + hostPath
	}
	src := copyEnd{root: hostRoot, path: hostPath, name: o.HostPath}
	if !o.ToContainer {
		src, dst = dst, src
	}
	counter := &countingWriter{}
	if o.HostPath == "-" {
		if o.ToContainer {
			return counter.result(extractStream(io.TeeReader(o.Stdin, counter), dst, o))
		}
		return counter.result(packSource(src, o, io.MultiWriter(o.Stdout, counter)))
	}
	plan, err := planCopy(src, dst, o.FollowLink)
	if err != nil {
		return nil, err
	}
	defer plan.close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := plan.pack(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	xo := extractOptions{Rename: plan.rename, Chown: o.Archive && o.ToContainer, Warn: o.Warn}
	err = extractTar(io.TeeReader(pr, counter), plan.target, xo)
	pr.CloseWithError(errors.New("copy stopped"))
	if perr := <-done; err == nil && perr != nil {
		err = fmt.Errorf("reading %s: %w", src.name, perr)
	}
	return counter.result(err)
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}

func (c *countingWriter) result(err error) (*CopyResult, error) {
	if err != nil {
		return nil, err
	}
	return &CopyResult{Bytes: c.n}, nil
}

// copyEnd is one side of a copy: a path resolved inside root; name is what
// the user typed, for messages. top is set when root is a mount's source
// and the user's path named its mount point (or the file bound there):
// that entry's name in the container.
type copyEnd struct {
	root            int
	path, name, top string
}

// copySource is an opened source.
type copySource struct {
	fd    int
	isDir bool
	// contents: SRC ended in "/." (or is "/"): the directory's contents
	// are copied, not the directory.
	contents bool
	base     string
}

func openSource(src copyEnd, follow bool) (*copySource, error) {
	fd, err := openInRoot(src.root, src.path, follow)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%s: no such file or directory: %w", src.name, errdefs.ErrNotFound)
		}
		if errors.Is(err, unix.ENOTDIR) {
			return nil, errdefs.InvalidArgument("%s: not a directory", src.name)
		}
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	st, err := entryStat(fd, "")
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	clean := path.Clean(src.path)
	s := &copySource{fd: fd, isDir: st.Mode&unix.S_IFMT == unix.S_IFDIR, base: path.Base(clean)}
	s.contents = s.isDir && (strings.HasSuffix(src.path, "/.") || clean == "/")
	if !s.isDir && strings.HasSuffix(src.path, "/") || !s.isDir && strings.HasSuffix(src.path, "/.") {
		unix.Close(fd)
		return nil, errdefs.InvalidArgument("%s: not a directory", src.name)
	}
	switch {
	case src.top != "":
		// A mount point of a stopped container: its source's root (or
		// bound file) stands for the entry named top.
		s.base = src.top
		s.contents = s.isDir && strings.HasSuffix(src.path, "/.")
	case clean == "/":
		s.base = "rootfs"
	}
	return s, nil
}

// packSource writes the source as a tar stream (cp SRC -): the entries are
// named after the source's last component, or are its contents for "/.".
func packSource(src copyEnd, o CopyOptions, w io.Writer) error {
	s, err := openSource(src, o.FollowLink)
	if err != nil {
		return err
	}
	defer unix.Close(s.fd)
	tw := tar.NewWriter(w)
	p := &treePacker{tw: tw, links: map[[2]uint64]string{}}
	if s.contents {
		err = p.packChildren(s.fd, "", "")
	} else {
		err = p.pack(s.fd, "", s.base)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", src.name, err)
	}
	return tw.Close()
}

// extractStream extracts a tar stream into an existing directory (cp -
// DEST), as Docker does: DEST must be a directory.
func extractStream(r io.Reader, dst copyEnd, o CopyOptions) error {
	fd, err := openInRoot(dst.root, dst.path, true)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: no such directory: %w", dst.name, errdefs.ErrNotFound)
		}
		return fmt.Errorf("%s: %w", dst.name, err)
	}
	defer unix.Close(fd)
	if st, err := entryStat(fd, ""); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errdefs.InvalidArgument("%s: the destination of a tar stream must be a directory", dst.name)
	}
	spool, err := spoolChecked(r)
	if err != nil {
		return err
	}
	defer spool.Close()
	return extractTar(spool, fd, extractOptions{Chown: o.Archive, Warn: o.Warn})
}

// spoolChecked copies a tar stream into an unlinked temporary file,
// checking the archive's form and every entry name on the way, so that a
// bad archive is refused before anything lands in the container.
func spoolChecked(r io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", "cove-cp-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	fail := func(err error) (*os.File, error) {
		f.Close()
		return nil, err
	}
	r, err = decompressed(r)
	if err != nil {
		return fail(err)
	}
	tr := tar.NewReader(io.TeeReader(r, f))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(errdefs.InvalidArgument("reading the archive: %v", err))
		}
		if _, err := checkEntryName(hdr.Name); err != nil {
			return fail(err)
		}
		if hdr.Typeflag == tar.TypeLink {
			if _, err := checkEntryName(hdr.Linkname); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := io.Copy(f, r); err != nil {
		return fail(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return f, nil
}

// decompressed undoes gzip or bzip2 compression of a tar stream, which
// Docker accepts on cp's stdin too.
func decompressed(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, errdefs.InvalidArgument("reading the archive: %v", err)
		}
		return zr, nil
	case bytes.Equal(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	}
	return br, nil
}

// copyPlan is a source and the directory its entries land in.
type copyPlan struct {
	src    *copySource
	target int
	// newBase renames the source's top entry; "" drops it (contents
	// into target), "=" keeps it.
	newBase string
}

func (p *copyPlan) close() {
	unix.Close(p.src.fd)
	unix.Close(p.target)
}

func (p *copyPlan) rename(first string) string {
	if p.newBase == "=" {
		return first
	}
	return p.newBase
}

func (p *copyPlan) pack(w io.Writer) error {
	tw := tar.NewWriter(w)
	pk := &treePacker{tw: tw, links: map[[2]uint64]string{}}
	if err := pk.pack(p.src.fd, "", p.src.base); err != nil {
		return err
	}
	return tw.Close()
}

// planCopy applies Docker's rules to the source and the destination.
func planCopy(src, dst copyEnd, follow bool) (*copyPlan, error) {
	s, err := openSource(src, follow)
	if err != nil {
		return nil, err
	}
	plan := &copyPlan{src: s, target: -1}
	fail := func(err error) (*copyPlan, error) {
		unix.Close(s.fd)
		if plan.target >= 0 {
			unix.Close(plan.target)
		}
		return nil, err
	}
	slash := strings.HasSuffix(dst.path, "/") || strings.HasSuffix(dst.path, "/.")
	clean := path.Clean(dst.path)
	fd, err := openInRoot(dst.root, dst.path, true)
	switch {
	case err == nil:
		st, serr := entryStat(fd, "")
		if serr != nil {
			unix.Close(fd)
			return fail(serr)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			plan.target, plan.newBase = fd, "="
			if s.contents {
				plan.newBase = ""
			}
			return plan, nil
		}
		unix.Close(fd)
		if s.isDir {
			return fail(errdefs.InvalidArgument("cannot copy a directory to a file: %s is a file", dst.name))
		}
		if slash {
			return fail(errdefs.InvalidArgument("%s: not a directory", dst.name))
		}
	case errors.Is(err, unix.ENOENT):
		if slash && !s.isDir {
			return fail(fmt.Errorf("%s: no such directory: %w", dst.name, errdefs.ErrNotFound))
		}
	case errors.Is(err, unix.ENOTDIR):
		return fail(errdefs.InvalidArgument("%s: a component of the path is not a directory", dst.name))
	default:
		return fail(fmt.Errorf("%s: %w", dst.name, err))
	}
	// Created or replaced under its parent, named as DEST says.
	parent, err := openInRoot(dst.root, path.Dir(clean), true)
	if err != nil {
		return fail(fmt.Errorf("%s: its directory %s does not exist: %w", dst.name, path.Dir(clean), errdefs.ErrNotFound))
	}
	plan.target = parent
	if st, err := entryStat(parent, ""); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fail(errdefs.InvalidArgument("%s: %s is not a directory", dst.name, path.Dir(clean)))
	}
	plan.newBase = path.Base(clean)
	if clean == "/" {
		return fail(errdefs.InvalidArgument("%s: cannot replace the root directory", dst.name))
	}
	return plan, nil
}

// SplitCopyArg splits a cp argument into container and path, by Docker's
// rule: a path that starts with "/" or "." is local, otherwise the part
// before the first ":" names a container.
func SplitCopyArg(arg string) (container, p string) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok || c == "" {
		return "", arg
	}
	return c, rest
}

// checkWritableTarget refuses a copy into a --read-only container's root
// file system, as Docker does; a writable mount (a volume, a bind, a
// tmpfs) at or above the target is fine.
func (e *Engine) checkWritableTarget(ref, ctrPath string) error {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil || !rec.Options.ReadOnly {
		return err
	}
	target := path.Clean("/" + ctrPath)
	for _, m := range rec.Parsed.Mounts {
		if !m.ReadOnly && pathUnder(target, path.Clean(m.Destination)) {
			return nil
		}
	}
	return fmt.Errorf("container %s: its root file system is marked read-only (--read-only): %w", c.Name, errdefs.ErrInvalidState)
}
