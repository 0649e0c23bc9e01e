package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
)

type tarEntry struct {
	name, link, body string
	typ              byte
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func openDir(t testing.TB, dir string) int {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// listTree returns every path under dir, relative, with "@" after
// symlinks.
func listTree(t testing.TB, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return nil
		}
		r, _ := filepath.Rel(dir, p)
		if fi.Mode()&os.ModeSymlink != 0 {
			r += "@"
		}
		out = append(out, r)
		return nil
	})
	sort.Strings(out)
	return out
}

// sandbox is a parent directory with the extraction target and a sentinel
// beside it; outside() reports whether anything but the target changed.
func sandbox(t testing.TB) (target string, outside func() []string) {
	parent := t.TempDir()
	target = filepath.Join(parent, "target")
	os.Mkdir(target, 0o755)
	os.WriteFile(filepath.Join(parent, "sentinel"), []byte("keep"), 0o644)
	return target, func() []string {
		var bad []string
		ents, _ := os.ReadDir(parent)
		for _, e := range ents {
			if e.Name() != "target" && e.Name() != "sentinel" {
				bad = append(bad, e.Name())
			}
		}
		if b, err := os.ReadFile(filepath.Join(parent, "sentinel")); err != nil || string(b) != "keep" {
			bad = append(bad, "sentinel changed")
		}
		return bad
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	cases := map[string][]tarEntry{
		"dotdot":   {{name: "../evil", typ: tar.TypeReg, body: "x"}},
		"absolute": {{name: "/evil", typ: tar.TypeReg, body: "x"}},
		"inner":    {{name: "a/../../evil", typ: tar.TypeReg, body: "x"}},
		"hardlink": {{name: "h", link: "../sentinel", typ: tar.TypeLink}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			target, outside := sandbox(t)
			err := extractTar(bytes.NewReader(makeTar(t, entries)), openDir(t, target), extractOptions{})
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("want an invalid-argument error, got %v", err)
			}
			if bad := outside(); len(bad) > 0 {
				t.Fatalf("wrote outside the target: %v", bad)
			}
		})
	}
}

func TestExtractSymlinksStayInside(t *testing.T) {
	target, outside := sandbox(t)
	parent := filepath.Dir(target)
	entries := []tarEntry{
		// A symlink out of the target, then a file through it: the
		// file must land inside (the link resolves as if target were /).
		{name: "up", link: "..", typ: tar.TypeSymlink},
		{name: "up/sentinel", typ: tar.TypeReg, body: "overwritten"},
		{name: "abs", link: parent, typ: tar.TypeSymlink},
		{name: "abs/escaped", typ: tar.TypeDir},
		// A file where a symlink already is: the link is replaced, not
		// written through.
		{name: "rel", link: "../sentinel", typ: tar.TypeSymlink},
		{name: "rel", typ: tar.TypeReg, body: "replaced"},
	}
	err := extractTar(bytes.NewReader(makeTar(t, entries)), openDir(t, target), extractOptions{})
	// "abs/escaped" has no parent inside the target: refused is fine.
	if err != nil && !strings.Contains(err.Error(), "abs/escaped") {
		t.Fatal(err)
	}
	if bad := outside(); len(bad) > 0 {
		t.Fatalf("wrote outside the target: %v", bad)
	}
	if b, err := os.ReadFile(filepath.Join(target, "sentinel")); err != nil || string(b) != "overwritten" {
		t.Fatalf("up/sentinel should land in target/sentinel: %q %v", b, err)
	}
}

func TestExtractReplacesAndMerges(t *testing.T) {
	target, _ := sandbox(t)
	os.MkdirAll(filepath.Join(target, "d"), 0o755)
	os.WriteFile(filepath.Join(target, "d", "old"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(target, "f"), []byte("old"), 0o644)
	entries := []tarEntry{
		{name: "d/", typ: tar.TypeDir},
		{name: "d/new", typ: tar.TypeReg, body: "new"},
		{name: "f", typ: tar.TypeReg, body: "new"},
		{name: "d/link", link: "d/new", typ: tar.TypeLink},
	}
	if err := extractTar(bytes.NewReader(makeTar(t, entries)), openDir(t, target), extractOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(listTree(t, target), " "), "d d/link d/new d/old f"; got != want {
		t.Fatalf("tree %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "f")); string(b) != "new" {
		t.Fatalf("f = %q", b)
	}
	// A directory never replaces a file, nor a file a directory.
	bad := makeTar(t, []tarEntry{{name: "f/", typ: tar.TypeDir}})
	if err := extractTar(bytes.NewReader(bad), openDir(t, target), extractOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("dir over file: %v", err)
	}
	bad = makeTar(t, []tarEntry{{name: "d", typ: tar.TypeReg}})
	if err := extractTar(bytes.NewReader(bad), openDir(t, target), extractOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("file over dir: %v", err)
	}
}

// TestCopyRules checks Docker's destination rules between two trees.
func TestCopyRules(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "dir", "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "sub", "f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(src, "file"), []byte("file"), 0o600)
	os.Symlink("file", filepath.Join(src, "link"))
	cases := []struct {
		name, src, dst string
		follow         bool
		pre            func(dst string)
		want           string
		wantErr        error
	}{
		{name: "file to new", src: "/file", dst: "/new", want: "new"},
		{name: "file into dir", src: "/file", dst: "/", want: "file"},
		{name: "file over file", src: "/file", dst: "/x", pre: func(d string) { os.WriteFile(filepath.Join(d, "x"), nil, 0o644) }, want: "x"},
		{name: "file to missing dir/", src: "/file", dst: "/nodir/", wantErr: errdefs.ErrNotFound},
		{name: "file to missing parent", src: "/file", dst: "/a/b", wantErr: errdefs.ErrNotFound},
		{name: "dir to new", src: "/dir", dst: "/copy", want: "copy copy/sub copy/sub/f"},
		{name: "dir into dir", src: "/dir", dst: "/", want: "dir dir/sub dir/sub/f"},
		{name: "dir contents", src: "/dir/.", dst: "/", want: "sub sub/f"},
		{name: "dir over file", src: "/dir", dst: "/x", pre: func(d string) { os.WriteFile(filepath.Join(d, "x"), nil, 0o644) }, wantErr: errdefs.ErrInvalidArgument},
		{name: "file as dir", src: "/file/", dst: "/", wantErr: errdefs.ErrInvalidArgument},
		{name: "missing", src: "/nothing", dst: "/", wantErr: errdefs.ErrNotFound},
		{name: "link copied", src: "/link", dst: "/", want: "link@"},
		{name: "link followed", src: "/link", dst: "/", follow: true, want: "link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := t.TempDir()
			if c.pre != nil {
				c.pre(dst)
			}
			plan, err := planCopy(copyEnd{root: openDir(t, src), path: c.src, name: c.src}, copyEnd{root: openDir(t, dst), path: c.dst, name: c.dst}, c.follow)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("want %v, got %v", c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer plan.close()
			var buf bytes.Buffer
			if err := plan.pack(&buf); err != nil {
				t.Fatal(err)
			}
			if err := extractTar(&buf, plan.target, extractOptions{Rename: plan.rename}); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(listTree(t, dst), " ")
			if c.pre != nil {
				got = strings.TrimSpace(got)
			}
			if got != c.want {
				t.Fatalf("tree %q, want %q", got, c.want)
			}
		})
	}
	// Modes survive.
	dst := t.TempDir()
	plan, err := planCopy(copyEnd{root: openDir(t, src), path: "/file", name: "file"}, copyEnd{root: openDir(t, dst), path: "/", name: "/"}, false)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	plan.pack(&buf)
	extractTar(&buf, plan.target, extractOptions{Rename: plan.rename})
	plan.close()
	if fi, err := os.Stat(filepath.Join(dst, "file")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
}

func TestSplitCopyArg(t *testing.T) {
	for in, want := range map[string][2]string{
		"c:/x":     {"c", "/x"},
		"/abs:x":   {"", "/abs:x"},
		"./rel:x":  {"", "./rel:x"},
		"plain":    {"", "plain"},
		"c:rel":    {"c", "rel"},
		":nothing": {"", ":nothing"},
	} {
		c, p := SplitCopyArg(in)
		if c != want[0] || p != want[1] {
			t.Errorf("%q: got %q %q, want %q", in, c, p, want)
		}
	}
}

// FuzzCheckEntryName: whatever a name is, an accepted one is relative and
// has no ".." component.
func FuzzCheckEntryName(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "a/../b", "./a", "a//b/", "..", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := checkEntryName(name)
		if err != nil {
			return
		}
		if strings.HasPrefix(got, "/") || got == ".." || strings.HasPrefix(got, "../") || strings.Contains(got, "/../") || strings.HasSuffix(got, "/..") {
			t.Fatalf("%q accepted as %q", name, got)
		}
	})
}

// FuzzExtractTar: no archive, however made, writes beside its target.
func FuzzExtractTar(f *testing.F) {
	f.Add(makeTar(f, []tarEntry{{name: "up", link: "..", typ: tar.TypeSymlink}, {name: "up/x", typ: tar.TypeReg, body: "x"}}))
	f.Add(makeTar(f, []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/h", link: "../sentinel", typ: tar.TypeLink}}))
	f.Add(makeTar(f, []tarEntry{{name: "l", link: "../sentinel", typ: tar.TypeSymlink}, {name: "l", typ: tar.TypeReg, body: "x"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		target, outside := sandbox(t)
		extractTar(bytes.NewReader(data), openDir(t, target), extractOptions{})
		if bad := outside(); len(bad) > 0 {
			t.Fatalf("wrote outside the target: %v", bad)
		}
	})
}

// TestExtractRandomArchivesStayInside builds archives from names, link
// targets and types chosen to combine into escapes (symlinks to "..", to
// "/", to the sandbox's parent, names through them, hard links, entries
// replacing each other) and checks that none writes beside its target.
// It complements FuzzExtractTar with structured inputs in plain go test.
func TestExtractRandomArchivesStayInside(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "a/b", "a/b/c", "b/c", "l", "l/x", "l/l", "a/l/x", "./a", "a//b", "sentinel", "l/sentinel", "b/../b"}
	types := []byte{tar.TypeReg, tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo}
	for i := 0; i < 300; i++ {
		target, outside := sandbox(t)
		parent := filepath.Dir(target)
		targets := []string{"..", "/", "../..", parent, parent + "/sentinel", "../sentinel", "a", "/a/../..", "l", "."}
		var entries []tarEntry
		for n := 1 + rng.IntN(8); n > 0; n-- {
			e := tarEntry{name: names[rng.IntN(len(names))], typ: types[rng.IntN(len(types))], body: "x"}
			switch e.typ {
			case tar.TypeSymlink:
				e.link = targets[rng.IntN(len(targets))]
			case tar.TypeLink:
				e.link = names[rng.IntN(len(names))]
			}
			entries = append(entries, e)
		}
		extractTar(bytes.NewReader(makeTar(t, entries)), openDir(t, target), extractOptions{Chown: rng.IntN(2) == 0})
		if bad := outside(); len(bad) > 0 {
			t.Fatalf("archive %d %+v wrote outside the target: %v", i, entries, bad)
		}
	}
	// Links to "/" resolved on the host would have written these.
	for _, n := range []string{"a", "b", "l", "x", "sentinel"} {
		if _, err := os.Lstat("/" + n); err == nil {
			t.Errorf("/%s exists (written through a link to / ?)", n)
		}
	}
}
