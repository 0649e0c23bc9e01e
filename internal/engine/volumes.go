package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/volume"
)

// Volumes opens the volume store, StateRoot/volumes.
func (e *Engine) Volumes() (*volume.Store, error) {
	if e.volumes != nil {
		return e.volumes, nil
	}
	s, err := volume.Open(filepath.Join(e.Config.StateRoot, "volumes"))
	if err != nil {
		return nil, err
	}
	e.volumes = s
	return s, nil
}

// lockedVolumes opens the volume store and takes its lock.
func (e *Engine) lockedVolumes() (*volume.Store, func(), error) {
	vs, err := e.Volumes()
	if err != nil {
		return nil, nil, err
	}
	unlock, err := vs.Lock()
	if err != nil {
		return nil, nil, err
	}
	return vs, unlock, nil
}

// VolumeCreateOptions are `volume create`'s.
type VolumeCreateOptions struct {
	// Name is empty for a generated (anonymous-looking) name, as Docker.
	Name   string
	Labels []string
	// Opts are --opt KEY=VALUE: type=tmpfs|bind|none, device=, o=.
	Opts []string
}

// parseVolumeOpts validates --opt values (flag names them in errors:
// --opt, or --mount's volume-opt), the local driver's options:
//
//	type=tmpfs [o=size=64m,mode=1777,...]   a fresh tmpfs at every use
//	type=bind|none, o=bind, device=/abs/dir  a bind of a host directory
//
// Anything else is an error naming the option.
func parseVolumeOpts(flag string, raw []string) (map[string]string, error) {
	opts := map[string]string{}
	for _, r := range raw {
		k, v, ok := strings.Cut(r, "=")
		if !ok || k == "" || v == "" {
			return nil, errdefs.InvalidArgument("%s %q: expected KEY=VALUE", flag, r)
		}
		switch k {
		case "type", "device", "o":
		default:
			return nil, errdefs.InvalidArgument("%s %q: unknown option %q (the local driver takes type, device and o)", flag, r, k)
		}
		if _, dup := opts[k]; dup {
			return nil, errdefs.InvalidArgument("%s %q: %s given twice", flag, r, k)
		}
		opts[k] = v
	}
	typ, dev, o := opts["type"], opts["device"], opts["o"]
	switch typ {
	case "":
		if dev != "" || o != "" {
			return nil, errdefs.InvalidArgument("%[1]s device and o need %[1]s type=tmpfs or type=bind", flag)
		}
	case "tmpfs":
		if dev != "" && dev != "tmpfs" {
			return nil, errdefs.InvalidArgument("%s device=%q: a tmpfs volume takes no device (or device=tmpfs)", flag, dev)
		}
		spec := "/v"
		if o != "" {
			spec += ":" + o
		}
		if _, err := parseVolumeTmpfs(spec); err != nil {
			return nil, errdefs.InvalidArgument("%s o=%q: %v", flag, o, err)
		}
	case "bind", "none":
		for _, f := range strings.Split(o, ",") {
			switch f {
			case "bind", "rbind", "":
			default:
				return nil, errdefs.InvalidArgument("%s o=%q: a bind volume takes o=bind only", flag, o)
			}
		}
		if typ == "none" && !strings.Contains(o, "bind") {
			return nil, errdefs.InvalidArgument("%[1]s type=none needs %[1]s o=bind", flag)
		}
		if !filepath.IsAbs(dev) || strings.IndexByte(dev, 0) >= 0 {
			return nil, errdefs.InvalidArgument("%s device=%q: a bind volume needs an absolute host path", flag, dev)
		}
		st, err := os.Stat(dev)
		if err != nil {
			return nil, errdefs.InvalidArgument("%s device=%q: %v", flag, dev, err)
		}
		if !st.IsDir() {
			return nil, errdefs.InvalidArgument("%s device=%q: not a directory", flag, dev)
		}
		opts["device"] = filepath.Clean(dev)
	default:
		return nil, errdefs.InvalidArgument("%s type=%q: use tmpfs or bind (none with o=bind)", flag, typ)
	}
	return opts, nil
}

// parseVolumeTmpfs parses a tmpfs volume's o= options as --tmpfs would.
func parseVolumeTmpfs(s string) (spec.Mount, error) {
	m, err := spec.ParseTmpfs(s)
	if err != nil {
		// ParseTmpfs names its own input, which is ours with a path
		// prepended: strip to the reason.
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return spec.Mount{}, fmt.Errorf("%s", msg)
	}
	return m, nil
}

// CreateVolume creates a volume; an existing name is returned as it is
// (Docker's behaviour), unless the options differ.
func (e *Engine) CreateVolume(o VolumeCreateOptions) (*volume.Volume, error) {
	name := o.Name
	if name == "" {
		name = volume.NewAnonymousName()
	} else if p := spec.VolumeNameProblem(name); p != "" {
		return nil, errdefs.InvalidArgument("volume name %q %s", name, p)
	}
	labels, err := spec.Labels(nil, o.Labels)
	if err != nil {
		return nil, err
	}
	opts, err := parseVolumeOpts("--opt", o.Opts)
	if err != nil {
		return nil, err
	}
	vs, unlock, err := e.lockedVolumes()
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, created, err := vs.Create(volume.Volume{Name: name, Labels: labels, Options: opts})
	if err != nil {
		return nil, err
	}
	if !created && len(opts) > 0 && !sameOptions(v.Options, opts) {
		return nil, fmt.Errorf("volume %s already exists with other options: %w", name, errdefs.ErrAlreadyExists)
	}
	return v, nil
}

func sameOptions(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// InspectVolume returns a volume's record.
func (e *Engine) InspectVolume(name string) (*volume.Volume, error) {
	vs, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	if !spec.ValidVolumeName(name) {
		return nil, fmt.Errorf("no such volume: %s: %w", name, errdefs.ErrNotFound)
	}
	return vs.Get(name)
}

// volumeFilter is `volume ls --filter`: name=, label=, label!=,
// dangling=, driver=.
type volumeFilter struct {
	names, labels, notLabels, drivers []string
	dangling                          *bool
}

func parseVolumeFilters(raw []string) (*volumeFilter, error) {
	f := &volumeFilter{}
	for _, r := range raw {
		k, v, ok := strings.Cut(r, "=")
		if !ok || v == "" && k != "label" && k != "label!" {
			return nil, errdefs.InvalidArgument("filter %q: expected KEY=VALUE", r)
		}
		switch k {
		case "name":
			f.names = append(f.names, v)
		case "label":
			f.labels = append(f.labels, v)
		case "label!":
			f.notLabels = append(f.notLabels, v)
		case "driver":
			f.drivers = append(f.drivers, v)
		case "dangling":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
			default:
				return nil, errdefs.InvalidArgument("filter %q: dangling takes true or false", r)
			}
			f.dangling = &b
		default:
			return nil, errdefs.InvalidArgument("filter %q: unknown filter %q (use name, label, label!, dangling or driver)", r, k)
		}
	}
	return f, nil
}

// hasLabel matches KEY or KEY=VALUE against labels.
func hasLabel(labels map[string]string, want string) bool {
	k, v, withValue := strings.Cut(want, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

func (f *volumeFilter) match(v *volume.Volume, used bool) bool {
	if len(f.names) > 0 {
		ok := false
		for _, n := range f.names {
			// Docker matches names by substring.
			ok = ok || strings.Contains(v.Name, n)
		}
		if !ok {
			return false
		}
	}
	for _, l := range f.labels {
		if !hasLabel(v.Labels, l) {
			return false
		}
	}
	for _, l := range f.notLabels {
		if hasLabel(v.Labels, l) {
			return false
		}
	}
	if len(f.drivers) > 0 {
		ok := false
		for _, d := range f.drivers {
			ok = ok || d == v.Driver
		}
		if !ok {
			return false
		}
	}
	if f.dangling != nil && *f.dangling == used {
		return false
	}
	return true
}

// ListVolumes lists volumes matching Docker's --filter values.
func (e *Engine) ListVolumes(filters []string) ([]*volume.Volume, error) {
	f, err := parseVolumeFilters(filters)
	if err != nil {
		return nil, err
	}
	vs, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	all, err := vs.List()
	if err != nil {
		return nil, err
	}
	var users map[string][]string
	if f.dangling != nil {
		if users, err = e.volumeUsers(); err != nil {
			return nil, err
		}
	}
	var out []*volume.Volume
	for _, v := range all {
		if f.match(v, len(users[v.Name]) > 0) {
			out = append(out, v)
		}
	}
	return out, nil
}

// volumeUsers maps each volume name to the names of the containers that
// mount it.
func (e *Engine) volumeUsers() (map[string][]string, error) {
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	list, err := stores.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range list {
		rec, err := readRecord(c)
		if err != nil {
			continue
		}
		for _, m := range rec.Parsed.Mounts {
			if m.Type == spec.MountVolume && m.Source != "" {
				users[m.Source] = append(users[m.Source], c.Name)
			}
		}
	}
	return users, nil
}

// RemoveVolume removes a volume that no container uses. force ignores a
// missing volume (Docker's -f); it never removes one in use.
func (e *Engine) RemoveVolume(name string, force bool) error {
	vs, err := e.Volumes()
	if err != nil {
		return err
	}
	if !spec.ValidVolumeName(name) {
		if force {
			return nil
		}
		return fmt.Errorf("no such volume: %s: %w", name, errdefs.ErrNotFound)
	}
	unlock, err := vs.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := vs.Get(name); err != nil {
		if force && errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return err
	}
	users, err := e.volumeUsers()
	if err != nil {
		return err
	}
	if u := users[name]; len(u) > 0 {
		return fmt.Errorf("volume %s is in use by container %s: remove the container first: %w", name, strings.Join(u, ", "), errdefs.ErrInUse)
	}
	return vs.Remove(name)
}

// PruneVolumes removes the volumes no container uses: anonymous ones
// only, or every one with all (Docker 23's behaviour). Filters are
// label=, label!=. It returns the removed names and the space their
// content took.
func (e *Engine) PruneVolumes(all bool, filters []string) ([]string, int64, error) {
	f, err := parseVolumeFilters(filters)
	if err != nil {
		return nil, 0, err
	}
	if len(f.names) > 0 || len(f.drivers) > 0 || f.dangling != nil {
		return nil, 0, errdefs.InvalidArgument("volume prune takes label and label! filters only")
	}
	vs, unlock, err := e.lockedVolumes()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	list, err := vs.List()
	if err != nil {
		return nil, 0, err
	}
	users, err := e.volumeUsers()
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var reclaimed int64
	for _, v := range list {
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || !f.match(v, false) {
			continue
		}
		size, _ := vs.Size(v.Name)
		if err := vs.Remove(v.Name); err != nil {
			return removed, reclaimed, err
		}
		removed = append(removed, v.Name)
		reclaimed += size
	}
	return removed, reclaimed, nil
}

// VolumeExists reports whether a volume exists.
func (e *Engine) VolumeExists(name string) (bool, error) {
	_, err := e.InspectVolume(name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
