package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"

	"github.com/cove-run/cove/internal/errdefs"
)

// PullRequest describes a pull.
type PullRequest struct {
	Ref       string
	AllTags   bool
	TLSVerify *bool
	// Progress receives human-readable progress; nil discards it.
	Progress io.Writer
}

// transportOf returns the transport named by a "transport:rest" reference,
// or nil for a plain Docker reference (Docker's syntax has no transports, so
// "host:5000/img" and "img:tag" are references, not transports).
func transportOf(ref string) types.ImageTransport {
	name, _, ok := strings.Cut(ref, ":")
	if !ok {
		return nil
	}
	return transports.Get(name)
}

// KnownTransport reports whether ref starts with a transport name.
func KnownTransport(ref string) bool { return transportOf(ref) != nil }

// Pull copies an image into the store and returns the IDs pulled.
func (s *Service) Pull(ctx context.Context, req PullRequest) ([]string, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ref := strings.TrimPrefix(req.Ref, "docker://")
	if t := transportOf(req.Ref); t != nil && t.Name() != "docker" {
		if req.AllTags {
			return nil, errdefs.InvalidArgument("--all-tags works only with registries, not %s:", t.Name())
		}
		id, err := s.pullFromTransport(ctx, req)
		if err != nil {
			return nil, err
		}
		return []string{id}, nil
	}
	if req.AllTags {
		return s.pullAllTags(ctx, ref, req)
	}
	cands, err := s.candidates(ref)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, named := range cands {
		id, err := s.pullNamed(ctx, named, req)
		if err == nil {
			return []string{id}, nil
		}
		if !isNotFound(err) || len(cands) == 1 {
			return nil, registryError(named, err)
		}
		errs = append(errs, fmt.Sprintf("%s: %v", named, err))
	}
	return nil, fmt.Errorf("pulling %s: no candidate found: %s: %w", req.Ref, strings.Join(errs, "; "), errdefs.ErrNotFound)
}

func (s *Service) pullAllTags(ctx context.Context, ref string, req PullRequest) ([]string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, errdefs.InvalidArgument("invalid reference format %q: %v", ref, err)
	}
	if !reference.IsNameOnly(named) {
		return nil, errdefs.InvalidArgument("%q: --all-tags takes a repository without a tag or digest", ref)
	}
	dref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, err
	}
	tags, err := docker.GetRepositoryTags(ctx, s.systemContext(reference.Domain(named), req.TLSVerify), dref)
	if err != nil {
		return nil, registryError(named, err)
	}
	var ids []string
	for _, tag := range tags {
		tagged, err := reference.WithTag(named, tag)
		if err != nil {
			continue
		}
		id, err := s.pullNamed(ctx, tagged, req)
		if err != nil {
			return ids, registryError(tagged, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *Service) pullNamed(ctx context.Context, named reference.Named, req PullRequest) (string, error) {
	src, err := docker.NewReference(named)
	if err != nil {
		return "", errdefs.InvalidArgument("%s: %v", named, err)
	}
	dst, err := s.storeRef(named, "")
	if err != nil {
		return "", err
	}
	return s.copyInto(ctx, src, dst, s.systemContext(reference.Domain(named), req.TLSVerify), req.Progress)
}

// pullFromTransport handles docker-archive:, oci-archive:, oci:, dir: and
// the like. The image keeps the name recorded in the source, if any.
func (s *Service) pullFromTransport(ctx context.Context, req PullRequest) (string, error) {
	src, err := alltransports.ParseImageName(req.Ref)
	if err != nil {
		return "", errdefs.InvalidArgument("%q: %v", req.Ref, err)
	}
	named := src.DockerReference()
	if named != nil {
		named = reference.TagNameOnly(named)
	}
	return s.copyToStore(ctx, src, named, s.systemContext("", req.TLSVerify), req.Progress)
}

// copyToStore copies src into the store under name (which may be nil: the
// image is then stored without a name, by ID only).
func (s *Service) copyToStore(ctx context.Context, src types.ImageReference, named reference.Named, sys *types.SystemContext, progress io.Writer) (string, error) {
	tmpName := false
	if named == nil {
		// The storage destination needs a name or an ID, and the ID is
		// only known once the config is read: use a unique temporary name
		// and drop it after the copy.
		n, err := reference.ParseNormalizedNamed(fmt.Sprintf("localhost/cove-tmp-%d:latest", randomSuffix()))
		if err != nil {
			return "", err
		}
		named, tmpName = n, true
	}
	dst, err := s.storeRef(named, "")
	if err != nil {
		return "", err
	}
	id, err := s.copyInto(ctx, src, dst, sys, progress)
	if err != nil {
		return "", err
	}
	if tmpName {
		if err := s.store.RemoveNames(id, []string{named.String()}); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (s *Service) copyInto(ctx context.Context, src, dst types.ImageReference, sys *types.SystemContext, progress io.Writer) (string, error) {
	pc, err := policyContext(sys)
	if err != nil {
		return "", err
	}
	defer pc.Destroy()
	// Writers of images take cove's image lock so that a failed copy can
	// remove exactly the layers it created: no other writer can be half-way
	// through an image of its own meanwhile.
	unlock, err := s.lockWriters()
	if err != nil {
		return "", err
	}
	defer unlock()
	before, err := s.layerSet()
	if err != nil {
		return "", err
	}
	if _, err := copyImage(ctx, pc, dst, src, sys, progress); err != nil {
		s.removeOrphansSince(before)
		return "", err
	}
	return s.imageFromRef(dst)
}

func copyImage(ctx context.Context, pc *signature.PolicyContext, dst, src types.ImageReference, sys *types.SystemContext, progress io.Writer) ([]byte, error) {
	return copy.Image(ctx, pc, dst, src, &copy.Options{
		ReportWriter:       progressWriter(progress),
		SourceCtx:          sys,
		DestinationCtx:     sys,
		ImageListSelection: copy.CopySystemImage,
	})
}

func (s *Service) imageFromRef(ref types.ImageReference) (string, error) {
	if named := ref.DockerReference(); named != nil {
		img, err := s.store.Image(named.String())
		if err == nil {
			return img.ID, nil
		}
		return "", err
	}
	return "", errors.New("copied image has no name")
}

func isNotFound(err error) bool {
	var unk docker.ErrUnauthorizedForCredentials
	if errors.As(err, &unk) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "manifest unknown") || strings.Contains(msg, "not found") ||
		strings.Contains(msg, "name unknown") || strings.Contains(msg, "requested access to the resource is denied")
}

// registryError adds the reference and a hint to a library error.
func registryError(named reference.Named, err error) error {
	var unauth docker.ErrUnauthorizedForCredentials
	switch {
	case errors.As(err, &unauth):
		return fmt.Errorf("%s: authentication failed (run cove login %s): %w", named, reference.Domain(named), err)
	case strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s: the registry speaks plain HTTP; use --tls-verify=false or mark it insecure in registries.conf: %w", named, err)
	case isNotFound(err):
		return fmt.Errorf("%s: %v: %w", named, err, errdefs.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", named, err)
}
