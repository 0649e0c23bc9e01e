package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/storage"
	"github.com/cove-run/cove/pkg/procstat"
)

// Cove-managed layers: a container's read-write layer need not be in
// storage. Its root filesystem is an overlay cove mounts itself, over the
// image's layer directories, with the upper and work directories in the
// container's own record directory (cove's records, on the store's file
// system). storage's bookkeeping for a container (create the layer,
// mount, unmount, delete: each rewrites layers.json and containers.json
// with a rename and an fdatasync under their locks) was about 20 ms of a
// `run --rm` and 40 ms of a `run -d` + `rm`, and it told cove nothing its
// own record does not. Every container that can have one gets one, from
// create on (durable ones too); Podman keeps every container in storage.
//
// What storage no longer knows, cove's records tell: image removal asks
// both (Images' MoreUsers hook), so an image such a container uses is
// protected as storage protects it. Removing the record (rename, then
// RemoveAll) removes the upper directory with it. The mount lives in the
// mount namespace of the process that made it (the supervisor: the
// launcher and its monitor, or a foreground run), so a killed process
// leaves no mount anywhere; the next start mounts again.

const (
	managedUpper  = "upper"
	managedWork   = "work"
	managedMerged = "rootfs"
)

// canManageLayer says whether a container may skip storage: cove must be
// able to mount the overlay itself (the native overlay driver, without a
// mount program or mount options of the user's that only storage's mount
// applies), and the container must need nothing of storage's own mount
// (an ID-mapped rootfs for --userns=keep-id or --uidmap is built from
// storage's mount).
func (e *Engine) canManageLayer(o *ContainerOptions) bool {
	st, err := e.Store()
	if err != nil || st.GraphDriverName() != "overlay" || needsStorageMount(st.GraphOptions()) {
		return false
	}
	if u, err := spec.ParseUserns(o.Userns); err != nil || u.KeepID || o.Userns != "" && o.Userns != "host" {
		return false
	}
	return len(o.UIDMap) == 0 && len(o.GIDMap) == 0
}

// needsStorageMount says whether storage.conf asks for something only
// storage's own mount does: a mount program (fuse-overlayfs) or mount
// options of the user's (mountopt).
func needsStorageMount(opts []string) bool {
	for _, o := range opts {
		if strings.Contains(o, "mount_program") || strings.Contains(o, "mountopt") {
			return true
		}
	}
	return false
}

// imageLayerDirs lists the directories of an image's layers, top first, as
// overlay's lowerdir wants them.
func (e *Engine) imageLayerDirs(topLayer string) ([]string, error) {
	st, err := e.Store()
	if err != nil {
		return nil, err
	}
	d, err := st.GraphDriver()
	if err != nil {
		return nil, err
	}
	md, err := d.Metadata(topLayer)
	if err != nil {
		return nil, fmt.Errorf("the image's layer %s: %w", topLayer, err)
	}
	dirs := []string{md["UpperDir"]}
	if l := md["LowerDir"]; l != "" {
		dirs = append(dirs, strings.Split(l, ":")...)
	}
	return dirs, nil
}

// managedLowerDirs returns the lower directories for a cove-managed layer
// over the image whose top layer is topLayer, or ok false when the image
// needs storage's mount: overlay takes its options in one page, and
// storage fits an image with many layers into it with short relative
// links cove does not reproduce.
func (e *Engine) managedLowerDirs(topLayer string) (dirs []string, ok bool) {
	if topLayer == "" {
		return nil, true
	}
	dirs, err := e.imageLayerDirs(topLayer)
	if err != nil {
		return nil, false
	}
	n := 0
	for _, d := range dirs {
		n += len(d) + 1
	}
	// Room for upperdir, workdir and the flags (paths under the state
	// root are short next to a long layer chain), and for the upper
	// directory as one more lower one (layerView).
	return dirs, n < os.Getpagesize()-1536
}

// overlayOptions renders overlay's mount data. upper and work empty make
// a read-only overlay of the lower directories alone.
func overlayOptions(lower []string, upper, work string) (string, error) {
	data := "lowerdir=" + strings.Join(lower, ":")
	if upper != "" {
		data += ",upperdir=" + upper + ",workdir=" + work
	}
	if len(data) > os.Getpagesize()-64 {
		return "", fmt.Errorf("the image has too many layers for one overlay mount option (%d bytes)", len(data))
	}
	// In a user namespace, overlay keeps its metadata (whiteouts' opaque
	// directories, copy-up origins) in user.* xattrs, as trusted.* needs
	// the host's root; storage's mounts use the same, so both read the
	// layers alike, and storage's archive code reads user.overlay.* then.
	if os.Getenv("_CONTAINERS_USERNS_CONFIGURED") != "" {
		data += ",userxattr"
	}
	return data, nil
}

// lowerOrEmpty returns the lower directories, or for an image without
// layers (import of an empty tarball) an empty directory in dir: overlay
// needs at least one.
func lowerOrEmpty(dir string, lower []string) ([]string, error) {
	if len(lower) > 0 {
		return lower, nil
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	return []string{empty}, nil
}

// mountManagedLayer mounts a cove-managed container's overlay in this
// process's mount namespace (the container's gets a copy at clone) and
// returns it. volatile (for --rm containers, whose content nobody keeps)
// skips the sync of the upper directory at unmount.
func (e *Engine) mountManagedLayer(dir string, rec *containerRecord) (string, error) {
	upper := filepath.Join(dir, managedUpper)
	work := filepath.Join(dir, managedWork)
	merged := filepath.Join(dir, managedMerged)
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	lower, err := lowerOrEmpty(dir, rec.LowerDirs)
	if err != nil {
		return "", err
	}
	data, err := overlayOptions(lower, upper, work)
	if err != nil {
		return "", err
	}
	// A restart by the same launcher, or a mount left in this namespace:
	// one overlay at a time on the upper directory.
	unix.Unmount(merged, unix.MNT_DETACH)
	// A volatile mount leaves work/work/incompat/volatile behind, and
	// overlay refuses to mount that work directory again while it is
	// there (its sign that the upper directory may be torn after a
	// crash). Only --rm containers mount volatile, and their upper
	// directory is never mounted after a crash (they are removed), so a
	// leftover is only ever from a clean run; storage removes it too.
	os.RemoveAll(filepath.Join(work, "work", "incompat", "volatile"))
	if rec.Options.AutoRemove {
		err = unix.Mount("overlay", merged, "overlay", 0, data+",volatile")
		if errors.Is(err, unix.EINVAL) {
			err = unix.Mount("overlay", merged, "overlay", 0, data)
		}
	} else {
		err = unix.Mount("overlay", merged, "overlay", 0, data)
	}
	if err != nil {
		return "", fmt.Errorf("mounting the container's overlay: %w", err)
	}
	return merged, nil
}

// unmountManagedLayer detaches the overlay of a cove-managed container, if
// this process's mount namespace has it.
func unmountManagedLayer(dir string) {
	unix.Unmount(filepath.Join(dir, managedMerged), unix.MNT_DETACH)
}

// unmountRootfs undoes mountRootfs in this process's mount namespace
// (the launcher after the container's exit): storage's mount, or cove's.
func (e *Engine) unmountRootfs(dir string, rec *containerRecord) {
	if rec.ManagedLayer {
		unmountManagedLayer(dir)
		return
	}
	if st, err := e.Store(); err == nil {
		st.Unmount(rec.StorageID, false)
	}
}

// layerView mounts a container's root filesystem for this command alone
// (export, cp and volume filling of a stopped container) and returns its
// path and the function that unmounts it.
//
// A cove-managed layer is mounted at a directory of its own in the
// container's directory, so that commands do not meet each other. Read
// only, it is an overlay without an upper directory whose top lower one
// is the container's upper directory: overlay reads whiteouts and opaque
// directories in any layer, and nothing is written there, which also
// holds while the container runs (export of a running container).
// Writable (cp into a stopped container), it has the container's upper
// directory with a work directory of its own, never shared with another
// mount.
func (e *Engine) layerView(c *state.Container, rec *containerRecord, writable bool) (string, func(), error) {
	if !rec.ManagedLayer {
		st, err := e.Store()
		if err != nil {
			return "", nil, err
		}
		rootfs, err := st.Mount(rec.StorageID, "")
		if err != nil {
			return "", nil, fmt.Errorf("container %s: mounting its root filesystem: %w", c.Name, err)
		}
		return rootfs, func() { st.Unmount(rec.StorageID, false) }, nil
	}
	stores, err := e.States()
	if err != nil {
		return "", nil, err
	}
	dir := stores.Dir(c.ID)
	upper := filepath.Join(dir, managedUpper)
	if err := os.Mkdir(upper, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	// The mount goes with this process's mount namespace if it is
	// killed; its directory is removed by a later view (the PID in its
	// name is gone) or with the record.
	removeStaleViews(dir)
	tmp, err := os.MkdirTemp(dir, "view-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	merged := filepath.Join(tmp, "merged")
	work := filepath.Join(tmp, "work")
	release := func() {
		unix.Unmount(merged, unix.MNT_DETACH)
		os.RemoveAll(tmp)
	}
	var data string
	if writable {
		lower, lerr := lowerOrEmpty(dir, rec.LowerDirs)
		if lerr == nil {
			lerr = os.Mkdir(work, 0o700)
		}
		if lerr != nil {
			release()
			return "", nil, lerr
		}
		data, err = overlayOptions(lower, upper, work)
	} else {
		// Two lower directories at least: overlay refuses one alone
		// without an upper one on older kernels.
		lower, lerr := lowerOrEmpty(dir, rec.LowerDirs)
		if lerr != nil {
			release()
			return "", nil, lerr
		}
		data, err = overlayOptions(append([]string{upper}, lower...), "", "")
	}
	if err == nil {
		if err = os.Mkdir(merged, 0o755); err == nil {
			err = unix.Mount("overlay", merged, "overlay", 0, data)
		}
	}
	if err != nil {
		release()
		return "", nil, fmt.Errorf("container %s: mounting its root filesystem: %w", c.Name, err)
	}
	return merged, release, nil
}

// removeStaleViews removes the directories of views whose process is
// gone (killed before it could remove its own); a live one's view is left
// alone: its work directory is in use by its mount.
func removeStaleViews(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() && procstat.NamedOwnerGone(e.Name(), "view") {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// managedLayerUsers lists the containers with a cove-managed layer (not
// yet removed) and the image each uses, for image removal: storage does
// not know them.
func (e *Engine) managedLayerUsers() map[string][]string {
	stores, err := e.States()
	if err != nil {
		return nil
	}
	list, err := stores.List()
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, c := range list {
		rec, err := readRecord(c)
		if err != nil || !rec.ManagedLayer {
			continue
		}
		out[rec.ImageID] = append(out[rec.ImageID], c.ID)
	}
	return out
}

// managedLayerChanges lists a cove-managed layer's changes from its upper
// directory, as storage's overlay driver lists a layer's.
func managedLayerChanges(dir string, rec *containerRecord) ([]storage.Change, error) {
	upper := filepath.Join(dir, managedUpper)
	if _, err := os.Lstat(upper); errors.Is(err, os.ErrNotExist) {
		return nil, nil // never started: no changes
	}
	return storage.UpperChanges(rec.LowerDirs, upper)
}

// managedLayerSize is the size of a cove-managed layer's upper directory,
// counted as storage counts a layer's.
func managedLayerSize(dir string) (int64, error) {
	upper := filepath.Join(dir, managedUpper)
	if _, err := os.Lstat(upper); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return storage.DirSize(upper)
}

// graphDriverOf describes where a container's layer lives, for inspect:
// a cove-managed layer's directories from its record; a storage layer's
// from the driver, when this process has the store open (ps, on the host
// side, has not: then only nothing is known).
func (e *Engine) graphDriverOf(dir string, rec *containerRecord) InspectGraphDriver {
	if rec.ManagedLayer {
		return InspectGraphDriver{Name: "overlay", Data: map[string]string{
			"LowerDir":  strings.Join(rec.LowerDirs, ":"),
			"UpperDir":  filepath.Join(dir, managedUpper),
			"WorkDir":   filepath.Join(dir, managedWork),
			"MergedDir": filepath.Join(dir, managedMerged),
		}}
	}
	g := InspectGraphDriver{Data: map[string]string{}}
	if e.store == nil {
		return g
	}
	g.Name = e.store.GraphDriverName()
	if sc, err := e.store.Container(rec.StorageID); err == nil {
		if d, err := e.store.GraphDriver(); err == nil {
			if md, err := d.Metadata(sc.LayerID); err == nil {
				g.Data = md
			}
		}
	}
	return g
}
