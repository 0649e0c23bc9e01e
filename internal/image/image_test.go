package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cove-run/cove/internal/errdefs"
)

func TestParseName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                        "docker.io/library/busybox:latest",
		"cove-test/busybox:1":            "docker.io/cove-test/busybox:1",
		"127.0.0.1:5000/cove-test/multi": "127.0.0.1:5000/cove-test/multi:latest",
		"localhost/x":                    "localhost/x:latest",
		"busybox@sha256:" + strings.Repeat("a", 64): "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64),
	} {
		n, err := ParseName(in)
		if err != nil || n.String() != want {
			t.Errorf("ParseName(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
	for _, in := range []string{"", "UPPER/Case", "a:b:c", "foo:/bar", "-x", "a b", strings.Repeat("a", 64)} {
		_, err := ParseName(in)
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseName(%q): want an invalid-argument error, got %v", in, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseName(%q): error does not name the input: %v", in, err)
		}
	}
}

func TestTransportOf(t *testing.T) {
	for in, want := range map[string]string{
		"docker-archive:/x.tar":  "docker-archive",
		"oci:/dir:tag":           "oci",
		"docker://busybox":       "docker",
		"busybox:latest":         "",
		"127.0.0.1:5000/x":       "",
		"oci:5000/x":             "", // a registry called oci with a port
		"localhost:5000/x:1":     "",
		"dir:/some/dir":          "dir",
		"nosuchtransport:/a/b/c": "",
	} {
		got := ""
		if tr := transportOf(in); tr != nil {
			got = tr.Name()
		}
		if got != want {
			t.Errorf("transportOf(%q) = %q, want %q", in, got, want)
		}
	}
	err := checkReference("nosuch:/a/b")
	if err == nil || !strings.Contains(err.Error(), `unknown transport "nosuch"`) {
		t.Errorf("unknown transport: %v", err)
	}
}

func TestIsLoopbackRegistry(t *testing.T) {
	for reg, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.3.4.5": true, "localhost:5000": true, "[::1]:5000": true,
		"localhost": true, "docker.io": false, "10.0.0.1:5000": false, "example.com:5000": false,
	} {
		if got := IsLoopbackRegistry(reg); got != want {
			t.Errorf("IsLoopbackRegistry(%q) = %v", reg, got)
		}
	}
}

// layerTar builds a layer tar from headers (regular files get their Linkname
// as content).
func layerTar(t testing.TB, hdrs ...tar.Header) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		h := h
		var data []byte
		if h.Typeflag == tar.TypeReg {
			data = []byte("data")
			h.Size = int64(len(data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	return b.Bytes()
}

func TestCheckLayer(t *testing.T) {
	reg := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg} }
	sym := func(n, to string) tar.Header { return tar.Header{Name: n, Linkname: to, Typeflag: tar.TypeSymlink} }
	hard := func(n, to string) tar.Header { return tar.Header{Name: n, Linkname: to, Typeflag: tar.TypeLink} }
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir} }
	good := [][]tar.Header{
		{dir("etc/"), reg("etc/passwd"), sym("bin/sh", "/bin/busybox"), hard("bin/ls", "bin/busybox")},
		{reg("./a"), reg("a/../b"), sym("lib", "usr/lib"), dir("lib"), reg("lib/x")}, // the link is replaced by a dir
		{sym("abs", "/"), reg("other/evil")},
		{reg(".wh.gone"), reg("dir/.wh..wh..opq")},
	}
	for i, hs := range good {
		if err := CheckLayer(bytes.NewReader(layerTar(t, hs...))); err != nil {
			t.Errorf("good layer %d refused: %v", i, err)
		}
	}
	bad := map[string][]tar.Header{
		"outside":        {reg("../../evil")},
		"outside after":  {reg("a/../../evil")},
		"absolute":       {reg("/evil")},
		"symlink root":   {sym("link", "/"), reg("link/evil")},
		"symlink up":     {sym("link", "../.."), reg("link/evil")},
		"nested":         {dir("a"), sym("a/b", "/etc"), reg("a/b/c/evil")},
		"hardlink up":    {hard("h", "../../etc/passwd")},
		"hardlink abs":   {hard("h", "/etc/passwd")},
		"hardlink via":   {sym("l", "/etc"), hard("h", "l/passwd")},
		"symlink dir":    {sym("l", "/tmp"), dir("l/d")},
		"dotdot only":    {reg("..")},
		"hardlink empty": {hard("h", "")},
	}
	for name, hs := range bad {
		err := CheckLayer(bytes.NewReader(layerTar(t, hs...)))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Compressed layers are checked the same way.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layerTar(t, reg("../evil")))
	zw.Close()
	if err := CheckLayer(&gz); err == nil {
		t.Error("gzip layer with an escape accepted")
	}
	if err := CheckLayer(strings.NewReader("not a tar at all, definitely not")); err == nil {
		t.Error("garbage accepted as a layer")
	}
}

// TestCheckedReaderPassesBytes: the check must not change what the store
// reads, and must fail the read for a bad layer.
func TestCheckedReader(t *testing.T) {
	good := layerTar(t, tar.Header{Name: "a", Typeflag: tar.TypeReg})
	r := newCheckedReader(io.NopCloser(bytes.NewReader(good)), "sha256:00", nil)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, good) {
		t.Fatalf("good layer: %v (%d of %d bytes)", err, len(got), len(good))
	}
	r.Close()
	bad := layerTar(t, tar.Header{Name: "../x", Typeflag: tar.TypeReg})
	v := &layerVerdict{}
	r = newCheckedReader(io.NopCloser(bytes.NewReader(bad)), "sha256:0123456789abcdef", v)
	_, err = io.ReadAll(r)
	var ble *badLayerError
	if !errors.As(err, &ble) || v.get() == nil {
		t.Fatalf("bad layer: want badLayerError, got %v", err)
	}
	r.Close()
	// Closing early (the consumer gave up) must not hang.
	r = newCheckedReader(io.NopCloser(bytes.NewReader(good)), "sha256:00", nil)
	r.Read(make([]byte, 10))
	r.Close()
}

// dockerArchive builds a docker-archive holding one image of the layers.
func dockerArchive(t testing.TB, tag string, layers ...[]byte) []byte {
	var diffIDs, names []string
	for _, l := range layers {
		sum := fmt.Sprintf("%x", sha256.Sum256(l))
		diffIDs = append(diffIDs, "sha256:"+sum)
		names = append(names, sum+"/layer.tar")
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": names}})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(n string, d []byte) {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
		tw.Write(d)
	}
	add("manifest.json", man)
	add(cfgName, cfg)
	for i, l := range layers {
		add(names[i], l)
	}
	tw.Close()
	return b.Bytes()
}

func ociArchive(t testing.TB, annotations map[string]string) []byte {
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []map[string]any{{
		"mediaType": imgspecv1.MediaTypeImageManifest, "digest": "sha256:" + strings.Repeat("0", 64), "size": 1,
		"annotations": annotations}}})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, d := range map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "index.json": idx} {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
		tw.Write(d)
	}
	tw.Close()
	return b.Bytes()
}

func TestSniffArchive(t *testing.T) {
	layer := layerTar(t, tar.Header{Name: "a", Typeflag: tar.TypeReg})
	kind, _, err := sniffArchiveStream(bytes.NewReader(dockerArchive(t, "x/y:1", layer)))
	if err != nil || kind != "docker" {
		t.Errorf("docker archive: %q %v", kind, err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(dockerArchive(t, "x/y:1", layer))
	zw.Close()
	kind, _, err = sniffArchiveStream(&gz)
	if err != nil || kind != "docker" {
		t.Errorf("gzipped docker archive: %q %v", kind, err)
	}
	kind, entries, err := sniffArchiveStream(bytes.NewReader(ociArchive(t, map[string]string{
		"io.containerd.image.name": "docker.io/cove-test/busybox:latest", "org.opencontainers.image.ref.name": "latest"})))
	if err != nil || kind != "oci" || len(entries) != 1 || entries[0].name != "docker.io/cove-test/busybox:latest" {
		t.Errorf("oci archive: %q %+v %v", kind, entries, err)
	}
	_, entries, _ = sniffArchiveStream(bytes.NewReader(ociArchive(t, map[string]string{"org.opencontainers.image.ref.name": "latest"})))
	if len(entries) != 1 || entries[0].name != "" {
		t.Errorf("a bare tag is not an image name: %+v", entries)
	}
	for name, data := range map[string][]byte{
		"garbage":   bytes.Repeat([]byte("garbage!"), 200),
		"empty":     nil,
		"not image": layer,
		"truncated": dockerArchive(t, "x/y:1", layer)[:700],
	} {
		if _, _, err := sniffArchiveStream(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestApplyChanges(t *testing.T) {
	var c imgspecv1.ImageConfig
	err := ApplyChanges(&c, []string{
		`CMD ["/bin/sh", "-c", "echo hi"]`, `ENTRYPOINT /entry`, `ENV A=1 B="two words"`, `ENV C 3`,
		`EXPOSE 80 53/udp 9000-9002`, `LABEL a=b "c"="d e"`, `USER nobody`, `WORKDIR /w`,
		`VOLUME /v1 /v2`, `VOLUME ["/v3"]`, `STOPSIGNAL SIGTERM`, `cmd ["lower"]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Cmd, "|") != "lower" || strings.Join(c.Entrypoint, "|") != "/bin/sh|-c|/entry" {
		t.Errorf("cmd/entrypoint: %q %q", c.Cmd, c.Entrypoint)
	}
	if strings.Join(c.Env, "|") != "A=1|B=two words|C=3" {
		t.Errorf("env: %q", c.Env)
	}
	for _, p := range []string{"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s missing: %v", p, c.ExposedPorts)
		}
	}
	if c.Labels["a"] != "b" || c.User != "nobody" || c.WorkingDir != "/w" || len(c.Volumes) != 3 || c.StopSignal != "SIGTERM" {
		t.Errorf("config: %+v", c)
	}
	for _, bad := range []string{"FROB x", "CMD", "EXPOSE abc", "EXPOSE 0", "EXPOSE 70000", "EXPOSE 90-80", "EXPOSE 80/xyz",
		"VOLUME rel", `VOLUME ["/a"`, "ENV", "ENV =x", "LABEL novalue", ""} {
		var c imgspecv1.ImageConfig
		err := ApplyChanges(&c, []string{bad})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: want invalid argument, got %v", bad, err)
		}
	}
}

func TestOCIIndexNames(t *testing.T) {
	idx := `{"manifests":[
		{"annotations":{"org.opencontainers.image.ref.name":"latest","io.containerd.image.name":"docker.io/a/b:latest"}},
		{"annotations":{"org.opencontainers.image.ref.name":"docker.io/c/d:1"}},
		{"annotations":{"org.opencontainers.image.ref.name":"v2"}},
		{"annotations":{"io.containerd.image.name":"NOT VALID"}}]}`
	es, err := ociIndexNames(strings.NewReader(idx), "")
	if err != nil || len(es) != 4 {
		t.Fatalf("%+v %v", es, err)
	}
	want := []string{"docker.io/a/b:latest", "docker.io/c/d:1", "", ""}
	for i, e := range es {
		if e.name != want[i] {
			t.Errorf("entry %d: name %q, want %q", i, e.name, want[i])
		}
	}
	es, _ = ociIndexNames(strings.NewReader(idx), "v2")
	if len(es) != 1 || es[0].ref != "v2" {
		t.Errorf("filter by ref: %+v", es)
	}
}
