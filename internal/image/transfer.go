package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"

	"github.com/cove-run/cove/internal/errdefs"
)

// PushRequest describes a push.
type PushRequest struct {
	Source string
	// Dest is a registry reference or transport:path; empty means the
	// registry named by Source.
	Dest      string
	TLSVerify *bool
	Progress  io.Writer
}

// Push copies a local image to a registry or to another transport.
func (s *Service) Push(ctx context.Context, req PushRequest) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	img, err := s.Lookup(req.Source)
	if err != nil {
		return err
	}
	src, err := s.storeRef(nil, img.ID)
	if err != nil {
		return err
	}
	dest := req.Dest
	if dest == "" {
		dest = req.Source
	}
	var dst types.ImageReference
	registry := ""
	if t := transportOf(dest); t != nil && t.Name() != "docker" {
		dst, err = alltransports.ParseImageName(dest)
		if err != nil {
			return errdefs.InvalidArgument("destination %q: %v", dest, err)
		}
	} else {
		named, err := ParseName(strings.TrimPrefix(dest, "docker://"))
		if err != nil {
			return err
		}
		registry = reference.Domain(named)
		dst, err = docker.NewReference(named)
		if err != nil {
			return errdefs.InvalidArgument("destination %q: %v", dest, err)
		}
	}
	sys := s.systemContext(registry, req.TLSVerify)
	pc, err := policyContext(sys)
	if err != nil {
		return err
	}
	defer pc.Destroy()
	if _, err := copyImage(ctx, pc, dst, src, sys, req.Progress); err != nil {
		if named := dst.DockerReference(); named != nil && registry != "" {
			return registryError(named, err)
		}
		return fmt.Errorf("pushing %s to %s: %w", req.Source, dest, err)
	}
	return nil
}

// SaveFormats are the formats `save --format` accepts.
var SaveFormats = []string{"docker-archive", "oci-archive", "oci-dir"}

// Save writes images to path in format. Several images fit only in a
// docker-archive, as with Docker's `save`.
func (s *Service) Save(ctx context.Context, names []string, format, path string) error {
	if len(names) == 0 {
		return errdefs.InvalidArgument("save needs at least one image")
	}
	switch format {
	case "docker-archive", "oci-archive", "oci-dir":
	default:
		return errdefs.InvalidArgument("--format %q: use one of %s", format, strings.Join(SaveFormats, ", "))
	}
	if len(names) > 1 && format != "docker-archive" {
		return errdefs.InvalidArgument("--format %s holds one image; use docker-archive for several", format)
	}
	sys := s.systemContext("", nil)
	pc, err := policyContext(sys)
	if err != nil {
		return err
	}
	defer pc.Destroy()
	if format == "docker-archive" {
		w, err := archive.NewWriter(sys, path)
		if err != nil {
			return fmt.Errorf("creating %s: %w", path, err)
		}
		for _, n := range names {
			img, err := s.Lookup(n)
			if err != nil {
				w.Close()
				return err
			}
			src, err := s.storeRef(nil, img.ID)
			if err != nil {
				w.Close()
				return err
			}
			var tagged reference.NamedTagged
			if !isHexPrefix(strings.TrimPrefix(n, "sha256:")) || len(img.Names) > 0 {
				if named, err := s.savedName(img.Names, n); err == nil {
					tagged = named
				}
			}
			dst, err := w.NewReference(tagged)
			if err != nil {
				w.Close()
				return err
			}
			if _, err := copyImage(ctx, pc, dst, src, sys, nil); err != nil {
				w.Close()
				return fmt.Errorf("saving %s: %w", n, err)
			}
		}
		return w.Close()
	}
	img, err := s.Lookup(names[0])
	if err != nil {
		return err
	}
	src, err := s.storeRef(nil, img.ID)
	if err != nil {
		return err
	}
	transport := "oci-archive:"
	if format == "oci-dir" {
		transport = "oci:"
	}
	ref := transport + path
	if named, err := s.savedName(img.Names, names[0]); err == nil {
		ref += ":" + named.String()
	}
	dst, err := alltransports.ParseImageName(ref)
	if err != nil {
		return errdefs.InvalidArgument("output %q: %v", path, err)
	}
	if _, err := copyImage(ctx, pc, dst, src, sys, nil); err != nil {
		return fmt.Errorf("saving %s: %w", names[0], err)
	}
	return nil
}

// savedName picks the tag recorded in an archive: the name the user typed
// if the image carries it, else the image's first tag.
func (s *Service) savedName(names []string, typed string) (reference.NamedTagged, error) {
	if cands, err := s.localCandidates(typed); err == nil {
		for _, c := range cands {
			for _, n := range names {
				if n == c.String() {
					if t, ok := c.(reference.NamedTagged); ok {
						return t, nil
					}
				}
			}
		}
	}
	for _, n := range names {
		if named, err := reference.ParseNormalizedNamed(n); err == nil {
			if t, ok := named.(reference.NamedTagged); ok {
				return t, nil
			}
		}
	}
	return nil, errors.New("no tag")
}

// Load reads a docker-archive or oci-archive and stores every image in it
// under the names the archive records. It returns the names (or IDs for
// unnamed images) loaded.
func (s *Service) Load(ctx context.Context, path string) ([]string, error) {
	kind, ociNames, err := sniffArchive(path)
	if err != nil {
		return nil, err
	}
	sys := s.systemContext("", nil)
	var loaded []string
	switch kind {
	case "oci":
		var named reference.Named
		for _, n := range ociNames {
			if nn, err := reference.ParseNormalizedNamed(n); err == nil {
				named = reference.TagNameOnly(nn)
				break
			}
		}
		src, err := ociarchive.NewReference(path, "")
		if err != nil {
			return nil, archiveError(path, err)
		}
		id, err := s.copyToStore(ctx, src, named, sys, nil)
		if err != nil {
			return nil, archiveError(path, err)
		}
		if named != nil {
			loaded = append(loaded, named.String())
		} else {
			loaded = append(loaded, "sha256:"+id)
		}
	case "docker":
		r, err := archive.NewReader(sys, path)
		if err != nil {
			return nil, archiveError(path, err)
		}
		defer r.Close()
		lists, err := r.List()
		if err != nil {
			return nil, archiveError(path, err)
		}
		for _, refs := range lists {
			if len(refs) == 0 {
				continue
			}
			var id string
			for _, ref := range refs {
				named := ref.DockerReference()
				if named != nil {
					named = reference.TagNameOnly(named)
				}
				id, err = s.copyToStore(ctx, ref, named, sys, nil)
				if err != nil {
					return loaded, archiveError(path, err)
				}
				if named != nil {
					loaded = append(loaded, named.String())
				} else {
					loaded = append(loaded, "sha256:"+id)
				}
			}
		}
	}
	return loaded, nil
}

func archiveError(path string, err error) error {
	return fmt.Errorf("%w: loading %s: %v", errdefs.ErrInvalidArgument, path, err)
}

// sniffArchive tells a docker-archive from an oci-archive by its entries
// and returns the image names an OCI index records.
func sniffArchive(path string) (string, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, errdefs.InvalidArgument("%v", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	kind := ""
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, errdefs.InvalidArgument("%s is not a readable image archive: %v", path, err)
		}
		switch filepath.Clean(h.Name) {
		case "oci-layout":
			kind = "oci"
		case "manifest.json":
			if kind == "" {
				kind = "docker"
			}
		case "index.json":
			var idx struct {
				Manifests []struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"manifests"`
			}
			if json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&idx) == nil {
				for _, m := range idx.Manifests {
					if n := m.Annotations["io.containerd.image.name"]; n != "" {
						names = append(names, n)
					} else if n := m.Annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
						names = append(names, n)
					}
				}
			}
		}
	}
	if kind == "" {
		return "", nil, errdefs.InvalidArgument("%s is neither a docker-archive nor an oci-archive (no manifest.json or oci-layout)", path)
	}
	return kind, names, nil
}
