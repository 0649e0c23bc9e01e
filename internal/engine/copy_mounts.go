package engine

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/volume"
)

// A stopped container's volumes and bind mounts are not mounted anywhere,
// so a copy to or from a path under one of them goes to the mount's source
// directory on the host, as Docker does (it mounts the volumes for the
// copy): the mount whose destination is the longest prefix of the path
// wins, and the rest of the path is resolved inside that source with the
// same RESOLVE_IN_ROOT walk as a container's root, so nothing in a volume
// leads out of it. A symlink in a volume therefore resolves within the
// volume, not within the container's root as it would while the container
// runs, and a directory above a mount point is copied out from the layer
// alone. tmpfs mounts have no content while the container is stopped: a
// path under one means the layer, as in Docker.
//
// A volume the container has not started with yet is still empty: Docker
// fills a new volume from the image at create, so its copy sees (and adds
// to) the image's content there. cove fills it at start, so cp fills it
// first, the same way (unless nocopy); otherwise a file copied in would
// make the volume non-empty and the start would skip the image's content.

// mountedCopyRoot is where a stopped container's path lives when a mount
// covers it.
type mountedCopyRoot struct {
	fd int
	// path is the container path relative to the mount's source, with
	// the trailing "/" or "/." of the original kept (cp's rules read
	// them).
	path string
	// top is the mount point's own name, the name of the source when
	// the path is the mount point itself (whose path here is "/").
	top string
}

// stoppedMountRoot opens the source of the mount that covers ctrPath, if
// one does; fd is -1 otherwise.
func (e *Engine) stoppedMountRoot(c *state.Container, rec *containerRecord, ctrPath string, toContainer bool) (mountedCopyRoot, error) {
	name := c.Name
	mounts := rec.Parsed.Mounts
	none := mountedCopyRoot{fd: -1}
	clean := path.Clean("/" + ctrPath)
	var m *spec.Mount
	for i := range mounts {
		c := &mounts[i]
		if c.Type == spec.MountTmpfs || !pathUnder(clean, c.Destination) {
			continue
		}
		if m == nil || len(c.Destination) > len(m.Destination) {
			m = c
		}
	}
	if m == nil {
		return none, nil
	}
	// Refused before anything is touched: a copy into a new volume would
	// otherwise fill it from the image first.
	if toContainer && m.ReadOnly {
		return none, fmt.Errorf("container %s: %s is on a read-only mount (%s): %w", name, ctrPath, m.Destination, errdefs.ErrInvalidState)
	}
	src := m.Source
	if m.Type == spec.MountVolume {
		vs, err := e.Volumes()
		if err != nil {
			return none, err
		}
		// As at start: a volume removed meanwhile is made again, empty.
		v, _, err := vs.Create(volume.Volume{Name: m.Source})
		if err != nil {
			return none, fmt.Errorf("volume %s: %w", m.Source, err)
		}
		switch v.Options["type"] {
		case "tmpfs":
			return none, nil
		case "bind", "none":
			src = v.Options["device"]
		default:
			if !m.NoCopy {
				if err := e.populateForCopy(vs, v.Name, c, rec, m.Destination); err != nil {
					return none, err
				}
			}
			src = vs.DataDir(v.Name)
		}
	}
	rel := pathInMount(ctrPath, m.Destination)
	// The source is the user's own host path (a bind, a bind volume's
	// device) or cove's volume directory: followed as start binds it.
	fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return none, fmt.Errorf("container %s: the source of its mount %s: %w", name, m.Destination, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return none, err
	}
	// Only the mount point itself is named after it: a path below it
	// keeps its own name (cp c:/data/f -, with /data a volume, writes f).
	top := ""
	if path.Clean(rel) == "/" {
		top = path.Base(m.Destination)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// A file bound on a file: its directory is the root, and the
		// path can only be the file itself.
		unix.Close(fd)
		if rel != "/" {
			return none, errdefs.InvalidArgument("%s: %s is a file (bound from the host)", ctrPath, m.Destination)
		}
		if fd, err = unix.Open(filepath.Dir(src), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return none, err
		}
		rel = "/" + filepath.Base(src)
		if strings.HasSuffix(ctrPath, "/") {
			rel += "/"
		}
	}
	return mountedCopyRoot{fd: fd, path: rel, top: top}, nil
}

// pathInMount is ctrPath, which the mount point dest covers, relative to
// the mount's source, keeping the trailing "/" or "/." by which cp's rules
// tell a directory or its contents.
func pathInMount(ctrPath, dest string) string {
	rel := strings.TrimPrefix(path.Clean("/"+ctrPath), dest)
	if rel == "" {
		rel = "/"
	}
	switch {
	case strings.HasSuffix(ctrPath, "/."):
		rel = strings.TrimSuffix(rel, "/") + "/."
	case strings.HasSuffix(ctrPath, "/") && rel != "/":
		rel += "/"
	}
	return rel
}

// pathUnder reports whether the clean path p is dir or inside it.
func pathUnder(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// populateForCopy fills a new, empty volume from the stopped container's
// layer, as its start would (volumeMounts), and finishes a fill killed
// half-way; a volume that has content is left as it is, and the layer is
// then not mounted.
func (e *Engine) populateForCopy(vs *volume.Store, name string, c *state.Container, rec *containerRecord, dest string) error {
	if need, err := vs.NeedsPopulate(name); err != nil || !need {
		return err
	}
	rootfs, release, err := e.layerView(c, rec, false)
	if err != nil {
		return fmt.Errorf("volume %s: filling it: %w", name, err)
	}
	defer release()
	_, err = vs.Populate(name, rootfs, dest)
	return err
}
