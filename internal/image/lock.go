package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cove-run/cove/pkg/flock"
)

// lockWriters takes cove's exclusive image-writer lock in the state root.
// flock is released by the kernel when the process dies, so a writer killed
// with SIGKILL never leaves the lock held.
func (s *Service) lockWriters() (func(), error) {
	dir := filepath.Join(s.opts.StateRoot, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	release, err := flock.Exclusive(filepath.Join(dir, "image-writers.lock"))
	if err != nil {
		return nil, fmt.Errorf("locking the image store: %w", err)
	}
	// Layers left by a writer that was killed before it made them part
	// of an image are unreachable: nothing else can be writing now.
	s.removeOrphansSince(nil)
	s.dropTmpNames()
	return release, nil
}

// Image removal and containers whose layer storage does not know
// (Options.MoreUsers) meet at a lock of their own, usersLock: storage
// checks its own containers and deletes an image under its own locks, but
// a record of cove's is written outside them. A remover holds the lock
// exclusively from its check of the users to the deletion; a creator,
// once its record is written, holds it shared while it checks that the
// image still exists. Either the remover sees the record, or the creator
// sees the image gone. Creators do not wait for each other, nor for
// pulls.
func (s *Service) lockUsers(exclusive bool) (func(), error) {
	dir := filepath.Join(s.opts.StateRoot, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	take := flock.Shared
	if exclusive {
		take = flock.Exclusive
	}
	release, err := take(filepath.Join(dir, "image-users.lock"))
	if err != nil {
		return nil, fmt.Errorf("locking the image store: %w", err)
	}
	return release, nil
}

// StillThere reports whether the image with this ID still exists, for a
// user outside storage that recorded itself (see lockUsers): nil means it
// exists and no removal that missed the record can delete it now.
func (s *Service) StillThere(id string) error {
	release, err := s.lockUsers(false)
	if err != nil {
		return err
	}
	defer release()
	_, err = s.store.Image(id)
	return err
}

// dropTmpNames removes the temporary names (see copyToStore) that a killed
// writer left behind. Only a writer holding the lock uses one.
func (s *Service) dropTmpNames() {
	imgs, err := s.store.Images()
	if err != nil {
		return
	}
	for _, img := range imgs {
		for _, n := range img.Names {
			if strings.HasPrefix(n, tmpNamePrefix) {
				s.store.RemoveNames(img.ID, []string{n})
			}
		}
	}
}

// layerSet returns the IDs of all layers.
func (s *Service) layerSet() (map[string]bool, error) {
	layers, err := s.store.Layers()
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(layers))
	for _, l := range layers {
		set[l.ID] = true
	}
	return set, nil
}

// removeOrphansSince deletes layers that no image or container reaches and
// that are not in before (nil: consider every layer). Children go before
// their parents.
func (s *Service) removeOrphansSince(before map[string]bool) {
	layers, err := s.store.Layers()
	if err != nil {
		return
	}
	parent := map[string]string{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	used := map[string]bool{}
	mark := func(id string) {
		for id != "" && !used[id] {
			used[id] = true
			id = parent[id]
		}
	}
	imgs, err := s.store.Images()
	if err != nil {
		return
	}
	for _, img := range imgs {
		mark(img.TopLayer)
		for _, m := range img.MappedTopLayers {
			mark(m)
		}
	}
	ctrs, err := s.store.Containers()
	if err != nil {
		return
	}
	for _, c := range ctrs {
		mark(c.LayerID)
	}
	hasChild := map[string]int{}
	for _, l := range layers {
		if l.Parent != "" {
			hasChild[l.Parent]++
		}
	}
	// Repeatedly delete unused leaves.
	for {
		removed := false
		for _, l := range layers {
			if used[l.ID] || (before != nil && before[l.ID]) || hasChild[l.ID] > 0 || parent[l.ID] == "\x00" {
				continue
			}
			// Only image layers (an applied diff has a digest) are ours to
			// collect: a container's fresh read-write layer has none, and
			// run creates it without this lock. The global sweep also
			// spares young layers, in case a writer is between steps.
			if l.UncompressedDigest == "" || (before == nil && time.Since(l.Created) < orphanGrace()) {
				continue
			}
			if err := s.store.DeleteLayer(l.ID); err != nil {
				continue
			}
			parent[l.ID] = "\x00"
			if l.Parent != "" {
				hasChild[l.Parent]--
			}
			removed = true
		}
		if !removed {
			return
		}
	}
}

// orphanGrace is how old an unreferenced image layer must be before the
// global sweep takes it. COVE_ORPHAN_GRACE (a Go duration) overrides the
// minute for tests, which cannot wait that long; it is read only here, at
// lock time, not at startup.
func orphanGrace() time.Duration {
	if v := os.Getenv("COVE_ORPHAN_GRACE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d
		}
	}
	return time.Minute
}
