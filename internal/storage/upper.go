package storage

import (
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/directory"
)

// Change is one entry of a layer's changes (Kind A, C or D, and a path).
type Change = archive.Change

// UpperChanges lists what an overlay upper directory changes in its lower
// directories (top first): storage's overlay driver's own listing of a
// layer's changes (whiteouts are deletions, opaque directories hide what
// is below), for the engine's cove-managed layers, which storage does not
// know.
func UpperChanges(lower []string, upper string) ([]Change, error) {
	return archive.OverlayChanges(lower, upper)
}

// DirSize is the size of a directory's files as storage counts a layer's
// (hard links once).
func DirSize(dir string) (int64, error) {
	return directory.Size(dir)
}
