package image

import (
	"errors"
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"

	"github.com/cove-run/cove/internal/errdefs"
)

// Tag adds target as a name of the image source resolves to.
func (s *Service) Tag(source, target string) error {
	img, err := s.Lookup(source)
	if err != nil {
		return err
	}
	named, err := ParseName(target)
	if err != nil {
		return err
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidArgument("tag %q: a tag cannot contain a digest", target)
	}
	return s.store.AddNames(img.ID, []string{named.String()})
}

// RemoveResult is the outcome for one name given to rmi.
type RemoveResult struct {
	Input    string
	Untagged []string
	Deleted  []string
	Err      error
}

// Remove removes images: a name that is one of several of an image's names
// is only untagged; otherwise the image is deleted with its unshared
// layers. Each name gets its own result; failures do not stop the others.
//
// An image that containers use is refused unless force. With force, as in
// Docker, the image loses its names but stays, dangling, as long as its
// containers exist: rmi never removes containers or their data (podman's
// rmi -f removes the containers; cove follows Docker here).
func (s *Service) Remove(names []string, force bool) []RemoveResult {
	out := make([]RemoveResult, 0, len(names))
	// Writers of images (pull, load) must not see a layer they are about
	// to build on disappear under them.
	unlock, err := s.lockWriters()
	if err != nil {
		for _, n := range names {
			out = append(out, RemoveResult{Input: n, Err: err})
		}
		return out
	}
	defer unlock()
	unlockUsers, err := s.lockUsers(true)
	if err != nil {
		for _, n := range names {
			out = append(out, RemoveResult{Input: n, Err: err})
		}
		return out
	}
	defer unlockUsers()
	for _, n := range names {
		r := RemoveResult{Input: n}
		r.Untagged, r.Deleted, r.Err = s.removeOne(n, force)
		out = append(out, r)
	}
	return out
}

func (s *Service) removeOne(name string, force bool) (untagged, deleted []string, err error) {
	img, err := s.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	byName := s.hasName(img, name)
	if byName && len(img.Names) > 1 {
		// Removing one of several names only untags, as in Docker.
		full := s.matchingName(img, name)
		if err := s.store.RemoveNames(img.ID, []string{full}); err != nil {
			return nil, nil, err
		}
		return []string{full}, nil, nil
	}
	if !byName && len(img.Names) > 1 && !force {
		return nil, nil, fmt.Errorf("unable to delete %s (must be forced): image is referenced in multiple repositories%.0w", shortID(img.ID), errdefs.ErrInUse)
	}
	ctrs, err := s.containersUsing(img.ID)
	if err != nil {
		return nil, nil, err
	}
	if len(ctrs) > 0 {
		if !force {
			return nil, nil, fmt.Errorf("unable to remove image %s: image is in use by container %s: remove the container first, or use -f to remove the image's names only%.0w", name, shortID(ctrs[0]), errdefs.ErrInUse)
		}
		if len(img.Names) == 0 {
			return nil, nil, fmt.Errorf("unable to remove image %s: image is in use by container %s: remove the container first%.0w", name, shortID(ctrs[0]), errdefs.ErrInUse)
		}
		if err := s.store.RemoveNames(img.ID, img.Names); err != nil {
			return nil, nil, err
		}
		return img.Names, nil, nil
	}
	untagged = append(untagged, img.Names...)
	layers, err := s.store.DeleteImage(img.ID, true)
	if err != nil {
		return nil, nil, fmt.Errorf("removing image %s: %w", name, err)
	}
	deleted = append(deleted, "sha256:"+img.ID)
	for _, l := range layers {
		deleted = append(deleted, "sha256:"+l)
	}
	return untagged, deleted, nil
}

// matchingName returns the stored name that the user's name refers to.
func (s *Service) matchingName(img *cstorage.Image, name string) string {
	cands, _ := s.localCandidates(name)
	for _, c := range cands {
		for _, n := range img.Names {
			if n == c.String() {
				return n
			}
		}
	}
	return img.Names[0]
}

func (s *Service) containersUsing(id string) ([]string, error) {
	ctrs, err := s.store.Containers()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range ctrs {
		if c.ImageID == id {
			out = append(out, c.ID)
		}
	}
	if s.opts.MoreUsers != nil {
		out = append(out, s.opts.MoreUsers()[id]...)
	}
	return out, nil
}

// PruneReport lists what prune removed.
type PruneReport struct {
	Deleted        []string
	SpaceReclaimed int64
}

// Prune removes dangling images (all unused images with all), repeating
// until nothing more goes: removing an image can leave its parent dangling.
func (s *Service) Prune(all bool, f *Filter) (*PruneReport, error) {
	rep := &PruneReport{}
	unlock, err := s.lockWriters()
	if err != nil {
		return rep, err
	}
	defer unlock()
	unlockUsers, err := s.lockUsers(true)
	if err != nil {
		return rep, err
	}
	defer unlockUsers()
	for {
		sums, err := s.List(true, f, false)
		if err != nil {
			return rep, err
		}
		removed := 0
		for _, sum := range sums {
			if sum.Containers > 0 || (!all && !sum.Dangling) {
				continue
			}
			id := strings.TrimPrefix(sum.ID, "sha256:")
			if _, err := s.store.DeleteImage(id, true); err != nil {
				if errors.Is(err, cstorage.ErrImageUsedByContainer) {
					continue
				}
				return rep, fmt.Errorf("removing image %s: %w", shortID(id), err)
			}
			rep.Deleted = append(rep.Deleted, sum.ID)
			rep.SpaceReclaimed += sum.Size
			removed++
		}
		if removed == 0 {
			return rep, nil
		}
	}
}
