package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
	"golang.org/x/term"
)

// copyToStore copies src into the store under name (which may be nil: the
// image is then stored without a name, by ID only).
func (s *Service) copyToStore(ctx context.Context, src types.ImageReference, named reference.Named, sys *types.SystemContext, progress io.Writer) (string, error) {
	tmpName := false
	if named == nil {
		// The storage destination needs a name or an ID, and the ID is
		// only known once the config is read: use a unique temporary name
		// and drop it after the copy.
		n, err := reference.ParseNormalizedNamed(fmt.Sprintf("%s%x:latest", tmpNamePrefix, randomSuffix()))
		if err != nil {
			return "", err
		}
		named, tmpName = n, true
	}
	dst, err := s.storeRef(named, "")
	if err != nil {
		return "", err
	}
	drop := ""
	if tmpName {
		drop = named.String()
	}
	return s.copyInto(ctx, src, dst, sys, progress, drop)
}

// tmpNamePrefix starts the temporary names of copies into the store; a
// writer killed before dropping its name leaves one, which the next writer
// removes under the lock.
const tmpNamePrefix = "localhost/cove-tmp-"

// copyInto copies src to dst, a reference into the store, and returns the
// stored image's ID. Sources other than registries have their layers
// checked on the way in (see layercheck.go). dropName, if set, is removed
// from the image once it is stored, before the lock is released.
func (s *Service) copyInto(ctx context.Context, src, dst types.ImageReference, sys *types.SystemContext, progress io.Writer, dropName string) (string, error) {
	pc, err := policyContext(sys)
	if err != nil {
		return "", err
	}
	defer pc.Destroy()
	var checked *checkedRef
	if src.Transport().Name() != "docker" {
		c := newCheckedRef(src)
		checked, src = &c, c
	}
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
		if checked != nil {
			if bad := checked.verdict.get(); bad != nil {
				return "", bad
			}
		}
		return "", err
	}
	id, err := s.imageFromRef(dst)
	if err != nil {
		return "", err
	}
	if dropName != "" {
		if err := s.store.RemoveNames(id, []string{dropName}); err != nil {
			return "", err
		}
	}
	return id, nil
}

func copyImage(ctx context.Context, pc *signature.PolicyContext, dst, src types.ImageReference, sys *types.SystemContext, progress io.Writer) ([]byte, error) {
	opts := &copy.Options{
		SourceCtx:          sys,
		DestinationCtx:     sys,
		ImageListSelection: copy.CopySystemImage,
	}
	stop := withProgress(opts, progress)
	defer stop()
	return copy.Image(ctx, pc, dst, src, opts)
}

// withProgress sets up progress output on w. On a terminal the library
// draws a bar per blob; elsewhere (logs, CI, pipes) cove prints one line
// per blob when it is done or skipped, since the library would print only
// "Copying blob" before anything happened, even for blobs it then skips.
func withProgress(opts *copy.Options, w io.Writer) (stop func()) {
	if w == nil {
		opts.ReportWriter = io.Discard
		return func() {}
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// A terminal that reports no width (some CI ptys) gets no bars
		// from the library at all: use the line output there.
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			opts.ReportWriter = w
			return func() {}
		}
	}
	opts.ReportWriter = io.Discard
	ch := make(chan types.ProgressProperties, 16)
	opts.Progress = ch
	// Only "new", "done" and "skipped" are wanted; a long interval keeps
	// the library from sending read events.
	opts.ProgressInterval = time.Hour
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case p := <-ch:
				printProgress(w, p)
			case <-quit:
				for {
					select {
					case p := <-ch:
						printProgress(w, p)
					default:
						return
					}
				}
			}
		}
	}()
	// The channel is never closed: a straggling sender must not panic.
	return func() { close(quit); wg.Wait() }
}

func printProgress(w io.Writer, p types.ProgressProperties) {
	kind := "blob"
	if mt := p.Artifact.MediaType; strings.Contains(mt, "config") || strings.Contains(mt, "container.image.v1") {
		kind = "config"
	}
	switch p.Event {
	case types.ProgressEventDone:
		size := ""
		if p.Offset > 0 && kind == "blob" {
			size = " (" + units.HumanSizeWithPrecision(float64(p.Offset), 3) + ")"
		}
		fmt.Fprintf(w, "Copying %s %s done%s\n", kind, p.Artifact.Digest, size)
	case types.ProgressEventSkipped:
		fmt.Fprintf(w, "Copying %s %s skipped: already exists\n", kind, p.Artifact.Digest)
	}
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
