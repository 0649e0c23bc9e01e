package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"

	"github.com/cove-run/cove/internal/errdefs"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; `go test` runs them as
// regression tests and `go test -fuzz=FuzzName` grows them.

// smallWhenDecompressed skips decompression bombs: a few bytes of bzip2
// can expand to gigabytes, which makes one fuzz execution take minutes
// without finding anything but the (known, and Docker-compatible) cost of
// reading a huge archive.
func smallWhenDecompressed(t *testing.T, data []byte) {
	dr, _, err := compression.AutoDecompress(bytes.NewReader(data))
	if err != nil {
		return
	}
	defer dr.Close()
	if n, _ := io.Copy(io.Discard, io.LimitReader(dr, 8<<20+1)); n > 8<<20 {
		t.Skip("decompresses to more than 8 MiB")
	}
}

// FuzzParseName: every input is either refused as invalid input, naming
// it, or normalised to a fully qualified name that parses back to itself;
// the candidates of an accepted name keep its tag or digest.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"busybox", "library/busybox:1.36", "127.0.0.1:5000/cove-test/busybox@sha256:" + strings.Repeat("ab", 32),
		"UPPER/Case", "a:b:c", "", "localhost/x", "[::1]:5000/a/b:c", "docker.io/library/alpine"} {
		f.Add(s)
	}
	svc := New(nil, Options{StateRoot: f.TempDir()})
	f.Fuzz(func(t *testing.T, s string) {
		named, err := ParseName(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseName(%q): error not classified as invalid argument: %v", s, err)
			}
			return
		}
		again, err := ParseName(named.String())
		if err != nil || again.String() != named.String() {
			t.Fatalf("ParseName(%q) = %s, which parses to %v, %v", s, named, again, err)
		}
		if reference.Domain(named) == "" {
			t.Fatalf("ParseName(%q) = %s has no registry", s, named)
		}
		cands, err := svc.candidates(s)
		if err != nil || len(cands) == 0 {
			t.Fatalf("candidates(%q) = %v, %v after ParseName accepted it", s, cands, err)
		}
		for _, c := range cands {
			if _, ok := named.(reference.Digested); ok {
				if _, ok := c.(reference.Digested); !ok {
					t.Fatalf("candidate %s of %q lost the digest", c, s)
				}
			}
			if tg, ok := named.(reference.Tagged); ok {
				if ct, ok := c.(reference.Tagged); !ok || ct.Tag() != tg.Tag() {
					t.Fatalf("candidate %s of %q lost the tag %s", c, s, tg.Tag())
				}
			}
		}
	})
}

// FuzzSniffArchive: archive detection never panics and a reported OCI
// archive always lists an image.
func FuzzSniffArchive(f *testing.F) {
	layer := layerTar(f, tar.Header{Name: "etc/hello", Typeflag: tar.TypeReg})
	f.Add(dockerArchive(f, "cove-test/x:1", layer))
	f.Add(ociArchive(f, map[string]string{"io.containerd.image.name": "docker.io/a/b:1"}))
	f.Add(layer)
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		smallWhenDecompressed(t, data)
		kind, entries, err := sniffArchiveStream(bytes.NewReader(data))
		if err != nil {
			return
		}
		switch kind {
		case "docker":
		case "oci":
			if len(entries) == 0 {
				t.Fatal("oci archive without entries accepted")
			}
		default:
			t.Fatalf("unknown kind %q", kind)
		}
	})
}

// FuzzCheckLayer: the layer check never panics, and what it accepts has no
// entry that leaves the layer.
func FuzzCheckLayer(f *testing.F) {
	f.Add(layerTar(f, tar.Header{Name: "a/b", Typeflag: tar.TypeReg}))
	f.Add(layerTar(f, tar.Header{Name: "../evil", Typeflag: tar.TypeReg}))
	f.Add(layerTar(f, tar.Header{Name: "l", Linkname: "/", Typeflag: tar.TypeSymlink}, tar.Header{Name: "l/evil", Typeflag: tar.TypeReg}))
	f.Add(layerTar(f, tar.Header{Name: "h", Linkname: "../../etc/passwd", Typeflag: tar.TypeLink}))
	f.Fuzz(func(t *testing.T, data []byte) {
		smallWhenDecompressed(t, data)
		if err := CheckLayer(bytes.NewReader(data)); err != nil {
			return
		}
		tr := tar.NewReader(bytes.NewReader(data))
		links := map[string]bool{}
		for {
			h, err := tr.Next()
			if err != nil {
				return // compressed input, or the end
			}
			name := path.Clean(h.Name)
			if strings.HasPrefix(h.Name, "/") || name == ".." || strings.HasPrefix(name, "../") {
				t.Fatalf("accepted escaping entry %q", h.Name)
			}
			for p := path.Dir(name); p != "." && p != "/"; p = path.Dir(p) {
				if links[p] {
					t.Fatalf("accepted entry %q through symlink %q", h.Name, p)
				}
			}
			if h.Typeflag == tar.TypeSymlink {
				links[name] = true
			} else {
				delete(links, name)
			}
		}
	})
}

// FuzzDockerArchive drives the docker-archive reader the way load does,
// up to the store: list the images, open each, read its manifest, config
// and (checked) layers. Nothing may panic or hang.
func FuzzDockerArchive(f *testing.F) {
	layer := layerTar(f, tar.Header{Name: "etc/hello", Typeflag: tar.TypeReg})
	f.Add(dockerArchive(f, "cove-test/x:1", layer))
	f.Add(dockerArchive(f, "cove-test/x:1", layerTar(f, tar.Header{Name: "../x", Typeflag: tar.TypeReg})))
	f.Add(dockerArchive(f, "cove-test/x:1", layer)[:1500])
	f.Fuzz(func(t *testing.T, data []byte) {
		smallWhenDecompressed(t, data)
		p := filepath.Join(t.TempDir(), "a.tar")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if kind, _, err := sniffArchive(p, ""); err != nil || kind != "docker" {
			return
		}
		sys := &types.SystemContext{BigFilesTemporaryDir: t.TempDir()}
		r, err := archive.NewReader(sys, p)
		if err != nil {
			return
		}
		defer r.Close()
		lists, err := r.List()
		if err != nil {
			return
		}
		ctx := context.Background()
		for _, refs := range lists {
			for _, ref := range refs {
				readImage(ctx, t, newCheckedRef(ref), sys)
			}
		}
	})
}

func readImage(ctx context.Context, t *testing.T, ref types.ImageReference, sys *types.SystemContext) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return
	}
	defer src.Close()
	raw, _, err := src.GetManifest(ctx, nil)
	if err != nil {
		return
	}
	_ = raw
	cs := src.(*checkedSource)
	cs.mu.Lock()
	var digests []types.BlobInfo
	for d := range cs.layers {
		digests = append(digests, types.BlobInfo{Digest: d, Size: -1})
	}
	cs.mu.Unlock()
	for _, bi := range digests {
		rc, _, err := src.GetBlob(ctx, bi, nil)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}

// FuzzApplyChanges: --change never panics; refusals are invalid input,
// and what it accepts is well formed.
func FuzzApplyChanges(f *testing.F) {
	for _, s := range []string{`CMD ["sh"]`, `ENTRYPOINT /x`, `ENV A=1 B="c d"`, `ENV A 1`, `EXPOSE 80 53/udp 1-3`,
		`LABEL a=b`, `USER 1000:1000`, `WORKDIR rel`, `VOLUME ["/a","/b"]`, `VOLUME /a /b`, `STOPSIGNAL 9`, `FROB`, `EXPOSE 65536`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, change string) {
		var c imgspecv1.ImageConfig
		err := ApplyChanges(&c, []string{change})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("%q: error not invalid argument: %v", change, err)
			}
			return
		}
		for p := range c.ExposedPorts {
			if _, err := exposedPorts(p); err != nil {
				t.Fatalf("%q: accepted bad port %q", change, p)
			}
		}
		for v := range c.Volumes {
			if !strings.HasPrefix(v, "/") {
				t.Fatalf("%q: accepted relative volume %q", change, v)
			}
		}
		if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
			t.Fatalf("%q: relative workdir %q", change, c.WorkingDir)
		}
	})
}
