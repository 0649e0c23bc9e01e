package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
)

// Ephemeral containers: a foreground `run --rm` container never appears in
// storage. Its root filesystem is an overlay cove mounts itself, over the
// image's layer directories, with the upper and work directories in the
// container's own directory (cove's records, on the store's file system).
// storage's bookkeeping for a container (create the layer, mount, unmount,
// delete: each rewrites the layer and container files under their locks)
// was about 20 ms of a 60 ms run, for a container that is removed at its
// exit anyway. Podman keeps such containers in storage (volatile).
//
// What storage no longer knows, cove's records tell: image removal asks
// both (Images' ContainersUsing hook), so an image a running ephemeral
// container uses is refused, as for any other. Removing the record (rename,
// then RemoveAll) removes the upper directory with it; a crash leaves a
// record that the next command removes like any other --rm container's.

const (
	ephemeralUpper  = "upper"
	ephemeralWork   = "work"
	ephemeralMerged = "rootfs"
)

// canBeEphemeral says whether a container may skip storage: cove must be
// able to mount the overlay itself (the native overlay driver), and the
// container must need nothing of storage's own mount (an ID-mapped rootfs
// for --userns=keep-id or --uidmap is built from storage's mount).
func (e *Engine) canBeEphemeral(o *ContainerOptions) bool {
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

// ephemeralLowerDirs returns the lower directories for an ephemeral
// container of the image whose top layer is topLayer, or ok false when the
// image needs storage's mount: overlay takes its options in one page, and
// storage fits an image with many layers into it with short relative links
// cove does not reproduce.
func (e *Engine) ephemeralLowerDirs(topLayer string) (dirs []string, ok bool) {
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
	// root are short next to a long layer chain).
	return dirs, n < os.Getpagesize()-1024
}

// mountEphemeral mounts an ephemeral container's overlay in this process's
// mount namespace (the container's gets a copy at clone) and returns it.
func (e *Engine) mountEphemeral(dir string, rec *containerRecord) (string, error) {
	lower := rec.LowerDirs
	upper := filepath.Join(dir, ephemeralUpper)
	work := filepath.Join(dir, ephemeralWork)
	merged := filepath.Join(dir, ephemeralMerged)
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	if len(lower) == 0 {
		// An image without layers (import of an empty tarball): overlay
		// needs a lower directory, so an empty one.
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
		lower = []string{empty}
	}
	data := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if len(data) > os.Getpagesize()-64 {
		return "", fmt.Errorf("the image has too many layers for one overlay mount option (%d bytes)", len(data))
	}
	// In a user namespace, overlay keeps its metadata in user.* xattrs
	// (trusted.* needs real root); storage's mounts use the same, so
	// both see the layers alike. volatile: no sync of the upper
	// directory, whose content goes with the container.
	if os.Getenv("_CONTAINERS_USERNS_CONFIGURED") != "" {
		data += ",userxattr"
	}
	err := unix.Mount("overlay", merged, "overlay", 0, data+",volatile")
	if errors.Is(err, unix.EINVAL) {
		err = unix.Mount("overlay", merged, "overlay", 0, data)
	}
	if err != nil {
		return "", fmt.Errorf("mounting the container's overlay: %w", err)
	}
	return merged, nil
}

// unmountEphemeral detaches the overlay of an ephemeral container, if this
// process's mount namespace has it.
func unmountEphemeral(stores *state.Store, id string) {
	unix.Unmount(filepath.Join(stores.Dir(id), ephemeralMerged), unix.MNT_DETACH)
}

// ephemeralUsers lists the ephemeral containers (not yet removed) and the
// image each uses, for image removal: storage does not know them.
func (e *Engine) ephemeralUsers() map[string][]string {
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
		if err != nil || !rec.Ephemeral {
			continue
		}
		out[rec.ImageID] = append(out[rec.ImageID], c.ID)
	}
	return out
}

// errEphemeral is what storage-based commands say of an ephemeral
// container.
func errEphemeral(name string) error {
	return fmt.Errorf("container %s was started with run --rm: its changes are not kept in the store (run it without --rm to diff, export or commit it)", name)
}
