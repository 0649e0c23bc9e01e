package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/volume"
)

// parseVolumesFrom splits a --volumes-from value, CONTAINER[:ro|rw].
func parseVolumesFrom(v string) (ref, mode string, err error) {
	ref, mode, _ = strings.Cut(v, ":")
	switch mode {
	case "", "ro", "rw":
	default:
		return "", "", errdefs.InvalidArgument("--volumes-from %q: mode %q is not ro or rw", v, mode)
	}
	if ref == "" {
		return "", "", errdefs.InvalidArgument("--volumes-from %q: no container", v)
	}
	return ref, mode, nil
}

// completeMounts settles a new container's mounts at create, as Docker
// does: anonymous volumes get their generated names, --volumes-from adds
// the other containers' binds and volumes (not their tmpfs mounts), and
// each image VOLUME that nothing else covers becomes an anonymous volume.
// It returns the anonymous volumes' names.
func (e *Engine) completeMounts(p *parsedOptions, img imgspecv1.ImageConfig, volumesFrom []string) ([]string, error) {
	var anon []string
	taken := map[string]bool{}
	for i := range p.Mounts {
		m := &p.Mounts[i]
		taken[m.Destination] = true
		if m.Type == spec.MountVolume && m.Source == "" {
			m.Source = volume.NewAnonymousName()
			anon = append(anon, m.Source)
		}
	}
	for _, v := range volumesFrom {
		ref, mode, err := parseVolumesFrom(v)
		if err != nil {
			return nil, err
		}
		_, rec, err := e.lookupReconciled(ref)
		if err != nil {
			return nil, fmt.Errorf("--volumes-from %s: %w", v, err)
		}
		for _, m := range rec.Parsed.Mounts {
			if m.Type == spec.MountTmpfs || taken[m.Destination] {
				continue
			}
			taken[m.Destination] = true
			switch mode {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			}
			// The other container copied the image content already, or
			// chose not to; and it owns any ownership change.
			m.NoCopy, m.Chown, m.CreateSource = m.Type == spec.MountVolume, false, false
			m.VolumeOptions = nil
			p.Mounts = append(p.Mounts, m)
			// Its anonymous volumes become this container's too: the last
			// `rm -v` of the containers sharing one removes it (Docker).
			if m.Type == spec.MountVolume && slices.Contains(rec.AnonymousVolumes, m.Source) {
				anon = append(anon, m.Source)
			}
		}
	}
	for _, v := range slices.Sorted(maps.Keys(img.Volumes)) {
		d := path.Clean("/" + v)
		if d == "/" || taken[d] {
			continue
		}
		taken[d] = true
		name := volume.NewAnonymousName()
		anon = append(anon, name)
		p.Mounts = append(p.Mounts, spec.Mount{Type: spec.MountVolume, Source: name, Destination: d})
	}
	return anon, nil
}

// ensureVolumes creates the volumes the mounts name that do not exist yet
// and returns the ones it created, so that a failed create can remove them.
// The caller holds the volume store's lock.
func ensureVolumes(vs *volume.Store, mounts []spec.Mount, anon []string) ([]string, error) {
	var created []string
	for _, m := range mounts {
		if m.Type != spec.MountVolume {
			continue
		}
		// --mount volume-opt: options for a volume made here, checked by
		// parseOptions; an existing volume keeps its own (Docker).
		opts, err := parseVolumeOpts("volume-opt", m.VolumeOptions)
		if err != nil {
			return created, err
		}
		v := volume.Volume{Name: m.Source, Options: opts}
		if slices.Contains(anon, m.Source) {
			v.Anonymous = true
			v.Labels = map[string]string{volume.AnonymousLabel: ""}
		}
		_, made, err := vs.Create(v)
		if err != nil {
			return created, err
		}
		if made {
			created = append(created, m.Source)
		}
	}
	return created, nil
}

// volumeMounts turns the volume mounts of a starting container into what
// the spec mounts: the volume's directory as a bind (filled from the image
// first if it is new and empty, unless nocopy), a fresh tmpfs for a
// type=tmpfs volume, the host directory of a type=bind volume. A volume
// removed meanwhile is created again, empty.
func (e *Engine) volumeMounts(mounts []spec.Mount, rootfs string) ([]spec.Mount, error) {
	var vs *volume.Store
	out := make([]spec.Mount, 0, len(mounts))
	for _, m := range mounts {
		if m.Type != spec.MountVolume {
			out = append(out, m)
			continue
		}
		if vs == nil {
			var err error
			if vs, err = e.Volumes(); err != nil {
				return nil, err
			}
		}
		v, _, err := vs.Create(volume.Volume{Name: m.Source})
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", m.Source, err)
		}
		switch v.Options["type"] {
		case "tmpfs":
			o := m.Destination
			if v.Options["o"] != "" {
				o += ":" + v.Options["o"]
			}
			t, err := parseVolumeTmpfs(o)
			if err != nil {
				return nil, errdefs.InvalidArgument("volume %s: options %q: %v", v.Name, v.Options["o"], err)
			}
			t.ReadOnly = t.ReadOnly || m.ReadOnly
			t.TmpfsPlain = true
			out = append(out, t)
			continue
		case "bind", "none":
			m.Source = v.Options["device"]
		default:
			if !m.NoCopy && rootfs != "" {
				if _, err := vs.Populate(v.Name, rootfs, m.Destination); err != nil {
					return nil, err
				}
			}
			m.Source = vs.DataDir(v.Name)
		}
		m.Type, m.NoCopy, m.VolumeOptions = spec.MountBind, false, nil
		out = append(out, m)
	}
	return out, nil
}

// chownMounts applies -v ...:U: the bind or volume source, and everything
// below it, gets the container user's uid and gid (in cove's user
// namespace, which the container shares, so these are the IDs the
// container sees). The walk never follows a symlink.
func chownMounts(mounts []spec.Mount, uid, gid int) error {
	for _, m := range mounts {
		if !m.Chown || m.Type != spec.MountBind {
			continue
		}
		if err := chownTree(m.Source, uid, gid); err != nil {
			return fmt.Errorf("-v %s:%s:U: %w", m.Source, m.Destination, err)
		}
	}
	return nil
}

// chownTree changes the owner of root (already resolved through symlinks,
// once, by the caller) and of everything below it, by descriptors.
//
// Another container may have the same tree mounted and rename entries
// while the walk runs. A walk by path names (filepath.WalkDir + Lchown)
// reads a directory after it has been chowned, by its name: a directory
// renamed away and replaced by a symlink to a host directory in between
// makes it walk and chown the host tree. Here each directory is opened
// with O_NOFOLLOW|O_DIRECTORY relative to its parent's descriptor, and
// everything below it is reached only through that descriptor: an entry
// that is a symlink by the time it is opened fails the open (ELOOP) and
// only the link itself is chowned. Renames can at most move entries
// around inside the mounted tree, which the container could chown anyway.
func chownTree(root string, uid, gid int) error {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "chown", Path: root, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "stat", Path: root, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil // a bound file, or the link itself
	}
	// Reopening "." of the O_PATH descriptor gives a readable descriptor
	// of the same directory, with no second lookup of root's name.
	dir, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: root, Err: err}
	}
	return chownDir(dir, root, uid, gid)
}

// testHookChownEntry, set by tests only, runs for each entry of a
// directory between its listing and its chown: where another container
// can rename something over it.
var testHookChownEntry func(dir int, name string)

// chownDir chowns the entries of dir, and what is below them, depth
// first; it closes dir, so that the walk holds one descriptor per level.
func chownDir(dir int, dirPath string, uid, gid int) error {
	defer unix.Close(dir)
	// Listed through a duplicate: closing the *os.File closes the
	// descriptor it wraps, and dir is still needed.
	dup, err := unix.Dup(dir)
	if err != nil {
		return &fs.PathError{Op: "dup", Path: dirPath, Err: err}
	}
	lister := os.NewFile(uintptr(dup), dirPath)
	ents, err := lister.ReadDir(-1)
	lister.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(dirPath, name)
		if testHookChownEntry != nil {
			testHookChownEntry(dir, name)
		}
		if e.IsDir() {
			// The listing's type is a hint; the open decides: a directory that has
			// become a symlink fails here and is chowned as a link.
			sub, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			switch {
			case err == nil:
				if err := unix.Fchown(sub, uid, gid); err != nil {
					unix.Close(sub)
					return &fs.PathError{Op: "chown", Path: p, Err: err}
				}
				if err := chownDir(sub, p, uid, gid); err != nil {
					return err
				}
				continue
			case err == unix.ENOENT:
				continue // removed meanwhile
			case err != unix.ELOOP && err != unix.ENOTDIR:
				return &fs.PathError{Op: "open", Path: p, Err: err}
			}
		}
		if err := unix.Fchownat(dir, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && err != unix.ENOENT {
			return &fs.PathError{Op: "chown", Path: p, Err: err}
		}
	}
	return nil
}

// removeAnonymousVolumes removes the container's anonymous volumes that no
// other container uses (one that --volumes-from shares stays).
func (e *Engine) removeAnonymousVolumes(rec *containerRecord) error {
	if len(rec.AnonymousVolumes) == 0 {
		return nil
	}
	vs, unlock, err := e.lockedVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	users, err := e.volumeUsers()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range rec.AnonymousVolumes {
		if len(users[name]) > 0 {
			continue
		}
		if err := vs.Remove(name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recordWithVolumes creates the volumes a new container needs and records
// the container, holding the volume lock so that a concurrent `volume rm`
// either sees the container or ran before the volumes were ensured. On
// failure it removes the volumes it created.
func (e *Engine) recordWithVolumes(stores *state.Store, create func() error, mounts []spec.Mount, anon []string) error {
	needs := slices.ContainsFunc(mounts, func(m spec.Mount) bool { return m.Type == spec.MountVolume })
	if !needs {
		return create()
	}
	vs, unlock, err := e.lockedVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	created, err := ensureVolumes(vs, mounts, anon)
	if err == nil {
		err = create()
	}
	if err != nil {
		for _, n := range created {
			vs.Remove(n)
		}
	}
	return err
}

// overlayMounts applies -v SRC:DST:O: each such source becomes the lower
// layer of a fresh overlay whose upper layer lives in the container's
// directory and is emptied at every start, so the container may write
// there and the writes are thrown away (Podman's meaning). The overlay is
// mounted in this process's mount namespace, which the container's copies
// at clone; it goes away with the namespaces.
func overlayMounts(mounts []spec.Mount, ctrDir string, rootless bool) error {
	n := 0
	for i := range mounts {
		m := &mounts[i]
		if !m.Overlay || m.Type != spec.MountBind {
			continue
		}
		// The kernel splits lowerdir at ':' and options at ','.
		if strings.ContainsAny(m.Source, ":,\\") {
			return errdefs.InvalidArgument("-v %s:%s:O: an overlay source may not contain ':', ',' or '\\'", m.Source, m.Destination)
		}
		st, err := os.Stat(m.Source)
		if err != nil {
			return errdefs.InvalidArgument("-v %s:%s:O: %v", m.Source, m.Destination, err)
		}
		if !st.IsDir() {
			return errdefs.InvalidArgument("-v %s:%s:O: the source must be a directory", m.Source, m.Destination)
		}
		dir := filepath.Join(ctrDir, "overlay", fmt.Sprint(n))
		n++
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("-v %s:%s:O: clearing the previous writes: %w", m.Source, m.Destination, err)
		}
		for _, d := range []string{"upper", "work", "merged"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				return err
			}
		}
		// The upper directory's root takes the source's mode, so the
		// merged root looks like the source (overlay shows the upper's).
		os.Chmod(filepath.Join(dir, "upper"), st.Mode().Perm())
		data := "lowerdir=" + m.Source + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
		if rootless {
			// In a user namespace overlay may not write trusted.*
			// xattrs; userxattr keeps its bookkeeping in user.*.
			data += ",userxattr"
		}
		merged := filepath.Join(dir, "merged")
		if err := unix.Mount("overlay", merged, "overlay", 0, data); err != nil {
			return fmt.Errorf("-v %s:%s:O: mounting the overlay: %w", m.Source, m.Destination, err)
		}
		m.Source, m.Overlay = merged, false
	}
	return nil
}

// unmountOverlays detaches the :O overlays that this process mounted for
// the container (a foreground run removing its container), so that the
// container's directory can go. Other processes' namespaces never had them.
func unmountOverlays(ctrDir string) {
	merged, _ := filepath.Glob(filepath.Join(ctrDir, "overlay", "*", "merged"))
	merged = append(merged, filepath.Join(ctrDir, "rootfs-idmapped"))
	for _, m := range merged {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}
