package image

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bigFilesDir is where the library writes its big temporary files (a
// layer being pulled, loaded or pushed, often hundreds of MB): a directory
// of this command's own under StateRoot/tmp, rather than the library's
// default /var/tmp. A command killed with SIGKILL cannot remove its files,
// and in /var/tmp nothing ever did (a full e2e run, which kills a pull
// half-way, left 250 MB there each time until the disk filled). Here the
// next pull, load or push removes them: each command holds a flock on its
// directory for its whole life, so a directory whose lock can be taken
// belongs to a command that has exited. "" (the library's default) when
// the directory cannot be made.
func (s *Service) bigFilesDir() string {
	if s.bigFiles != nil {
		return *s.bigFiles
	}
	dir := ""
	s.bigFiles = &dir
	if s.opts.StateRoot == "" {
		return ""
	}
	root := filepath.Join(s.opts.StateRoot, "tmp")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return ""
	}
	removeUnlockedBigFiles(root)
	// Made under a hidden name and renamed once locked, so that a
	// concurrent command's removeUnlockedBigFiles never takes the lock of
	// a directory whose owner has yet to take it.
	tmp, err := os.MkdirTemp(root, ".new-")
	if err != nil {
		return ""
	}
	fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(tmp)
		return ""
	}
	// Never released: the kernel drops the lock when the command exits.
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return ""
	}
	final := filepath.Join(root, strings.TrimPrefix(filepath.Base(tmp), ".new-"))
	if err := os.Rename(tmp, final); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return ""
	}
	dir = final
	return dir
}

// removeUnlockedBigFiles removes the directories of commands that have
// exited: those whose lock can be taken. A hidden one is a command's that
// was killed between making and naming it (it takes microseconds), once
// it is a minute old.
func removeUnlockedBigFiles(root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		path := filepath.Join(root, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.RemoveAll(path)
			}
			continue
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(path)
		}
		unix.Close(fd)
	}
}
