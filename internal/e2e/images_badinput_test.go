//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadBadArchives: truncated, corrupt, not-an-image and empty archives
// each fail with exit 125 naming the input, and the store is exactly as
// before: same images, same layers.
func TestLoadBadArchives(t *testing.T) {
	h := newHarness(t)
	h.imgLoad("busybox")
	good, err := os.ReadFile(Fixture(t, "multi", "docker"))
	if err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(rnd)
	notImage := h.imgRootfsTar("rootfs.tar", map[string]string{"etc/hello": "hi", "README": "not an image"})
	var gzGarbage bytes.Buffer
	gzGarbage.Write([]byte{0x1f, 0x8b, 0x08, 0x00})
	gzGarbage.Write(rnd[:4096])
	cases := map[string]string{
		"truncated.tar":        h.WriteFile("truncated.tar", good[:len(good)/2]),
		"truncated-header.tar": h.WriteFile("truncated-header.tar", good[:700]),
		"random.tar":           h.WriteFile("random.tar", rnd),
		"empty.tar":            h.WriteFile("empty.tar", nil),
		"rootfs.tar":           notImage,
		"garbage.tar.gz":       h.WriteFile("garbage.tar.gz", gzGarbage.Bytes()),
		"bad-manifest.tar": h.WriteFile("bad-manifest.tar", imgTarOf(t, map[string]string{
			"manifest.json": `[{"Config":"missing.json","RepoTags":["x/y:1"],"Layers":["nope/layer.tar"]}]`})),
		"bad-json.tar": h.WriteFile("bad-json.tar", imgTarOf(t, map[string]string{"manifest.json": `{not json`})),
		"bad-diffid.tar": func() string {
			// A layer whose content does not match the config's diff_id.
			p := h.imgDockerArchive("bad-diffid.tar", "bad/diffid:1", imgLayer(t, imgEntry{Name: "a", Type: tar.TypeReg, Data: "one"}))
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte("one"), []byte("two"), 1)
			os.WriteFile(p, b, 0o644)
			return p
		}(),
		"a-directory": filepath.Join(h.Dir, "work"),
	}
	before := h.imgState()
	for name, p := range cases {
		for _, how := range []string{"load", "pull"} {
			args := []string{"load", "-i", p}
			if how == "pull" {
				args = []string{"pull", "docker-archive:" + p}
			}
			r := h.Run(125, args...)
			if !strings.Contains(r.Stderr, p) {
				t.Errorf("%s %s: error should name the archive: %q", how, name, r.Stderr)
			}
			if strings.Count(r.Stderr, "Error:") != 1 {
				t.Errorf("%s %s: want one error line: %q", how, name, r.Stderr)
			}
			if strings.Contains(r.Stdout, "Loaded") {
				t.Errorf("%s %s: stdout claims a load: %q", how, name, r.Stdout)
			}
		}
		// From stdin, the input is named by what the user gave: stdin.
		data, _ := os.ReadFile(p)
		if fi, _ := os.Stat(p); fi != nil && !fi.IsDir() {
			r := h.RunIn(data, 125, "load")
			if !strings.Contains(r.Stderr, "standard input") {
				t.Errorf("load < %s: error should name standard input: %q", name, r.Stderr)
			}
		}
	}
	h.imgAssertState(before, "bad archives")
	if tmp, _ := filepath.Glob(filepath.Join(h.Dir, "data", "cove", "tmp", "*")); len(tmp) != 0 {
		t.Errorf("spooled input left behind: %v", tmp)
	}
}

func imgTarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var es []imgEntry
	for n, d := range files {
		es = append(es, imgEntry{Name: n, Type: tar.TypeReg, Data: d})
	}
	return imgLayer(t, es...)
}

// TestLoadEscapingLayers: layers that try to leave the layer are refused
// (exit 125, naming the archive), nothing of them stays in the store, and
// no file appears outside it.
func TestLoadEscapingLayers(t *testing.T) {
	h := newHarness(t)
	h.imgLoad("busybox")
	// A unique name per run, so that a leftover from an earlier run or
	// another test cannot pass for (or hide) an escape.
	evil := "cove-evil-" + filepath.Base(h.Dir)
	reg := func(name string) imgEntry { return imgEntry{Name: name, Type: tar.TypeReg, Data: "pwned"} }
	cases := map[string][]imgEntry{
		"dotdot":       {reg("../../../../../../../../tmp/" + evil)},
		"dotdot-deep":  {{Name: "a/", Type: tar.TypeDir}, reg("a/../../../../../../../../../tmp/" + evil)},
		"absolute":     {reg("/tmp/" + evil)},
		"symlink-root": {{Name: "link", Link: "/", Type: tar.TypeSymlink}, reg("link/tmp/" + evil)},
		"symlink-up":   {{Name: "link", Link: "../../../../../../../../tmp", Type: tar.TypeSymlink}, reg("link/" + evil)},
		"symlink-dir":  {{Name: "d/", Type: tar.TypeDir}, {Name: "d/l", Link: "/tmp", Type: tar.TypeSymlink}, reg("d/l/" + evil)},
		"hardlink-up":  {{Name: evil, Link: "../../../../../../../../etc/passwd", Type: tar.TypeLink}},
		"hardlink-abs": {{Name: evil, Link: "/etc/passwd", Type: tar.TypeLink}},
		"hardlink-via-symlink": {{Name: "l", Link: "/etc", Type: tar.TypeSymlink},
			{Name: evil, Link: "l/passwd", Type: tar.TypeLink}},
	}
	// The same construction with harmless entries loads: the archives are
	// well formed, so a refusal below is about the escape.
	ok := h.imgDockerArchive("ok.tar", "evil/ok:1", imgLayer(t,
		imgEntry{Name: "link", Link: "/", Type: tar.TypeSymlink}, reg("tmp/"+evil), imgEntry{Name: "h", Link: "tmp/" + evil, Type: tar.TypeLink}))
	h.Run(0, "load", "-i", ok)
	before := h.imgState()
	for name, es := range cases {
		// The bad layer sits on top of a good one, so that refusing it
		// must also remove the good layer the load had already stored.
		p := h.imgDockerArchive(name+".tar", "evil/"+name+":1",
			imgLayer(t, imgEntry{Name: "base-" + name, Type: tar.TypeReg, Data: name}), imgLayer(t, es...))
		r := h.Run(125, "load", "-i", p)
		if !strings.Contains(r.Stderr, p) || !strings.Contains(r.Stderr, "refused") {
			t.Errorf("%s: error should name the archive and say the layer was refused: %q", name, r.Stderr)
		}
		r = h.Run(125, "pull", "docker-archive:"+p)
		if !strings.Contains(r.Stderr, p) {
			t.Errorf("pull %s: %q", name, r.Stderr)
		}
		// import takes a bare layer: the same check applies.
		lp := h.WriteFile(name+".layer.tar", imgLayer(t, es...))
		r = h.Run(125, "import", lp, "evil/import-"+name)
		if !strings.Contains(r.Stderr, lp) {
			t.Errorf("import %s: %q", name, r.Stderr)
		}
	}
	h.imgAssertState(before, "escaping archives")
	imgAssertNoFile(t, "/tmp/"+evil, "/"+evil, filepath.Join(os.TempDir(), evil), filepath.Join(h.Home, evil), filepath.Join(h.Dir, evil))
	// Anywhere in the test's own tree (the store included) only the good
	// image's copy may exist.
	for _, p := range imgFindFile(h.Dir, evil) {
		if !strings.Contains(p, filepath.Join("cove", "storage")) {
			t.Errorf("escaped file at %s", p)
		}
	}
	if got := imgFindFile(filepath.Join(h.Dir, "work"), evil); len(got) != 0 {
		t.Errorf("escaped into the work dir: %v", got)
	}
}
