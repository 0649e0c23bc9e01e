package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
)

// Layer tars from archives, directories and tarballs are untrusted input.
// go.podman.io/storage extracts them in a chroot, so nothing can land
// outside the layer, but it does so silently: "../../x" becomes "x", and an
// entry written through a symlink that the same layer planted lands
// wherever the link points inside the layer. An image whose layer tries
// that is hostile or broken; cove refuses it (exit 125, naming the input)
// instead of storing something other than what the archive says.
//
// The check runs on the bytes the store itself consumes: checkedRef wraps
// the source so that every layer blob is parsed a second time, in step
// with the extraction, and a bad entry fails the read, which makes the
// library abort the layer. Registry pulls are not wrapped: the double
// decompression would cost them throughput, and storage's own containment
// is what protects the host there.

// CheckLayerEntry validates one tar header of a layer. symlinks holds the
// cleaned names of the symlinks seen so far in the same layer; the caller
// updates it (see layerChecker.entry).
func CheckLayerEntry(h *tar.Header, symlinks map[string]bool) error {
	name, err := layerPath(h.Name)
	if err != nil {
		return err
	}
	if through := symlinkParent(name, symlinks); through != "" {
		return fmt.Errorf("entry %q is written through the symbolic link %q of the same layer", h.Name, through)
	}
	if h.Typeflag == tar.TypeLink {
		target, err := layerPath(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link %q: target %w", h.Name, err)
		}
		if target == "." {
			return fmt.Errorf("hard link %q points at the layer root", h.Name)
		}
		if through := symlinkParent(target, symlinks); through != "" {
			return fmt.Errorf("hard link %q: target %q goes through the symbolic link %q", h.Name, h.Linkname, through)
		}
	}
	return nil
}

// layerPath cleans a tar entry name and refuses names that are absolute or
// climb out of the layer.
func layerPath(name string) (string, error) {
	if name == "" {
		return "", errors.New("entry with an empty name")
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q has a NUL byte in its name", name)
	}
	if strings.HasPrefix(name, "/") {
		// Docker strips the slash and extracts such entries inside the
		// layer; image tools do not write them, so cove treats them as the
		// escape attempt they look like (stricter than Docker, and only
		// for local archives: see above).
		return "", fmt.Errorf("entry %q has an absolute path", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("entry %q points outside the layer", name)
	}
	return clean, nil
}

// symlinkParent returns the first proper parent of name that is a symlink
// in the layer, or "".
func symlinkParent(name string, symlinks map[string]bool) string {
	if len(symlinks) == 0 {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && symlinks[name[:i]] {
			return name[:i]
		}
	}
	return ""
}

// layerChecker tracks one layer's entries.
type layerChecker struct {
	symlinks map[string]bool
}

func (c *layerChecker) entry(h *tar.Header) error {
	if err := CheckLayerEntry(h, c.symlinks); err != nil {
		return err
	}
	name, _ := layerPath(h.Name)
	if h.Typeflag == tar.TypeSymlink {
		if c.symlinks == nil {
			c.symlinks = map[string]bool{}
		}
		c.symlinks[name] = true
	} else if c.symlinks != nil {
		// A later entry of the same name replaces the link.
		delete(c.symlinks, name)
	}
	return nil
}

// CheckLayer reads a whole (possibly compressed) layer tar and validates
// every entry. It is what the streaming check does, for tests and fuzzing.
func CheckLayer(r io.Reader) error {
	dr, _, err := compression.AutoDecompress(r)
	if err != nil {
		return fmt.Errorf("decompressing: %w", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var c layerChecker
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not a valid tar: %w", err)
		}
		if err := c.entry(h); err != nil {
			return err
		}
	}
}

// badLayerError marks a layer the check refused, so callers can tell it from
// I/O errors.
type badLayerError struct {
	digest digest.Digest
	err    error
}

func (e *badLayerError) Error() string {
	return fmt.Sprintf("layer %s refused: %v", e.digest.Encoded()[:min(12, len(e.digest.Encoded()))], e.err)
}

func (e *badLayerError) Unwrap() error { return e.err }

// checkedReader passes a layer blob through unchanged while a goroutine
// parses a copy of it. A bad entry turns into a read error.
type checkedReader struct {
	src  io.ReadCloser
	pw   *io.PipeWriter
	done chan struct{}
	dg   digest.Digest
	once sync.Once
	err  error // the checker's verdict, valid after done
}

func newCheckedReader(src io.ReadCloser, dg digest.Digest, verdict *layerVerdict) *checkedReader {
	pr, pw := io.Pipe()
	c := &checkedReader{src: src, pw: pw, done: make(chan struct{}), dg: dg}
	go func() {
		defer close(c.done)
		err := CheckLayer(pr)
		if err != nil {
			c.err = &badLayerError{digest: dg, err: err}
			if verdict != nil {
				verdict.set(c.err)
			}
			pr.CloseWithError(c.err)
			return
		}
		// Trailing padding after the end-of-archive marker.
		io.Copy(io.Discard, pr)
	}()
	return c
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.src.Read(p)
	if n > 0 {
		if _, werr := c.pw.Write(p[:n]); werr != nil {
			<-c.done
			if c.err != nil {
				return 0, c.err
			}
			return 0, werr
		}
	}
	if err == io.EOF {
		c.pw.Close()
		<-c.done
		if c.err != nil {
			return n, c.err
		}
	}
	return n, err
}

func (c *checkedReader) Close() error {
	c.once.Do(func() { c.pw.CloseWithError(errors.New("layer stream closed")) })
	<-c.done
	return c.src.Close()
}

// checkedRef wraps a source reference so that its layers are checked.
type checkedRef struct {
	types.ImageReference
	verdict *layerVerdict
}

// layerVerdict keeps the first refusal: the library may report the failed
// read in its own words (the extraction runs in a child process), so the
// caller asks here what went wrong.
type layerVerdict struct {
	mu  sync.Mutex
	err error
}

func (v *layerVerdict) set(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
}

func (v *layerVerdict) get() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

func newCheckedRef(ref types.ImageReference) checkedRef {
	return checkedRef{ImageReference: ref, verdict: &layerVerdict{}}
}

func (r checkedRef) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	src, err := r.ImageReference.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return &checkedSource{ImageSource: src, layers: map[digest.Digest]bool{}, verdict: r.verdict}, nil
}

// checkedSource records the layer digests of every manifest it hands out
// and checks those blobs; the config and other blobs pass unchanged.
type checkedSource struct {
	types.ImageSource
	mu      sync.Mutex
	layers  map[digest.Digest]bool
	verdict *layerVerdict
}

func (s *checkedSource) GetManifest(ctx context.Context, instance *digest.Digest) ([]byte, string, error) {
	raw, mt, err := s.ImageSource.GetManifest(ctx, instance)
	if err != nil {
		return raw, mt, err
	}
	if mt == "" {
		mt = manifest.GuessMIMEType(raw)
	}
	if !manifest.MIMETypeIsMultiImage(mt) {
		m, err := manifest.FromBlob(raw, mt)
		if err != nil {
			return nil, "", err
		}
		s.mu.Lock()
		for _, l := range m.LayerInfos() {
			s.layers[l.Digest] = true
		}
		s.mu.Unlock()
	}
	return raw, mt, nil
}

func (s *checkedSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	rc, size, err := s.ImageSource.GetBlob(ctx, info, cache)
	if err != nil {
		return rc, size, err
	}
	s.mu.Lock()
	isLayer := s.layers[info.Digest]
	s.mu.Unlock()
	if !isLayer {
		return rc, size, nil
	}
	return newCheckedReader(rc, info.Digest, s.verdict), size, nil
}
