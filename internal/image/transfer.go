package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

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
		if isHexPrefix(strings.TrimPrefix(req.Source, "sha256:")) && !s.hasName(img, req.Source) {
			return invalidf("push %s: an image ID names no registry: give a destination, or tag the image first", req.Source)
		}
		dest = req.Source
	}
	var dst types.ImageReference
	registry := ""
	if t := transportOf(dest); t != nil && t.Name() != "docker" {
		dst, err = alltransports.ParseImageName(dest)
		if err != nil {
			return invalidCause(err, "destination %q: %v", dest, err)
		}
		// An archive without a name in the destination records the
		// image's own name, as save does.
		if within := strings.TrimPrefix(dest, t.Name()+":"); dst.DockerReference() == nil && !strings.Contains(within, ":") {
			if tagged, err := s.savedName(img.Names, req.Source); err == nil {
				switch t.Name() {
				case "docker-archive":
					dst, err = archive.NewReference(dst.StringWithinTransport(), tagged)
				case "oci-archive", "oci":
					dst, err = alltransports.ParseImageName(dest + ":" + tagged.String())
				}
				if err != nil {
					return invalidCause(err, "destination %q: %v", dest, err)
				}
			}
		}
	} else {
		d := strings.TrimPrefix(dest, "docker://")
		if err := checkReference(d); err != nil {
			return err
		}
		named, err := ParseName(d)
		if err != nil {
			return err
		}
		if _, ok := named.(reference.Digested); ok {
			return invalidf("push destination %q: push to a tag, not a digest", dest)
		}
		registry = reference.Domain(named)
		dst, err = docker.NewReference(named)
		if err != nil {
			return invalidCause(err, "destination %q: %v", dest, err)
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
		if errors.Is(err, fs.ErrNotExist) {
			return notFoundf(err, "pushing %s to %s: %v", req.Source, dest, err)
		}
		return fmt.Errorf("pushing %s to %s: %w", req.Source, dest, err)
	}
	return nil
}

// hasName reports whether typed is one of img's names (rather than its ID).
func (s *Service) hasName(img *cstorage.Image, typed string) bool {
	cands, err := s.localCandidates(typed)
	if err != nil {
		return false
	}
	for _, c := range cands {
		for _, n := range img.Names {
			if n == c.String() {
				return true
			}
		}
	}
	return false
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
		return s.saveDockerArchive(ctx, pc, sys, names, path)
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

// saveDockerArchive writes several images into one docker-archive. Every
// name is resolved first, so a missing one fails before anything is
// written. Each image is written once, with all the tags the user named
// (an image named by ID gets no tag, as in Docker).
func (s *Service) saveDockerArchive(ctx context.Context, pc *signature.PolicyContext, sys *types.SystemContext, names []string, path string) error {
	type entry struct {
		id   string
		tags []reference.NamedTagged
	}
	var order []*entry
	byID := map[string]*entry{}
	for _, n := range names {
		img, err := s.Lookup(n)
		if err != nil {
			return err
		}
		e := byID[img.ID]
		if e == nil {
			e = &entry{id: img.ID}
			byID[img.ID] = e
			order = append(order, e)
		}
		if !s.hasName(img, n) {
			continue
		}
		if tagged, err := s.savedName(img.Names, n); err == nil {
			dup := false
			for _, t := range e.tags {
				dup = dup || t.String() == tagged.String()
			}
			if !dup {
				e.tags = append(e.tags, tagged)
			}
		}
	}
	w, err := archive.NewWriter(sys, path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	for _, e := range order {
		src, err := s.storeRef(nil, e.id)
		if err != nil {
			w.Close()
			return err
		}
		var first reference.NamedTagged
		isys := *sys
		if len(e.tags) > 0 {
			first = e.tags[0]
			isys.DockerArchiveAdditionalTags = e.tags[1:]
		}
		dst, err := w.NewReference(first)
		if err != nil {
			w.Close()
			return err
		}
		if _, err := copyImage(ctx, pc, dst, src, &isys, nil); err != nil {
			w.Close()
			return fmt.Errorf("saving %s: %w", shortID(e.id), err)
		}
	}
	return w.Close()
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

// Load reads a docker-archive or oci-archive (possibly compressed) and
// stores every image in it under the names the archive records. It returns
// the names (or "sha256:ID" for unnamed images) loaded. Errors name input,
// what the user gave (the path, or "standard input" for a spooled copy).
func (s *Service) Load(ctx context.Context, path, input string) ([]string, error) {
	if input == "" {
		input = path
	}
	kind, entries, err := sniffArchive(path, input)
	if err != nil {
		return nil, err
	}
	sys := s.systemContext("", nil)
	var loaded []loadedImage
	switch kind {
	case "oci":
		loaded, err = s.loadOCIArchive(ctx, input, path, entries, sys, nil)
	case "docker":
		loaded, err = s.loadDockerArchive(ctx, input, path, sys, nil)
	}
	return describeLoaded(loaded), err
}

// loadOCIArchive stores every image an oci-archive's index lists, under
// the names the index records.
func (s *Service) loadOCIArchive(ctx context.Context, input, path string, entries []archiveEntry, sys *types.SystemContext, progress io.Writer) ([]loadedImage, error) {
	var loaded []loadedImage
	for i, e := range entries {
		var named reference.Named
		if e.name != "" {
			named = names2ref(e.name)
		}
		var src types.ImageReference
		var err error
		if len(entries) == 1 {
			src, err = ociarchive.NewReference(path, "")
		} else {
			src, err = alltransports.ParseImageName(fmt.Sprintf("oci-archive:%s:@%d", path, i))
		}
		if err != nil {
			return loaded, archiveError(input, err)
		}
		id, err := s.copyToStore(ctx, src, named, sys, progress)
		if err != nil {
			return loaded, archiveError(input, err)
		}
		l := loadedImage{id: id}
		if named != nil {
			l.names = []string{named.String()}
		}
		loaded = append(loaded, l)
	}
	return loaded, nil
}

type loadedImage struct {
	id    string
	names []string
}

func describeLoaded(loaded []loadedImage) []string {
	var out []string
	for _, l := range loaded {
		if len(l.names) == 0 {
			out = append(out, "sha256:"+l.id)
		}
		out = append(out, l.names...)
	}
	return out
}

// loadDockerArchive stores every image of a docker-archive: each image is
// copied once, under its first tag, and gets its other tags as names.
func (s *Service) loadDockerArchive(ctx context.Context, input, path string, sys *types.SystemContext, progress io.Writer) ([]loadedImage, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, sourceError(input, err)
	} else if st.IsDir() {
		return nil, invalidf("%s: %s is a directory, not an image archive", input, path)
	}
	r, err := archive.NewReader(sys, path)
	if err != nil {
		return nil, archiveError(input, err)
	}
	defer r.Close()
	lists, err := r.List()
	if err != nil {
		return nil, archiveError(input, err)
	}
	if len(lists) == 0 {
		return nil, invalidf("%s holds no image", path)
	}
	var loaded []loadedImage
	for _, refs := range lists {
		if len(refs) == 0 {
			continue
		}
		// List gives one reference per tag, or one by index for an
		// untagged image.
		src := refs[0]
		var named reference.Named
		if n := src.DockerReference(); n != nil {
			named = reference.TagNameOnly(n)
		}
		id, err := s.copyToStore(ctx, src, named, sys, progress)
		if err != nil {
			return loaded, archiveError(input, err)
		}
		l := loadedImage{id: id}
		for _, ref := range refs {
			if n := ref.DockerReference(); n != nil {
				l.names = append(l.names, reference.TagNameOnly(n).String())
			}
		}
		if len(l.names) > 1 {
			if err := s.store.AddNames(id, l.names[1:]); err != nil {
				return loaded, err
			}
		}
		loaded = append(loaded, l)
	}
	return loaded, nil
}

// archiveError names the archive and keeps the class: bad content is
// invalid input, a missing file is "no such".
func archiveError(path string, err error) error {
	var ce *classErr
	if errors.As(err, &ce) {
		return err
	}
	var bad *badLayerError
	if errors.As(err, &bad) {
		return invalidCause(err, "loading %s: %v", path, bad)
	}
	if errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "layer") {
		return notFoundf(err, "loading %s: %v", path, err)
	}
	return invalidCause(err, "loading %s: %v", path, err)
}

// archiveEntry is one image an OCI index lists.
type archiveEntry struct {
	ref  string // org.opencontainers.image.ref.name
	name string // the image name to store it under, or ""
}

// maxIndexJSON bounds how much of an index.json or manifest.json is read.
const maxIndexJSON = 16 << 20

// sniffArchive tells a docker-archive from an oci-archive by its entries
// (after decompressing it, if it is compressed) and, for OCI, returns the
// images its index lists. An archive with both manifest.json and an OCI
// layout (what Docker 25+ writes) is read as a docker-archive, as Docker
// reads it.
func sniffArchive(path, input string) (string, []archiveEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, notFoundf(err, "no such archive: %s", input)
		}
		return "", nil, invalidCause(err, "%s: %v", input, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return "", nil, invalidf("%s is a directory, not an image archive", input)
	}
	kind, entries, err := sniffArchiveStream(f)
	if err != nil {
		return "", nil, invalidCause(err, "%s: %v", input, err)
	}
	return kind, entries, nil
}

// sniffArchiveStream is sniffArchive on a stream (fuzzed on its own).
func sniffArchiveStream(r io.Reader) (string, []archiveEntry, error) {
	dr, _, err := compression.AutoDecompress(r)
	if err != nil {
		return "", nil, fmt.Errorf("not a readable image archive: %v", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var manifestJSON, ociLayout bool
	var entries []archiveEntry
	var indexErr error
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return "", nil, fmt.Errorf("not an image archive (not a tar file: %v)", err)
			}
			return "", nil, fmt.Errorf("truncated or corrupt archive: %v", err)
		}
		n++
		switch path.Clean(strings.TrimPrefix(h.Name, "./")) {
		case "oci-layout":
			ociLayout = true
		case "manifest.json":
			manifestJSON = true
		case "index.json":
			entries, indexErr = ociIndexNames(io.LimitReader(tr, maxIndexJSON), "")
		}
	}
	switch {
	case manifestJSON:
		// Docker 25+ writes both layouts: the OCI index comes along for
		// oci-archive: pulls of such an archive.
		if ociLayout && indexErr == nil {
			return "docker", entries, nil
		}
		return "docker", nil, nil
	case ociLayout:
		if indexErr != nil {
			return "", nil, fmt.Errorf("malformed OCI index.json: %v", indexErr)
		}
		if len(entries) == 0 {
			return "", nil, errors.New("the OCI archive's index lists no image")
		}
		return "oci", entries, nil
	}
	return "", nil, errors.New("not an image archive: it has neither a manifest.json (docker-archive) nor an oci-layout (oci-archive)")
}

// ociIndexNames reads an OCI index.json and returns its images, with the
// name each should be stored under: io.containerd.image.name (Docker 25+,
// containerd), else a ref.name that is a full image name (podman, cove
// save). When ref is not empty only the entries with that ref.name are
// returned.
func ociIndexNames(r io.Reader, ref string) ([]archiveEntry, error) {
	var idx struct {
		Manifests []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.NewDecoder(r).Decode(&idx); err != nil {
		return nil, err
	}
	var out []archiveEntry
	for _, m := range idx.Manifests {
		e := archiveEntry{ref: m.Annotations["org.opencontainers.image.ref.name"]}
		if ref != "" && e.ref != ref {
			continue
		}
		if n := m.Annotations["io.containerd.image.name"]; n != "" && names2ref(n) != nil {
			e.name = n
		} else if strings.ContainsAny(e.ref, "/:") && names2ref(e.ref) != nil {
			e.name = e.ref
		}
		out = append(out, e)
	}
	return out, nil
}

// entryNames returns the names of the entries matching ref (all if empty).
func entryNames(entries []archiveEntry, ref string) []string {
	var out []string
	for _, e := range entries {
		if ref == "" || e.ref == ref {
			out = append(out, e.name)
		}
	}
	return out
}
