// Command testimages builds the container images that cove's end-to-end
// tests use, from the host's static busybox, without Docker, podman or any
// network access other than the local test registries.
//
// Usage:
//
//	go run ./hack/testimages -out DIR [-registry [USER:PASS@]HOST:PORT]... [-big | -big-only]
//
// For every image NAME it writes, into DIR:
//
//	NAME.oci/        an OCI image layout directory (reference "latest")
//	NAME.oci.tar     the same layout as an oci-archive
//	NAME.docker.tar  a docker-archive ("docker save" format), tagged cove-test/NAME:latest
//
// and pushes it as REGISTRY/cove-test/NAME:latest to every -registry given
// (plain HTTP, Docker Registry HTTP API v2). The busybox image is also pushed
// as :v2s2 (Docker schema 2 media types) and :index (an OCI image index with
// one linux/<arch> entry), so that the tests can exercise both manifest
// formats and platform resolution.
//
// Images:
//
//	busybox  one layer: /bin/busybox, a symlink per applet, /etc/passwd, /etc/group
//	multi    busybox + a user "app" (1000:1000) + /app and an entrypoint script,
//	         with every config field cove has to honour set
//	many     busybox + a layer of 5,000 small files in nested directories
//	big      (-big only) busybox + 5 layers of 50 MB incompressible data;
//	         pushed to the first registry only, never archived
//
// Everything is deterministic: fixed timestamps, uid/gid 0 unless stated,
// entries sorted by name, so two runs on the same busybox produce the same
// digests. All written files are world-readable.
//
// The program deliberately depends only on the standard library, image-spec
// and go-digest: it is a test fixture generator, and it must keep working
// whatever happens to the container libraries cove itself uses.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// epoch is the fixed timestamp of every file and of every image config.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	repoPrefix  = "cove-test/"

	// Docker schema 2 media types, for the :v2s2 tag.
	dockerManifestType = "application/vnd.docker.distribution.manifest.v2+json"
	dockerConfigType   = "application/vnd.docker.container.image.v1+json"
	dockerLayerType    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

func main() {
	var (
		out        = flag.String("out", "", "output directory for the archives (required)")
		big        = flag.Bool("big", false, "also build and push the ~250 MB 'big' image (registry only)")
		bigOnly    = flag.Bool("big-only", false, "build and push only the 'big' image")
		busyboxBin = flag.String("busybox", "", "path of a static busybox (default: busybox from $PATH)")
		registries multiFlag
	)
	flag.Var(&registries, "registry", "push to this registry, `[USER:PASS@]HOST:PORT` (plain HTTP); repeatable")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	// Everything we write must be readable by the unprivileged test users.
	setUmask()
	if err := run(*out, *busyboxBin, registries, !*bigOnly, *big || *bigOnly); err != nil {
		fmt.Fprintln(os.Stderr, "testimages:", err)
		os.Exit(1)
	}
}

// setUmask makes every file and directory we create world-readable.
func setUmask() { syscall.Umask(0o022) }

// hasInterpreter reports whether the ELF file at p asks for a dynamic loader.
func hasInterpreter(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func run(out, busyboxBin string, registries []string, withSmall, withBig bool) error {
	ctx := context.Background()
	start := time.Now()

	bb, err := loadBusybox(busyboxBin)
	if err != nil {
		return err
	}
	var regs []*registry
	for _, r := range registries {
		reg, err := parseRegistry(r)
		if err != nil {
			return err
		}
		if err := reg.ping(ctx); err != nil {
			return err
		}
		regs = append(regs, reg)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}

	base := busyboxLayer(bb)
	images := []imageSpec{busyboxImage(base), multiImage(base), manyImage(base)}
	if !withSmall {
		images = nil
	}
	for _, spec := range images {
		t := time.Now()
		dir := filepath.Join(out, spec.name+".oci")
		img, err := buildImage(dir, spec)
		if err != nil {
			return fmt.Errorf("%s: %w", spec.name, err)
		}
		if err := writeOCIArchive(dir, filepath.Join(out, spec.name+".oci.tar")); err != nil {
			return fmt.Errorf("%s: oci-archive: %w", spec.name, err)
		}
		if err := writeDockerArchive(img, filepath.Join(out, spec.name+".docker.tar")); err != nil {
			return fmt.Errorf("%s: docker-archive: %w", spec.name, err)
		}
		for _, reg := range regs {
			if err := reg.pushImage(ctx, img, spec.name == "busybox"); err != nil {
				return fmt.Errorf("%s: push to %s: %w", spec.name, reg.host, err)
			}
		}
		fmt.Printf("%-8s %d layers  manifest %s  config %s  (%s)\n", spec.name, len(img.layers),
			img.manifestDesc.Digest, img.configDesc.Digest, time.Since(t).Round(time.Millisecond))
	}

	if withBig {
		if len(regs) == 0 {
			return errors.New("-big needs a -registry: the big image is only pushed")
		}
		t := time.Now()
		tmp, err := os.MkdirTemp("", "cove-big-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		img, err := buildImage(tmp, bigImage(base))
		if err != nil {
			return fmt.Errorf("big: %w", err)
		}
		if err := regs[0].pushImage(ctx, img, false); err != nil {
			return fmt.Errorf("big: push to %s: %w", regs[0].host, err)
		}
		fmt.Printf("%-8s %d layers  manifest %s  (%s)\n", "big", len(img.layers), img.manifestDesc.Digest,
			time.Since(t).Round(time.Millisecond))
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// ---------------------------------------------------------------------------
// Layer contents

// entry is one file system object of a layer.
type entry struct {
	hdr  tar.Header
	data func() io.Reader // nil for anything but regular files
	size int64
}

func dirEntry(name string, mode int64, uid, gid int) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimSuffix(name, "/") + "/", Mode: mode, Uid: uid, Gid: gid}}
}

func fileEntry(name string, mode int64, content []byte) entry {
	return ownedFileEntry(name, mode, 0, 0, content)
}

func ownedFileEntry(name string, mode int64, uid, gid int, content []byte) entry {
	return entry{
		hdr:  tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: gid},
		data: func() io.Reader { return bytes.NewReader(content) },
		size: int64(len(content)),
	}
}

func symlinkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

// layerSpec is the content of one layer plus the history line describing it.
type layerSpec struct {
	createdBy string
	entries   []entry
	// level is the gzip level (the big image's random data does not compress,
	// so it uses the fastest level).
	level int
}

type busybox struct {
	binary   []byte
	applets  []string
	version  string
	hostPath string
}

func loadBusybox(p string) (*busybox, error) {
	if p == "" {
		var err error
		if p, err = exec.LookPath("busybox"); err != nil {
			return nil, errors.New("busybox not found in $PATH (install busybox-static)")
		}
	}
	bin, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	// The image has no libc, so the binary must be static: an ELF file
	// without a PT_INTERP program header.
	if dyn, err := hasInterpreter(p); err != nil {
		return nil, err
	} else if dyn {
		return nil, fmt.Errorf("%s is dynamically linked; install busybox-static", p)
	}
	list, err := exec.Command(p, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", p, err)
	}
	seen := map[string]bool{}
	var applets []string
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") || seen[a] {
			continue
		}
		seen[a] = true
		applets = append(applets, a)
	}
	if len(applets) < 50 {
		return nil, fmt.Errorf("%s --list printed only %d applets", p, len(applets))
	}
	help, _ := exec.Command(p, "--help").Output()
	version, _, _ := strings.Cut(string(help), "\n")
	return &busybox{binary: bin, applets: applets, version: version, hostPath: p}, nil
}

func busyboxLayer(bb *busybox) layerSpec {
	e := []entry{
		dirEntry("bin", 0o755, 0, 0),
		dirEntry("dev", 0o755, 0, 0),
		dirEntry("etc", 0o755, 0, 0),
		dirEntry("home", 0o755, 0, 0),
		dirEntry("proc", 0o555, 0, 0),
		dirEntry("root", 0o700, 0, 0),
		dirEntry("sys", 0o555, 0, 0),
		dirEntry("tmp", 0o1777, 0, 0),
		dirEntry("var", 0o755, 0, 0),
		fileEntry("bin/busybox", 0o755, bb.binary),
		fileEntry("etc/passwd", 0o644, []byte(basePasswd)),
		fileEntry("etc/group", 0o644, []byte(baseGroup)),
	}
	for _, a := range bb.applets {
		e = append(e, symlinkEntry("bin/"+a, "busybox"))
	}
	return layerSpec{
		createdBy: fmt.Sprintf("cove hack/testimages: ADD busybox (%s) with %d applet links in /bin", bb.version, len(bb.applets)),
		entries:   e,
		level:     gzip.DefaultCompression,
	}
}

const basePasswd = "root:x:0:0:root:/root:/bin/sh\n" +
	"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"

const baseGroup = "root:x:0:\n" +
	"nobody:x:65534:\n"

// ---------------------------------------------------------------------------
// Images

type imageSpec struct {
	name    string
	layers  []layerSpec
	config  v1.ImageConfig
	history []v1.History // must contain exactly one non-empty entry per layer, in order
}

func busyboxImage(base layerSpec) imageSpec {
	return imageSpec{
		name:   "busybox",
		layers: []layerSpec{base},
		config: v1.ImageConfig{
			Env: []string{defaultPath},
			Cmd: []string{"sh"},
		},
		history: []v1.History{
			{CreatedBy: base.createdBy},
			{CreatedBy: `cove hack/testimages: CMD ["sh"]`, EmptyLayer: true},
		},
	}
}

func multiImage(base layerSpec) imageSpec {
	user := layerSpec{
		createdBy: "cove hack/testimages: RUN adduser -D -u 1000 app",
		entries: []entry{
			dirEntry("etc", 0o755, 0, 0),
			fileEntry("etc/passwd", 0o644, []byte(basePasswd+"app:x:1000:1000:app:/home/app:/bin/sh\n")),
			fileEntry("etc/group", 0o644, []byte(baseGroup+"app:x:1000:\n")),
			dirEntry("home", 0o755, 0, 0),
			dirEntry("home/app", 0o755, 1000, 1000),
		},
		level: gzip.DefaultCompression,
	}
	app := layerSpec{
		createdBy: "cove hack/testimages: COPY --chown=app:app hello.txt /app/ && COPY entry.sh /usr/local/bin/",
		entries: []entry{
			dirEntry("app", 0o755, 1000, 1000),
			ownedFileEntry("app/hello.txt", 0o644, 1000, 1000, []byte("hello from the multi image\n")),
			dirEntry("usr", 0o755, 0, 0),
			dirEntry("usr/local", 0o755, 0, 0),
			dirEntry("usr/local/bin", 0o755, 0, 0),
			fileEntry("usr/local/bin/entry.sh", 0o755, []byte("#!/bin/sh\necho \"entry: $*\"\nexec \"$@\"\n")),
		},
		level: gzip.DefaultCompression,
	}
	cfg := v1.ImageConfig{
		User:         "app",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
		Env:          []string{defaultPath, "COVE_TEST=multi"},
		Entrypoint:   []string{"/usr/local/bin/entry.sh"},
		Cmd:          []string{"echo", "hello from multi"},
		Volumes:      map[string]struct{}{"/data": {}},
		WorkingDir:   "/app",
		Labels:       map[string]string{"org.cove.test": "multi", "maintainer": "cove"},
		StopSignal:   "SIGUSR1",
	}
	empty := func(s string) v1.History {
		return v1.History{CreatedBy: "cove hack/testimages: " + s, EmptyLayer: true}
	}
	return imageSpec{
		name:   "multi",
		layers: []layerSpec{base, user, app},
		config: cfg,
		history: []v1.History{
			{CreatedBy: base.createdBy},
			empty(`LABEL maintainer=cove org.cove.test=multi`),
			empty(`ENV COVE_TEST=multi`),
			{CreatedBy: user.createdBy},
			{CreatedBy: app.createdBy, Comment: "two files"},
			empty(`WORKDIR /app`),
			empty(`USER app`),
			empty(`EXPOSE 8080/tcp 53/udp`),
			empty(`VOLUME ["/data"]`),
			empty(`STOPSIGNAL SIGUSR1`),
			empty(`ENTRYPOINT ["/usr/local/bin/entry.sh"]`),
			empty(`CMD ["echo","hello from multi"]`),
		},
	}
}

// manyImage adds 50 x 10 directories with 10 files each: 5,000 files.
func manyImage(base layerSpec) imageSpec {
	e := []entry{dirEntry("many", 0o755, 0, 0)}
	n := 0
	for a := 0; a < 50; a++ {
		da := fmt.Sprintf("many/d%02d", a)
		e = append(e, dirEntry(da, 0o755, 0, 0))
		for b := 0; b < 10; b++ {
			db := fmt.Sprintf("%s/s%d", da, b)
			e = append(e, dirEntry(db, 0o755, 0, 0))
			for c := 0; c < 10; c++ {
				e = append(e, fileEntry(fmt.Sprintf("%s/f%d.txt", db, c), 0o644, []byte(fmt.Sprintf("file %d\n", n))))
				n++
			}
		}
	}
	files := layerSpec{
		createdBy: fmt.Sprintf("cove hack/testimages: ADD %d small files in /many", n),
		entries:   e,
		level:     gzip.DefaultCompression,
	}
	return imageSpec{
		name:   "many",
		layers: []layerSpec{base, files},
		config: v1.ImageConfig{Env: []string{defaultPath}, Cmd: []string{"sh"}},
		history: []v1.History{
			{CreatedBy: base.createdBy},
			{CreatedBy: files.createdBy},
			{CreatedBy: `cove hack/testimages: CMD ["sh"]`, EmptyLayer: true},
		},
	}
}

// bigImage adds 5 layers of 50 MB of seeded pseudo-random bytes each.
func bigImage(base layerSpec) imageSpec {
	const layers, size = 5, 50 << 20
	spec := imageSpec{
		name:    "big",
		layers:  []layerSpec{base},
		config:  v1.ImageConfig{Env: []string{defaultPath}, Cmd: []string{"sh"}},
		history: []v1.History{{CreatedBy: base.createdBy}},
	}
	for i := 0; i < layers; i++ {
		seed := uint64(i + 1)
		name := fmt.Sprintf("big/blob%d.bin", i)
		l := layerSpec{
			createdBy: fmt.Sprintf("cove hack/testimages: ADD %d MiB of random data (seed %d) as /%s", size>>20, seed, name),
			entries: []entry{
				dirEntry("big", 0o755, 0, 0),
				{
					hdr:  tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644},
					data: func() io.Reader { return io.LimitReader(newRandReader(seed), size) },
					size: size,
				},
			},
			level: gzip.BestSpeed,
		}
		spec.layers = append(spec.layers, l)
		spec.history = append(spec.history, v1.History{CreatedBy: l.createdBy})
	}
	return spec
}

// randReader is a deterministic stream of pseudo-random bytes.
type randReader struct{ r *rand.ChaCha8 }

func newRandReader(seed uint64) io.Reader {
	var s [32]byte
	for i := range s {
		s[i] = byte(seed >> (8 * (i % 8)))
	}
	return &randReader{rand.NewChaCha8(s)}
}

func (r *randReader) Read(p []byte) (int, error) { return r.r.Read(p) }

// ---------------------------------------------------------------------------
// Building: OCI layout on disk

// builtLayer describes a layer blob in the layout.
type builtLayer struct {
	desc   v1.Descriptor // the compressed blob
	diffID digest.Digest // digest of the uncompressed tar
}

type builtImage struct {
	name         string
	dir          string // OCI layout directory holding every blob
	layers       []builtLayer
	configDesc   v1.Descriptor
	configJSON   []byte
	manifestDesc v1.Descriptor
	manifestJSON []byte
}

func (b *builtImage) blobPath(d digest.Digest) string {
	return filepath.Join(b.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func buildImage(dir string, spec imageSpec) (*builtImage, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, err
	}
	img := &builtImage{name: spec.name, dir: dir}

	for _, l := range spec.layers {
		bl, err := writeLayer(img, l)
		if err != nil {
			return nil, err
		}
		img.layers = append(img.layers, bl)
	}

	// Sanity check: one non-empty history entry per layer.
	nonEmpty := 0
	history := make([]v1.History, len(spec.history))
	for i, h := range spec.history {
		created := epoch
		h.Created = &created
		history[i] = h
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(img.layers) {
		return nil, fmt.Errorf("internal error: %d non-empty history entries for %d layers", nonEmpty, len(img.layers))
	}

	created := epoch
	config := v1.Image{
		Created:  &created,
		Author:   "cove hack/testimages",
		Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   spec.config,
		RootFS:   v1.RootFS{Type: "layers"},
		History:  history,
	}
	for _, l := range img.layers {
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, l.diffID)
	}
	var err error
	if img.configJSON, err = json.Marshal(config); err != nil {
		return nil, err
	}
	if img.configDesc, err = writeBlob(img, v1.MediaTypeImageConfig, img.configJSON); err != nil {
		return nil, err
	}

	manifest := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
		Config:    img.configDesc,
	}
	for _, l := range img.layers {
		manifest.Layers = append(manifest.Layers, l.desc)
	}
	if img.manifestJSON, err = json.Marshal(manifest); err != nil {
		return nil, err
	}
	if img.manifestDesc, err = writeBlob(img, v1.MediaTypeImageManifest, img.manifestJSON); err != nil {
		return nil, err
	}

	// The index names the image the way "docker save" (Docker 25+) does, so
	// that both "oci:DIR:latest" and loaders that read
	// io.containerd.image.name find it.
	ref := img.manifestDesc
	ref.Annotations = map[string]string{
		"io.containerd.image.name": "docker.io/" + repoPrefix + spec.name + ":latest",
		v1.AnnotationRefName:       "latest",
	}
	index := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{ref},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), indexJSON, 0o644); err != nil {
		return nil, err
	}
	layout, _ := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
	if err := os.WriteFile(filepath.Join(dir, v1.ImageLayoutFile), layout, 0o644); err != nil {
		return nil, err
	}
	return img, nil
}

func writeBlob(img *builtImage, mediaType string, data []byte) (v1.Descriptor, error) {
	d := digest.FromBytes(data)
	if err := os.WriteFile(img.blobPath(d), data, 0o644); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}, nil
}

// writeLayer streams the layer's tar through gzip into the blob directory,
// computing the diff ID and the blob digest on the way.
func writeLayer(img *builtImage, l layerSpec) (builtLayer, error) {
	tmp, err := os.CreateTemp(filepath.Join(img.dir, "blobs", "sha256"), ".layer-")
	if err != nil {
		return builtLayer{}, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	defer tmp.Close()

	blobDigester := digest.Canonical.Digester()
	counter := &countWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, blobDigester.Hash(), counter), 1<<20)
	gz, err := gzip.NewWriterLevel(bw, l.level)
	if err != nil {
		return builtLayer{}, err
	}
	diffDigester := digest.Canonical.Digester()
	if err := writeTar(io.MultiWriter(gz, diffDigester.Hash()), l.entries); err != nil {
		return builtLayer{}, err
	}
	if err := gz.Close(); err != nil {
		return builtLayer{}, err
	}
	if err := bw.Flush(); err != nil {
		return builtLayer{}, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return builtLayer{}, err
	}
	if err := tmp.Close(); err != nil {
		return builtLayer{}, err
	}
	d := blobDigester.Digest()
	if err := os.Rename(tmp.Name(), img.blobPath(d)); err != nil {
		return builtLayer{}, err
	}
	return builtLayer{
		desc:   v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: counter.n},
		diffID: diffDigester.Digest(),
	}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// writeTar writes entries sorted by name with fixed timestamps.
func writeTar(w io.Writer, entries []entry) error {
	sorted := append([]entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return strings.TrimSuffix(sorted[i].hdr.Name, "/") < strings.TrimSuffix(sorted[j].hdr.Name, "/")
	})
	tw := tar.NewWriter(w)
	for i := range sorted {
		e := sorted[i]
		h := e.hdr
		h.ModTime = epoch
		h.Format = tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = e.size
		}
		if err := tw.WriteHeader(&h); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if e.data != nil {
			n, err := io.Copy(tw, e.data())
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			if n != e.size {
				return fmt.Errorf("%s: wrote %d bytes, want %d", h.Name, n, e.size)
			}
		}
	}
	return tw.Close()
}

// ---------------------------------------------------------------------------
// Archives

// archiveFile is one member of an outer archive (oci-archive, docker-archive).
type archiveFile struct {
	name string
	open func() (io.ReadCloser, int64, error)
}

func bytesFile(name string, data []byte) archiveFile {
	return archiveFile{name: name, open: func() (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}}
}

func diskFile(name, p string) archiveFile {
	return archiveFile{name: name, open: func() (io.ReadCloser, int64, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	}}
}

// writeArchive writes an uncompressed tar of files (and their parent
// directories) to dst atomically, deterministic like the layers.
func writeArchive(dst string, files []archiveFile) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	bw := bufio.NewWriterSize(tmp, 1<<20)
	tw := tar.NewWriter(bw)
	dirs := map[string]bool{}
	for _, f := range files {
		for _, d := range parents(f.name) {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		rc, size, err := f.open()
		if err != nil {
			return err
		}
		err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatPAX})
		if err == nil {
			_, err = io.Copy(tw, rc)
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// parents returns the parent directories of a slash path, outermost first.
func parents(name string) []string {
	var out []string
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

// writeOCIArchive tars the OCI layout directory.
func writeOCIArchive(dir, dst string) error {
	var files []archiveFile
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, diskFile(filepath.ToSlash(rel), p))
		return nil
	})
	if err != nil {
		return err
	}
	return writeArchive(dst, files)
}

// writeDockerArchive writes the classic "docker save" format: manifest.json,
// the config as <hex>.json and each layer uncompressed as <diffid-hex>/layer.tar.
func writeDockerArchive(img *builtImage, dst string) error {
	type manifestItem struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	cfgName := img.configDesc.Digest.Encoded() + ".json"
	item := manifestItem{Config: cfgName, RepoTags: []string{repoPrefix + img.name + ":latest"}}
	files := []archiveFile{bytesFile(cfgName, img.configJSON)}

	tmpDir, err := os.MkdirTemp("", "cove-docker-archive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	for _, l := range img.layers {
		name := l.diffID.Encoded() + "/layer.tar"
		item.Layers = append(item.Layers, name)
		plain := filepath.Join(tmpDir, l.diffID.Encoded()+".tar")
		if err := gunzipFile(img.blobPath(l.desc.Digest), plain, l.diffID); err != nil {
			return err
		}
		files = append(files, diskFile(name, plain))
	}
	manifest, err := json.Marshal([]manifestItem{item})
	if err != nil {
		return err
	}
	files = append(files, bytesFile("manifest.json", manifest))
	return writeArchive(dst, files)
}

func gunzipFile(src, dst string, want digest.Digest) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(in, 1<<20))
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	dg := want.Algorithm().Digester()
	if _, err := io.Copy(io.MultiWriter(out, dg.Hash()), gz); err != nil {
		return err
	}
	if got := dg.Digest(); got != want {
		return fmt.Errorf("layer %s: uncompressed digest %s, want %s", src, got, want)
	}
	return out.Close()
}

// ---------------------------------------------------------------------------
// Registry push (Docker Registry HTTP API v2, plain HTTP)

type registry struct {
	host       string
	user, pass string
	client     *http.Client
}

func parseRegistry(s string) (*registry, error) {
	r := &registry{host: s, client: &http.Client{Timeout: 5 * time.Minute}}
	if creds, host, ok := strings.Cut(s, "@"); ok {
		r.host = host
		if r.user, r.pass, ok = strings.Cut(creds, ":"); !ok {
			return nil, fmt.Errorf("registry %q: credentials must be USER:PASS", s)
		}
	}
	if r.host == "" || strings.Contains(r.host, "/") {
		return nil, fmt.Errorf("registry %q: want [USER:PASS@]HOST:PORT", s)
	}
	return r, nil
}

func (r *registry) do(ctx context.Context, method, u string, body io.Reader, size int64, header map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if r.user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.user+":"+r.pass)))
	}
	return r.client.Do(req)
}

func (r *registry) url(p string) string { return "http://" + r.host + "/v2/" + p }

func (r *registry) ping(ctx context.Context) error {
	resp, err := r.do(ctx, http.MethodGet, r.url(""), nil, 0, nil)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("registry %s: GET /v2/: %s", r.host, resp.Status)
	}
	return nil
}

func httpError(resp *http.Response, what string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("%s: %s: %s", what, resp.Status, strings.TrimSpace(string(b)))
}

// pushBlob uploads one blob monolithically unless the registry has it.
func (r *registry) pushBlob(ctx context.Context, repo string, desc v1.Descriptor, open func() (io.ReadCloser, error)) error {
	resp, err := r.do(ctx, http.MethodHead, r.url(repo+"/blobs/"+desc.Digest.String()), nil, 0, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}

	resp, err = r.do(ctx, http.MethodPost, r.url(repo+"/blobs/uploads/"), nil, 0, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		defer resp.Body.Close()
		return httpError(resp, "start upload")
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("start upload: %w", err)
	}
	q := loc.Query()
	q.Set("digest", desc.Digest.String())
	loc.RawQuery = q.Encode()

	body, err := open()
	if err != nil {
		return err
	}
	defer body.Close()
	resp, err = r.do(ctx, http.MethodPut, loc.String(), body, desc.Size,
		map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return httpError(resp, "upload "+desc.Digest.String())
	}
	return nil
}

func (r *registry) putManifest(ctx context.Context, repo, tag, mediaType string, data []byte) error {
	resp, err := r.do(ctx, http.MethodPut, r.url(repo+"/manifests/"+url.PathEscape(tag)), bytes.NewReader(data),
		int64(len(data)), map[string]string{"Content-Type": mediaType})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return httpError(resp, "put manifest "+repo+":"+tag)
	}
	if got, want := resp.Header.Get("Docker-Content-Digest"), digest.FromBytes(data).String(); got != "" && got != want {
		return fmt.Errorf("put manifest %s:%s: registry says digest %s, want %s", repo, tag, got, want)
	}
	return nil
}

// pushImage pushes the image as cove-test/NAME:latest; with variants, also
// as :v2s2 (Docker schema 2) and :index (OCI index with one platform).
func (r *registry) pushImage(ctx context.Context, img *builtImage, variants bool) error {
	repo := repoPrefix + img.name
	openBlob := func(d digest.Digest) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return os.Open(img.blobPath(d)) }
	}
	for _, l := range img.layers {
		if err := r.pushBlob(ctx, repo, l.desc, openBlob(l.desc.Digest)); err != nil {
			return err
		}
	}
	if err := r.pushBlob(ctx, repo, img.configDesc, openBlob(img.configDesc.Digest)); err != nil {
		return err
	}
	if err := r.putManifest(ctx, repo, "latest", v1.MediaTypeImageManifest, img.manifestJSON); err != nil {
		return err
	}
	if !variants {
		return nil
	}

	// Docker schema 2: the same blobs under Docker media types. The config
	// JSON is identical, so the image ID is the same as :latest's.
	type dockerDesc struct {
		MediaType string        `json:"mediaType"`
		Size      int64         `json:"size"`
		Digest    digest.Digest `json:"digest"`
	}
	type dockerManifest struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        dockerDesc   `json:"config"`
		Layers        []dockerDesc `json:"layers"`
	}
	dm := dockerManifest{
		SchemaVersion: 2,
		MediaType:     dockerManifestType,
		Config:        dockerDesc{dockerConfigType, img.configDesc.Size, img.configDesc.Digest},
	}
	for _, l := range img.layers {
		dm.Layers = append(dm.Layers, dockerDesc{dockerLayerType, l.desc.Size, l.desc.Digest})
	}
	dmJSON, err := json.MarshalIndent(dm, "", "   ")
	if err != nil {
		return err
	}
	if err := r.putManifest(ctx, repo, "v2s2", dockerManifestType, dmJSON); err != nil {
		return err
	}

	// An OCI index with one linux/<arch> entry, as multi-arch images on
	// public registries look.
	entry := img.manifestDesc
	entry.Platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	index := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{entry},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	return r.putManifest(ctx, repo, "index", v1.MediaTypeImageIndex, indexJSON)
}
