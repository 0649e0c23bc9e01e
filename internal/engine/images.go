package engine

import (
	"context"

	"strings"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/image"
)

// Image types the CLI renders; aliases keep the CLI on the engine's API.
type (
	PullRequest   = image.PullRequest
	PushRequest   = image.PushRequest
	ImportRequest = image.ImportRequest
	ImageSummary  = image.Summary
	ImageInspect  = image.Inspect
	ImageHistory  = image.History
	RemoveResult  = image.RemoveResult
	PruneReport   = image.PruneReport
)

// Platform selects an image variant; empty fields mean this host's.
type Platform struct{ OS, Arch, Variant string }

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, errdefs.InvalidArgument("--platform %q: expected OS/ARCH[/VARIANT], e.g. linux/amd64", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Images returns the image service over the opened store.
func (e *Engine) Images() (*image.Service, error) {
	st, err := e.Store()
	if err != nil {
		return nil, err
	}
	return image.New(st.Store, e.imageOptions()), nil
}

func (e *Engine) imageOptions() image.Options {
	return image.Options{StateRoot: e.Config.StateRoot, OS: e.Platform.OS, Arch: e.Platform.Arch, Variant: e.Platform.Variant, MoreUsers: e.managedLayerUsers}
}

// Pull pulls an image and returns the IDs pulled.
func (e *Engine) Pull(ctx context.Context, req PullRequest) ([]string, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	return svc.Pull(ctx, req)
}

// Push pushes a local image.
func (e *Engine) Push(ctx context.Context, req PushRequest) error {
	svc, err := e.Images()
	if err != nil {
		return err
	}
	return svc.Push(ctx, req)
}

// ListImages lists local images; filters are Docker's --filter values.
// withLabels fills ImageSummary.Labels (it costs a read per image).
func (e *Engine) ListImages(all bool, filters []string, withLabels bool) ([]ImageSummary, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	f, err := svc.ParseFilters(filters)
	if err != nil {
		return nil, err
	}
	return svc.List(all, f, withLabels)
}

// InspectImage describes a local image in Docker's schema.
func (e *Engine) InspectImage(name string) (*ImageInspect, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	return svc.Inspect(name)
}

// ImageExists reports whether a local image matches name.
func (e *Engine) ImageExists(name string) (bool, error) {
	svc, err := e.Images()
	if err != nil {
		return false, err
	}
	return svc.Exists(name)
}

// TagImage adds a name to an image.
func (e *Engine) TagImage(source, target string) error {
	svc, err := e.Images()
	if err != nil {
		return err
	}
	return svc.Tag(source, target)
}

// RemoveImages removes images, one result per name.
func (e *Engine) RemoveImages(names []string, force bool) ([]RemoveResult, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	e.sweepOrphans()
	return svc.Remove(names, force), nil
}

// ImageHistory returns an image's history, newest first.
func (e *Engine) ImageHistory(name string) ([]ImageHistory, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	return svc.History(name)
}

// SaveImages writes images to an archive.
func (e *Engine) SaveImages(ctx context.Context, names []string, format, path string) error {
	svc, err := e.Images()
	if err != nil {
		return err
	}
	return svc.Save(ctx, names, format, path)
}

// LoadImages loads an archive; errors name input ("" means path).
func (e *Engine) LoadImages(ctx context.Context, path, input string) ([]string, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	return svc.Load(ctx, path, input)
}

// ImportImage creates an image from a root filesystem tarball.
func (e *Engine) ImportImage(ctx context.Context, req ImportRequest) (string, error) {
	svc, err := e.Images()
	if err != nil {
		return "", err
	}
	return svc.Import(ctx, req)
}

// PruneImages removes dangling (or, with all, unused) images.
func (e *Engine) PruneImages(all bool, filters []string) (*PruneReport, error) {
	svc, err := e.Images()
	if err != nil {
		return nil, err
	}
	f, err := svc.ParseFilters(filters)
	if err != nil {
		return nil, err
	}
	e.sweepOrphans()
	return svc.Prune(all, f)
}

// Login stores registry credentials after checking them; no store needed.
func (e *Engine) Login(ctx context.Context, registry, user, pass string, tlsVerify *bool) (string, error) {
	return image.New(nil, e.imageOptions()).Login(ctx, registry, user, pass, tlsVerify)
}

// Logout removes stored credentials.
func (e *Engine) Logout(registry string) (string, error) {
	return image.New(nil, e.imageOptions()).Logout(registry)
}

// ErrNotLoggedIn is returned by Logout when there were no credentials.
var ErrNotLoggedIn = image.ErrNotLoggedIn

// AuthFile is where login stores credentials.
func AuthFile() string { return image.AuthFile() }

// ShortID shortens an image or container ID as Docker prints it.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
