package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/image"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/storage"
)

// ContainerChange is one line of `diff`: Kind is "A", "C" or "D".
type ContainerChange struct {
	Kind string `json:"Kind"`
	Path string `json:"Path"`
}

// DiffContainer lists what the container changed in its image's file
// system, sorted by path as Docker prints it. It reads the container's
// layer (the overlay's upper directory), running or not.
func (e *Engine) DiffContainer(ref string) ([]ContainerChange, error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	changes, err := e.layerChanges(c, rec)
	if err != nil {
		return nil, fmt.Errorf("comparing container %s with its image: %w", ref, err)
	}
	out := make([]ContainerChange, 0, len(changes))
	hidden, inEtc := false, false
	for _, c := range changes {
		kind := c.Kind.String()
		// The targets that start creates for cove's own bind mounts
		// are not the container's doing (Docker keeps them in a layer
		// of their own, which diff does not show).
		if kind == "A" && etcMountTargets[c.Path] {
			hidden = true
			continue
		}
		inEtc = inEtc || strings.HasPrefix(c.Path, "/etc/")
		out = append(out, ContainerChange{Kind: kind, Path: c.Path})
	}
	if hidden && !inEtc {
		// /etc changed only by those targets.
		out = slices.DeleteFunc(out, func(c ContainerChange) bool { return c.Path == "/etc" && c.Kind == "C" })
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// layerChanges lists the changes of the container's layer: from cove's
// upper directory, or from storage.
func (e *Engine) layerChanges(c *state.Container, rec *containerRecord) ([]storage.Change, error) {
	if rec.ManagedLayer {
		stores, err := e.States()
		if err != nil {
			return nil, err
		}
		return managedLayerChanges(stores.Dir(c.ID), rec)
	}
	st, err := e.Store()
	if err != nil {
		return nil, err
	}
	sc, err := st.Container(rec.StorageID)
	if err != nil {
		return nil, fmt.Errorf("its layer: %w", err)
	}
	return st.Changes("", sc.LayerID)
}

// etcMountTargets are the files start bind-mounts over (writeEtcFiles).
var etcMountTargets = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}

// ExportContainer writes the container's flattened root file system (its
// image plus its changes, without volumes or mounts) as a tar stream. The
// layer is mounted in this process's own mount namespace (layerView), also
// while the container runs, and the mount goes with this process.
func (e *Engine) ExportContainer(ref string, w io.Writer) error {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return err
	}
	rootfs, release, err := e.layerView(c, rec, false)
	if err != nil {
		return err
	}
	defer release()
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tw := tar.NewWriter(w)
	p := &treePacker{tw: tw, links: map[[2]uint64]string{}}
	if err := p.packChildren(fd, "", ""); err != nil {
		return fmt.Errorf("exporting container %s: %w", c.Name, err)
	}
	return tw.Close()
}

// CommitOptions are `cove commit`'s.
type CommitOptions struct {
	Container string
	// Ref names the new image; empty leaves it unnamed.
	Ref             string
	Changes         []string
	Message, Author string
}

// CommitContainer makes an image of the container: its image's layers plus
// its own, and its configuration (the image's with the container's
// command, environment, user, working directory and labels, as Docker
// does) plus Changes. It returns the new image's ID. See PauseForCommit
// for -p.
func (e *Engine) CommitContainer(ctx context.Context, o CommitOptions) (string, error) {
	c, rec, err := e.lookupReconciled(o.Container)
	if err != nil {
		return "", err
	}
	// A bad --change fails before anything is read or paused.
	dry := containerImageConfig(rec)
	if err := image.ApplyChanges(&dry, o.Changes); err != nil {
		return "", err
	}
	req := image.CommitRequest{
		ImageID: rec.ImageID, Config: containerImageConfig(rec),
		Ref: o.Ref, Changes: o.Changes, Message: o.Message, Author: o.Author,
		CreatedBy: commandLine(rec), Omit: slices.Sorted(maps.Keys(etcMountTargets)),
	}
	if rec.ManagedLayer {
		stores, err := e.States()
		if err != nil {
			return "", err
		}
		req.UpperDir = filepath.Join(stores.Dir(c.ID), managedUpper)
		req.LowerDirs = rec.LowerDirs
		// A container never started has no upper directory yet: an
		// empty one is its (empty) layer.
		if err := os.Mkdir(req.UpperDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	} else {
		st, err := e.Store()
		if err != nil {
			return "", err
		}
		sc, err := st.Container(rec.StorageID)
		if err != nil {
			return "", fmt.Errorf("the layer of container %s: %w", c.Name, err)
		}
		req.LayerID = sc.LayerID
	}
	svc, err := e.Images()
	if err != nil {
		return "", err
	}
	return svc.Commit(ctx, req)
}

// PauseForCommit pauses a running container, as `pause` does (from the
// host side, recorded), and returns the function that resumes it; a
// container that is not running, or already paused by the user, is left
// alone.
func (e *Engine) PauseForCommit(ref string) (resume func(), err error) {
	c, _, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status != state.Running {
		return func() {}, nil
	}
	if err := e.PauseContainer(c.ID); err != nil {
		return nil, err
	}
	return func() { e.UnpauseContainer(c.ID) }, nil
}

// containerImageConfig is the configuration a commit starts from.
func containerImageConfig(rec *containerRecord) imgspecv1.ImageConfig {
	cfg := rec.ImageConfig
	cfg.Cmd = append([]string(nil), cfg.Cmd...)
	o := rec.Options
	cfg.Env = spec.MergeEnv(cfg.Env, rec.Parsed.Env)
	switch {
	case o.Entrypoint != nil && *o.Entrypoint == "":
		cfg.Entrypoint = nil
	case o.Entrypoint != nil:
		cfg.Entrypoint = []string{*o.Entrypoint}
	}
	if len(o.Args) > 0 {
		cfg.Cmd = append([]string(nil), o.Args...)
	}
	if o.User != "" {
		cfg.User = o.User
	}
	if o.Workdir != "" {
		cfg.WorkingDir = o.Workdir
	}
	if len(rec.Parsed.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		for k, v := range rec.Parsed.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	if rec.Parsed.StopSignal != "" {
		cfg.StopSignal = rec.Parsed.StopSignal
	}
	return cfg
}

// ContainerSize returns the size of the container's own layer (Docker's
// SizeRw) and of its whole root file system, image included (SizeRootFs).
func (e *Engine) ContainerSize(ref string) (rw, rootFs int64, err error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return 0, 0, err
	}
	return e.containerSize(c.ID, rec)
}

func (e *Engine) containerSize(id string, rec *containerRecord) (rw, rootFs int64, err error) {
	if rw, err = e.layerSize(id, rec); err != nil {
		return 0, 0, err
	}
	rootFs = rw
	st, err := e.Store()
	if err != nil {
		return 0, 0, err
	}
	if svc, err := e.Images(); err == nil {
		if img, err := st.Image(rec.ImageID); err == nil {
			rootFs += svc.Size(img)
		}
	}
	return rw, rootFs, nil
}

// layerSize is the size of the container's own layer (ps -s's first
// figure, and what container prune reclaims).
func (e *Engine) layerSize(id string, rec *containerRecord) (int64, error) {
	if rec.ManagedLayer {
		stores, err := e.States()
		if err != nil {
			return 0, err
		}
		return managedLayerSize(stores.Dir(id))
	}
	st, err := e.Store()
	if err != nil {
		return 0, err
	}
	sc, err := st.Container(rec.StorageID)
	if err != nil {
		return 0, err
	}
	return st.DiffSize("", sc.LayerID)
}
