package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/oci/layout"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/cove-run/cove/pkg/procstat"
)

// CommitRequest describes `cove commit`.
type CommitRequest struct {
	// ImageID is the container's image; LayerID its read-write layer in
	// storage.
	ImageID, LayerID string
	// UpperDir, for a container whose layer storage does not know (the
	// engine's cove-managed layers), is its overlay upper directory over
	// the image's layer directories LowerDirs (top first); LayerID is
	// then empty.
	UpperDir  string
	LowerDirs []string
	// Config is the container's configuration (the image's with the
	// container's own settings), the new image's before Changes.
	Config imgspecv1.ImageConfig
	// Ref names the new image; empty leaves it unnamed.
	Ref             string
	Changes         []string
	Message, Author string
	// CreatedBy is the history entry's command.
	CreatedBy string
	// Omit lists files (absolute paths) left out of the new layer when
	// they are empty regular files: the targets the runtime created for
	// its own bind mounts (/etc/hosts and the like), which are not the
	// container's work.
	Omit []string
}

// Commit makes a new image of the container's image plus the container's
// layer. The new layer is taken from storage as a tar (storage's own diff
// of the layer, whiteouts included) and offered to the store, with the
// image's existing layers, as an OCI layout in a temporary directory: the
// existing layers are listed by their uncompressed digests, which the
// store finds among its own layers and reuses without reading a blob, so
// only the new layer is written.
func (s *Service) Commit(ctx context.Context, req CommitRequest) (string, error) {
	named, err := optionalName(req.Ref)
	if err != nil {
		return "", err
	}
	cfg0 := req.Config
	if err = ApplyChanges(&cfg0, req.Changes); err != nil {
		return "", err
	}
	img, err := s.store.Image(req.ImageID)
	if err != nil {
		return "", fmt.Errorf("the container's image %s: %w", shortID(req.ImageID), err)
	}
	base, err := s.Config(img)
	if err != nil {
		return "", err
	}
	removeStaleCommitDirs(s.store.GraphRoot())
	dir, err := os.MkdirTemp(s.store.GraphRoot(), "commit-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return "", err
	}
	layerDigest, layerSize, err := s.writeLayerDiff(&req, blobs)
	if err != nil {
		return "", err
	}

	now := time.Now().UTC()
	cfg := *base
	cfg.Created = &now
	cfg.Author = req.Author
	cfg.Config = cfg0
	cfg.RootFS = imgspecv1.RootFS{Type: "layers"}
	var layers []imgspecv1.Descriptor
	for _, l := range s.layerChain(img) {
		if l.UncompressedDigest == "" {
			return "", fmt.Errorf("image %s: layer %s has no recorded digest", shortID(img.ID), shortID(l.ID))
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.UncompressedDigest)
		layers = append(layers, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageLayer, Digest: l.UncompressedDigest, Size: l.UncompressedSize})
	}
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layerDigest)
	layers = append(layers, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageLayer, Digest: layerDigest, Size: layerSize})
	cfg.History = append(append([]imgspecv1.History{}, base.History...), imgspecv1.History{
		Created: &now, CreatedBy: req.CreatedBy, Author: req.Author, Comment: req.Message,
	})
	cfgDesc, err := writeJSONBlob(blobs, imgspecv1.MediaTypeImageConfig, cfg)
	if err != nil {
		return "", err
	}
	manDesc, err := writeJSONBlob(blobs, imgspecv1.MediaTypeImageManifest, imgspecv1.Manifest{
		Versioned: imgspecs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageManifest,
		Config: cfgDesc, Layers: layers,
	})
	if err != nil {
		return "", err
	}
	index, _ := json.Marshal(imgspecv1.Index{Versioned: imgspecs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{manDesc}})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600); err != nil {
		return "", err
	}
	ref, err := layout.NewReference(dir, "")
	if err != nil {
		return "", err
	}
	return s.copyToStore(ctx, ref, named, s.systemContext("", nil), nil)
}

// writeLayerDiff stores the container layer's changes as an uncompressed
// tar blob and returns its digest and size.
func (s *Service) writeLayerDiff(req *CommitRequest, blobs string) (digest.Digest, int64, error) {
	omit := req.Omit
	comp := archive.Uncompressed
	var rc io.ReadCloser
	var err error
	if req.UpperDir != "" {
		// What storage's overlay driver does for a layer of its own:
		// the upper directory as a tar, its whiteouts (0:0 character
		// devices) and opaque directories (the overlay xattr) turned
		// into the .wh. entries of image layers, the lower directories
		// telling which opaque directories hide something.
		rc, err = archive.TarWithOptions(req.UpperDir, &archive.TarOptions{
			Compression: comp, WhiteoutFormat: archive.OverlayWhiteoutFormat, WhiteoutData: req.LowerDirs,
		})
	} else {
		rc, err = s.store.Diff("", req.LayerID, &cstorage.DiffOptions{Compression: &comp})
	}
	if err != nil {
		return "", 0, fmt.Errorf("reading the container's changes: %w", err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(blobs, "layer-")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	err = copyTarOmitting(cw, rc, omit)
	n := cw.n
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, tar.ErrWriteTooLong) {
		err = fmt.Errorf("a file grew while it was read (commit with --pause, the default, stops the container meanwhile): %w", err)
	}
	if err != nil {
		return "", 0, fmt.Errorf("reading the container's changes: %w", err)
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if err := os.Rename(tmp.Name(), filepath.Join(blobs, d.Encoded())); err != nil {
		return "", 0, err
	}
	return d, n, nil
}

func writeJSONBlob(blobs, mediaType string, v any) (imgspecv1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return imgspecv1.Descriptor{}, err
	}
	d := digest.FromBytes(b)
	if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), b, 0o600); err != nil {
		return imgspecv1.Descriptor{}, err
	}
	return imgspecv1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, nil
}

// optionalName parses the name of a new image; "" leaves it unnamed.
func optionalName(ref string) (reference.Named, error) {
	if ref == "" {
		return nil, nil
	}
	return ParseName(ref)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// copyTarOmitting copies a tar stream, leaving out the empty regular files
// named in omit.
func copyTarOmitting(w io.Writer, r io.Reader, omit []string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 && slices.Contains(omit, "/"+strings.TrimPrefix(path.Clean(hdr.Name), "/")) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// removeStaleCommitDirs removes the temporary directories of commits whose
// process is gone (killed before it could clean up); the PID is in the
// name, and every cove shares the host's PID namespace.
func removeStaleCommitDirs(root string) {
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.IsDir() && procstat.NamedOwnerGone(e.Name(), "commit") {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}
