package engine

// The file-system half of `cove cp`: a tar stream is made from a tree and
// extracted into another, and both ends work on directory descriptors,
// never on joined path strings, so that neither side can be led out of its
// root:
//
//   - a path the user names is resolved with openat2(RESOLVE_IN_ROOT)
//     relative to the container's root (or the host's "/"): "..", absolute
//     symlinks and symlinks with ".." all stay inside, as they would for a
//     process chrooted there;
//   - below that, the walk of the source opens every entry relative to its
//     parent's descriptor with O_NOFOLLOW, so a directory swapped for a
//     symlink during the walk is not followed;
//   - extraction resolves an entry's parent directory with RESOLVE_IN_ROOT
//     relative to the target directory (so a symlink the archive itself
//     planted, "a -> /etc" followed by "a/passwd", lands in the target's own
//     "etc", never the host's), and creates, replaces or changes only the
//     last component with the *at calls and AT_SYMLINK_NOFOLLOW, so an
//     existing symlink at that name is replaced, not written through;
//   - entry names with ".." components or absolute paths are refused before
//     anything happens to them.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/pkg/nofollow"
)

// openInRoot resolves p inside the directory rootFd as if rootFd were "/"
// and returns an O_PATH descriptor; follow says whether a symlink as the
// last component is followed.
func openInRoot(rootFd int, p string, follow bool) (int, error) {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		p = "."
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if !follow {
		how.Flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Openat2(rootFd, p, &how)
		// EAGAIN: a rename raced the lookup somewhere in the tree; the
		// kernel asks us to try again.
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// entryStat is fstatat of (dirFd, name), or of dirFd itself for name "".
func entryStat(dirFd int, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	err := unix.Fstatat(dirFd, name, &st, flags)
	return st, err
}

// reopen opens (dirFd, name) for reading without following a symlink; for
// name "" dirFd is an O_PATH descriptor that is reopened through
// /proc/self/fd, which does not resolve anything again.
func reopen(dirFd int, name string, flags int) (*os.File, error) {
	var fd int
	var err error
	if name == "" {
		fd, err = unix.Open("/proc/self/fd/"+strconv.Itoa(dirFd), flags|unix.O_CLOEXEC, 0)
	} else {
		fd, err = unix.Openat(dirFd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// treePacker writes a tree into a tar stream.
type treePacker struct {
	tw *tar.Writer
	// links maps a multiply-linked file to the name it was first written
	// under, so the second name becomes a hard link as in Docker's tars.
	links map[[2]uint64]string
	// skipped counts sockets, which tar cannot hold.
	skipped int
}

// pack writes the entry (dirFd, name) and, for a directory, everything
// below it, under the archive name arcName.
func (p *treePacker) pack(dirFd int, name, arcName string) error {
	st, err := entryStat(dirFd, name)
	if err != nil {
		return err
	}
	hdr := &tar.Header{
		Name:    arcName,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).UTC(),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := p.tw.WriteHeader(hdr); err != nil {
			return err
		}
		return p.packChildren(dirFd, name, arcName+"/")
	case unix.S_IFLNK:
		target, err := readlinkAt(dirFd, name)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		return p.tw.WriteHeader(hdr)
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
		return p.tw.WriteHeader(hdr)
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		return p.tw.WriteHeader(hdr)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := p.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return p.tw.WriteHeader(hdr)
			}
			p.links[key] = arcName
		}
		f, err := reopen(dirFd, name, unix.O_RDONLY)
		if err != nil {
			return err
		}
		defer f.Close()
		// The descriptor must be the file that was measured: the
		// header's size is a promise about the bytes that follow.
		var fst unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &fst); err != nil {
			return err
		}
		if fst.Ino != st.Ino || fst.Dev != st.Dev {
			return fmt.Errorf("%s changed while it was copied", arcName)
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, fst.Size
		if err := p.tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(p.tw, io.LimitReader(f, fst.Size))
		if err != nil {
			return err
		}
		// A file truncated meanwhile: pad, the archive must stay whole.
		if n < fst.Size {
			_, err = io.CopyN(p.tw, zeroReader{}, fst.Size-n)
		}
		return err
	default:
		p.skipped++
		return nil
	}
}

// packChildren packs the entries of the directory (dirFd, name), sorted,
// under prefix.
func (p *treePacker) packChildren(dirFd int, name, prefix string) error {
	d, err := reopen(dirFd, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		if err := p.pack(int(d.Fd()), n, prefix+n); err != nil {
			return err
		}
	}
	return nil
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func readlinkAt(dirFd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirFd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// extractOptions say how a tar stream lands in a tree.
type extractOptions struct {
	// Rename maps the first component of every entry name ("" drops
	// it: the entry's contents land in the target directory itself).
	Rename func(first string) string
	// Chown applies the archive's owners (cp -a); otherwise files belong
	// to whoever extracts (root of the container's user namespace, or
	// the user on the host).
	Chown bool
	// Warn reports entries that cannot be reproduced (device nodes
	// without the privilege).
	Warn func(string)
}

// checkEntryName refuses names that could leave the target: absolute
// paths and ".." components. It returns the cleaned relative name.
func checkEntryName(name string) (string, error) {
	if name == "" {
		return "", errdefs.InvalidArgument("archive entry with an empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errdefs.InvalidArgument("archive entry %q: absolute paths are not allowed", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errdefs.InvalidArgument("archive entry %q: \"..\" is not allowed", name)
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", errdefs.InvalidArgument("archive entry %q: NUL in the name", name)
	}
	return path.Clean(name), nil
}

// renameFirst applies opts.Rename to a cleaned entry name.
func (o *extractOptions) renameFirst(name string) string {
	if o.Rename == nil || name == "." {
		return name
	}
	first, rest, _ := strings.Cut(name, "/")
	first = o.Rename(first)
	switch {
	case first == "":
		if rest == "" {
			return "."
		}
		return rest
	case rest == "":
		return first
	}
	return first + "/" + rest
}

// extractTar writes the entries of r into the directory targetFd.
func extractTar(r io.Reader, targetFd int, o extractOptions) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		name string
		t    time.Time
	}
	var dirTimes []dirTime
	warned := map[string]bool{}
	warn := func(kind, msg string) {
		if o.Warn != nil && !warned[kind] {
			warned[kind] = true
			o.Warn(msg)
		}
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errdefs.InvalidArgument("reading the archive: %v", err)
		}
		name, err := checkEntryName(hdr.Name)
		if err != nil {
			return err
		}
		name = o.renameFirst(name)
		if name == "." {
			// The target directory itself: it exists; only its
			// contents are copied.
			continue
		}
		var linkTarget string
		if hdr.Typeflag == tar.TypeLink {
			if linkTarget, err = checkEntryName(hdr.Linkname); err != nil {
				return err
			}
			linkTarget = o.renameFirst(linkTarget)
		}
		if err := extractEntry(tr, hdr, targetFd, name, linkTarget, o.Chown, warn); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			dirTimes = append(dirTimes, dirTime{name, hdr.ModTime})
		}
	}
	// Directory times last: extracting into a directory changes its
	// modification time.
	for i := len(dirTimes) - 1; i >= 0; i-- {
		d := dirTimes[i]
		if fd, err := openInRoot(targetFd, d.name, false); err == nil {
			setTimes(fd, "", d.t)
			unix.Close(fd)
		}
	}
	return nil
}

func setTimes(dirFd int, name string, t time.Time) {
	ts := unix.NsecToTimespec(t.UnixNano())
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		// utimensat on an O_PATH descriptor needs the /proc path.
		unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(dirFd), []unix.Timespec{ts, ts}, 0)
		return
	}
	unix.UtimesNanoAt(dirFd, name, []unix.Timespec{ts, ts}, flags)
}

// extractEntry creates one entry; name is relative to targetFd and clean.
func extractEntry(r io.Reader, hdr *tar.Header, targetFd int, name, linkTarget string, chown bool, warn func(kind, msg string)) error {
	dir, base := path.Split(name)
	parentFd, err := openInRoot(targetFd, dir, true)
	if err != nil {
		return fmt.Errorf("%s: opening its directory: %w", name, err)
	}
	defer unix.Close(parentFd)
	if st, err := entryStat(parentFd, "."); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s: its parent is not a directory", name)
	}
	// What is there already: a directory stays (its contents merge), and
	// anything else is replaced by the entry, never written through.
	if st, err := entryStat(parentFd, base); err == nil {
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case isDir && hdr.Typeflag == tar.TypeDir:
		case isDir:
			return errdefs.InvalidArgument("cannot overwrite directory %q with non-directory", name)
		case hdr.Typeflag == tar.TypeDir:
			return errdefs.InvalidArgument("cannot overwrite non-directory %q with directory", name)
		default:
			if err := unix.Unlinkat(parentFd, base, 0); err != nil {
				return fmt.Errorf("%s: replacing it: %w", name, err)
			}
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(parentFd, base, 0o700); err != nil && err != unix.EEXIST {
			return fmt.Errorf("%s: %w", name, err)
		}
	case tar.TypeReg, tar.TypeRegA:
		fd, err := unix.Openat(parentFd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		f := os.NewFile(uintptr(fd), name)
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, parentFd, base); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case tar.TypeLink:
		ldir, lbase := path.Split(linkTarget)
		lfd, err := openInRoot(targetFd, ldir, true)
		if err != nil {
			return fmt.Errorf("%s: hard link to %s: %w", name, linkTarget, err)
		}
		err = unix.Linkat(lfd, lbase, parentFd, base, 0)
		unix.Close(lfd)
		if err != nil {
			return fmt.Errorf("%s: hard link to %s: %w", name, linkTarget, err)
		}
		// A hard link shares the target's owner, mode and times.
		return nil
	case tar.TypeFifo:
		if err := unix.Mkfifoat(parentFd, base, 0o600); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case tar.TypeChar, tar.TypeBlock:
		kind := uint32(unix.S_IFCHR)
		if hdr.Typeflag == tar.TypeBlock {
			kind = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(parentFd, base, kind|0o600, int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				warn("device", fmt.Sprintf("device nodes are not copied without the privilege to create them (first: %s)", name))
				return nil
			}
			return fmt.Errorf("%s: %w", name, err)
		}
	default:
		warn("type"+string(hdr.Typeflag), fmt.Sprintf("archive entry %s: type %q is not copied", name, hdr.Typeflag))
		return nil
	}
	return finishEntry(parentFd, base, name, hdr, chown, warn)
}

// finishEntry sets the owner, mode and times of a created entry through an
// O_PATH descriptor of it, opened without following a symlink and checked
// to have the type created (package nofollow): in a running container a
// process could swap the new file for a symlink to a host file between its
// creation and these calls, and chmod or chown by name would follow it.
func finishEntry(parentFd int, base, name string, hdr *tar.Header, chown bool, warn func(kind, msg string)) error {
	fd, err := nofollow.Open(parentFd, base, entryKind(hdr.Typeflag))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer unix.Close(fd)
	isLink := hdr.Typeflag == tar.TypeSymlink
	if chown {
		if err := nofollow.Chown(fd, hdr.Uid, hdr.Gid); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("%s: %w", name, err)
			}
			warn("chown", fmt.Sprintf("ownership %d:%d of %s (and maybe others) cannot be kept: the ID is not mapped in cove's user namespace", hdr.Uid, hdr.Gid, name))
		}
	}
	if isLink {
		setTimes(parentFd, base, hdr.ModTime)
		return nil
	}
	// After chown, which clears set-user-ID bits.
	if err := nofollow.Chmod(fd, uint32(hdr.Mode)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeDir {
		setTimes(fd, "", hdr.ModTime)
	}
	return nil
}

// entryKind is the file type extractEntry creates for a tar entry type.
func entryKind(t byte) uint32 {
	switch t {
	case tar.TypeDir:
		return unix.S_IFDIR
	case tar.TypeSymlink:
		return unix.S_IFLNK
	case tar.TypeFifo:
		return unix.S_IFIFO
	case tar.TypeChar:
		return unix.S_IFCHR
	case tar.TypeBlock:
		return unix.S_IFBLK
	default:
		return unix.S_IFREG
	}
}
