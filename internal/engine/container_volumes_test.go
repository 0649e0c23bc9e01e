package engine

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// chownTestTree makes root/{d/{a,e/b},f} and a host directory outside
// root holding a file; all owned by the test's own IDs.
func chownTestTree(t *testing.T) (root, outside string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chown to another ID needs root")
	}
	base := t.TempDir()
	root, outside = filepath.Join(base, "bind"), filepath.Join(base, "host")
	for _, d := range []string{filepath.Join(root, "d", "e"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(root, "d", "a"), filepath.Join(root, "d", "e", "b"), filepath.Join(root, "f"), filepath.Join(outside, "secret")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func lowner(t *testing.T, p string) int {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

func assertOwners(t *testing.T, want int, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if got := lowner(t, p); got != want {
			t.Errorf("%s: owner %d, want %d", p, got, want)
		}
	}
}

// TestChownTreeSkipsSymlinkedDir: a directory of the bind that is a
// symlink to a host directory is chowned as a link, never walked.
func TestChownTreeSkipsSymlinkedDir(t *testing.T) {
	root, outside := chownTestTree(t)
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := chownTree(root, 4242, 4343); err != nil {
		t.Fatalf("chownTree: %v", err)
	}
	assertOwners(t, 4242, root, filepath.Join(root, "d"), filepath.Join(root, "d", "a"),
		filepath.Join(root, "d", "e"), filepath.Join(root, "d", "e", "b"), filepath.Join(root, "f"), filepath.Join(root, "link"))
	assertOwners(t, 0, outside, filepath.Join(outside, "secret"))
}

// TestChownTreeDirSwappedForSymlink: another container renames a
// directory away and puts a symlink to a host directory in its place
// after the walk listed it (the reviewer's race, made deterministic by
// the hook). The host directory must keep its owner.
func TestChownTreeDirSwappedForSymlink(t *testing.T) {
	root, outside := chownTestTree(t)
	swapped := false
	testHookChownEntry = func(dir int, name string) {
		if name != "d" {
			return
		}
		if err := unix.Renameat(dir, "d", dir, ".dold"); err != nil {
			t.Error(err)
		}
		if err := unix.Symlinkat(outside, dir, "d"); err != nil {
			t.Error(err)
		}
		swapped = true
	}
	defer func() { testHookChownEntry = nil }()
	if err := chownTree(root, 4242, 4343); err != nil {
		t.Fatalf("chownTree: %v", err)
	}
	if !swapped {
		t.Fatal("the hook did not run")
	}
	assertOwners(t, 0, outside, filepath.Join(outside, "secret"))
	assertOwners(t, 4242, root, filepath.Join(root, "d"), filepath.Join(root, "f"))
}

// TestChownTreeFile: -v FILE:DST:U chowns the one file.
func TestChownTreeFile(t *testing.T) {
	root, _ := chownTestTree(t)
	f := filepath.Join(root, "f")
	if err := chownTree(f, 4242, 4343); err != nil {
		t.Fatalf("chownTree: %v", err)
	}
	assertOwners(t, 4242, f)
	assertOwners(t, 0, root)
}
