//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestSaveLoadRoundTrip: several images into one docker-archive, loaded
// into a fresh store; and save to stdout piped into load from stdin.
func TestSaveLoadRoundTrip(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	multi := h.imgLoad("multi")
	h.Run(0, "tag", "cove-test/busybox", "extra:tag")
	out := filepath.Join(h.Dir, "work", "both.tar")
	r := h.Run(0, "save", "-o", out, "cove-test/busybox", "cove-test/multi", "extra:tag")
	if r.Stdout != "" {
		t.Errorf("save -o writes nothing on stdout: %q", r.Stdout)
	}
	if names := imgTarNames(t, out); !names["manifest.json"] {
		t.Fatalf("not a docker-archive: %v", names)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(h.Dir, "work", ".*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	fresh := newHarness(t)
	r = fresh.Run(0, "load", "-i", out)
	for _, want := range []string{"Loaded image: cove-test/busybox:latest", "Loaded image: cove-test/multi:latest", "Loaded image: extra:tag"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("load output lacks %q: %q", want, r.Stdout)
		}
	}
	for n, id := range map[string]string{"cove-test/busybox": bb, "cove-test/multi": multi, "extra:tag": bb} {
		if got := fresh.imgID(n); got != id {
			t.Errorf("%s loaded as %s, want %s", n, got, id)
		}
	}
	if got := fresh.imgLayers(); len(got) != 3 {
		t.Errorf("busybox and multi share a layer: want 3 layers, got %v", got)
	}

	// save to stdout (a pipe here), load from stdin.
	r = h.Run(0, "save", "cove-test/multi")
	if len(r.Stdout) < 1<<20 || !imgTarNamesFrom(t, []byte(r.Stdout))["manifest.json"] {
		t.Fatalf("save to stdout: %d bytes", len(r.Stdout))
	}
	fresh2 := newHarness(t)
	r = fresh2.RunIn([]byte(r.Stdout), 0, "load")
	if strings.TrimSpace(r.Stdout) != "Loaded image: cove-test/multi:latest" {
		t.Errorf("load from stdin: %q", r.Stdout)
	}
	if fresh2.imgID("cove-test/multi") != multi {
		t.Error("stdin load: wrong ID")
	}
	// Loading what is already there is fine and changes nothing.
	before := fresh.imgState()
	fresh.Run(0, "load", "-q", "-i", out)
	fresh.imgAssertState(before, "loading the same archive again")
}

// TestSaveFormats: oci-archive and oci-dir, read back by pull.
func TestSaveFormats(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	work := filepath.Join(h.Dir, "work")
	h.Run(0, "save", "--format", "oci-archive", "-o", filepath.Join(work, "o.tar"), "cove-test/busybox")
	if names := imgTarNames(t, filepath.Join(work, "o.tar")); !names["oci-layout"] || !names["index.json"] {
		t.Errorf("oci-archive lacks the layout: %v", names)
	}
	h.Run(0, "save", "--format", "oci-dir", "-o", filepath.Join(work, "layout"), "cove-test/busybox")
	if _, err := os.Stat(filepath.Join(work, "layout", "index.json")); err != nil {
		t.Errorf("oci-dir: %v", err)
	}
	h.Run(0, "save", "--format", "docker-archive", "-o", filepath.Join(work, "d.tar"), bb[:12])

	fresh := newHarness(t)
	for _, src := range []string{"oci-archive:" + filepath.Join(work, "o.tar"), "oci:" + filepath.Join(work, "layout")} {
		r := fresh.Run(0, "pull", "-q", src)
		if strings.TrimSpace(r.Stdout) != bb {
			t.Errorf("%s: %q", src, r.Stdout)
		}
	}
	if fresh.imgID("cove-test/busybox") != bb {
		t.Error("the OCI archive should carry the image's name")
	}
	r := fresh.Run(0, "load", "-i", filepath.Join(work, "o.tar"))
	if !strings.Contains(r.Stdout, "cove-test/busybox:latest") {
		t.Errorf("load of an oci-archive: %q", r.Stdout)
	}

	r = h.Run(125, "save", "--format", "bogus", "-o", filepath.Join(work, "x.tar"), "cove-test/busybox")
	if !strings.Contains(r.Stderr, `"bogus"`) {
		t.Errorf("bad format: %q", r.Stderr)
	}
	h.imgLoad("multi")
	r = h.Run(125, "save", "--format", "oci-archive", "-o", filepath.Join(work, "x.tar"), "cove-test/busybox", "cove-test/multi")
	if !strings.Contains(r.Stderr, "docker-archive") {
		t.Errorf("several images in an oci-archive: %q", r.Stderr)
	}
	r = h.Run(125, "save", "-o", filepath.Join(work, "x.tar"), "cove-test/busybox", "no-such-image")
	if !strings.Contains(r.Stderr, "no such image: no-such-image") {
		t.Errorf("save of a missing image: %q", r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "x.tar")); err == nil {
		t.Error("a failed save left its output file")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(work, ".*")); len(leftovers) != 0 {
		t.Errorf("a failed save left temporary files: %v", leftovers)
	}
}

// TestSaveRefusesTerminal: an archive is never written to a terminal.
func TestSaveRefusesTerminal(t *testing.T) {
	h := newHarness(t)
	h.imgLoad("busybox")
	master, slave := imgOpenPty(t)
	defer master.Close()
	defer slave.Close()
	cmd := h.Cmd("save", "cove-test/busybox")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = slave, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		code = ee.ExitCode()
	}
	if code != 125 || !strings.Contains(errb.String(), "terminal") {
		t.Errorf("save to a terminal: exit %d, stderr %q", code, errb.String())
	}
}

// openPty opens a pseudo-terminal pair.
func imgOpenPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("ptsname: %v", e)
	}
	slave, err := os.OpenFile("/dev/pts/"+imgItoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	// A terminal of 24 rows and 100 columns (row, col, xpixel, ypixel).
	ws := [4]uint16{24, 100, 0, 0}
	syscall.Syscall(syscall.SYS_IOCTL, slave.Fd(), syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws)))
	return master, slave
}

func imgItoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestLoadVariants: -i and stdin, docker and OCI archives, compressed
// archives, and an archive of several images.
func TestLoadVariants(t *testing.T) {
	h := newHarness(t)
	r := h.Run(0, "load", "-i", Fixture(t, "busybox", "docker"))
	if strings.TrimSpace(r.Stdout) != "Loaded image: cove-test/busybox:latest" {
		t.Errorf("load -i docker archive: %q", r.Stdout)
	}
	oci, err := os.ReadFile(Fixture(t, "multi", "oci"))
	if err != nil {
		t.Fatal(err)
	}
	r = h.RunIn(oci, 0, "load")
	if strings.TrimSpace(r.Stdout) != "Loaded image: cove-test/multi:latest" {
		t.Errorf("load < oci archive: %q", r.Stdout)
	}
	// docker save | gzip | docker load works with Docker; so here.
	raw, _ := os.ReadFile(Fixture(t, "many", "docker"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	r = h.RunIn(gz.Bytes(), 0, "load")
	if strings.TrimSpace(r.Stdout) != "Loaded image: cove-test/many:latest" {
		t.Errorf("load of a gzipped archive: %q", r.Stdout)
	}
	r = h.Run(0, "images", "--format", "{{.Repository}}")
	if imgSortedWords(r.Stdout) != "cove-test/busybox cove-test/many cove-test/multi" {
		t.Errorf("images after loads: %q", r.Stdout)
	}
	// An untagged image in an archive is loaded by ID.
	layer := imgLayer(t, imgEntry{Name: "hello", Type: tar.TypeReg, Data: "hi"})
	p := h.imgDockerArchive("untagged.tar", "", layer)
	r = h.Run(0, "load", "-i", p)
	if !strings.HasPrefix(strings.TrimSpace(r.Stdout), "Loaded image ID: sha256:") {
		t.Errorf("untagged load: %q", r.Stdout)
	}
	r = h.Run(125, "load", "-i", filepath.Join(h.Dir, "work", "no-such.tar"))
	if !strings.Contains(r.Stderr, "no-such.tar") {
		t.Errorf("missing input: %q", r.Stderr)
	}
}

// TestImport: a root filesystem tarball from a file and from stdin, with
// --change and -m.
func TestImport(t *testing.T) {
	h := newHarness(t)
	tarball := h.imgRootfsTar("rootfs.tar", map[string]string{"etc/hello": "hi\n", "bin/tool": "#!/bin/sh\n"})
	r := h.Run(0, "import",
		"-c", `CMD ["/bin/tool", "arg"]`, "-c", "ENTRYPOINT /entry", "-c", `ENV A=1 B="two words"`,
		"-c", "EXPOSE 80 53/udp", "-c", "LABEL a=b", "-c", "USER nobody", "-c", "WORKDIR /w",
		"-c", "VOLUME /v1 /v2", "-m", "imported for the test", tarball, "imp:1")
	id := strings.TrimPrefix(strings.TrimSpace(r.Stdout), "sha256:")
	if !imgHex64.MatchString(id) || !strings.HasPrefix(r.Stdout, "sha256:") {
		t.Fatalf("import prints sha256:ID: %q", r.Stdout)
	}
	if h.imgID("imp:1") != id {
		t.Fatal("imp:1 is not the imported image")
	}
	for tmpl, want := range map[string]string{
		"{{.Config.Cmd}}":        "[/bin/tool arg]",
		"{{.Config.Entrypoint}}": "[/bin/sh -c /entry]",
		"{{.Config.Env}}":        "[PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin A=1 B=two words]",
		"{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}": "53/udp 80/tcp",
		"{{.Config.Labels}}":                                "map[a:b]",
		"{{.Config.User}}":                                  "nobody",
		"{{.Config.WorkingDir}}":                            "/w",
		"{{range $v, $_ := .Config.Volumes}}{{$v}} {{end}}": "/v1 /v2",
		"{{.Comment}}":                                      "imported for the test",
		"{{len .RootFS.Layers}}":                            "1",
	} {
		r := h.Run(0, "image", "inspect", "--format", tmpl, "imp:1")
		if got := strings.TrimSpace(r.Stdout); got != want {
			t.Errorf("%s = %q, want %q", tmpl, got, want)
		}
	}
	r = h.Run(0, "history", "--format", "{{.Comment}}", "imp:1")
	if strings.TrimSpace(r.Stdout) != "imported for the test" {
		t.Errorf("-m should be the history comment: %q", r.Stdout)
	}

	// From stdin, unnamed.
	data, _ := os.ReadFile(tarball)
	r = h.RunIn(data, 0, "import", "-")
	id2 := strings.TrimPrefix(strings.TrimSpace(r.Stdout), "sha256:")
	r = h.Run(0, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--filter", "dangling=true")
	if strings.TrimSpace(r.Stdout) != "<none>:<none> "+id2[:12] {
		t.Errorf("unnamed import: %q", r.Stdout)
	}

	// Bad input: nothing created.
	before := h.imgState()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "-c", "FROB x", tarball, "bad:1"}, `"FROB x"`},
		{[]string{"import", "-c", "EXPOSE notaport", tarball, "bad:1"}, "notaport"},
		{[]string{"import", "-c", "VOLUME relative", tarball, "bad:1"}, "relative"},
		{[]string{"import", tarball, "Bad/Name"}, `"Bad/Name"`},
		{[]string{"import", h.WriteFile("junk.bin", bytes.Repeat([]byte{0xde, 0xad}, 4096)), "bad:1"}, "junk.bin"},
		{[]string{"import", filepath.Join(h.Dir, "work", "missing.tar")}, "missing.tar"},
		{[]string{"import", filepath.Join(h.Dir, "work")}, "directory"},
	} {
		r := h.Run(125, c.args...)
		if !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: error lacks %q: %q", c.args, c.want, r.Stderr)
		}
	}
	h.imgAssertState(before, "failed imports")
}

// TestImagePrune: dangling images go; -a removes every unused image;
// without -f a "n" answer removes nothing.
func TestImagePrune(t *testing.T) {
	h := newHarness(t)
	h.imgLoad("busybox")
	h.imgLoad("multi")
	tarball := h.imgRootfsTar("rootfs.tar", map[string]string{"a": "1"})
	r := h.Run(0, "import", tarball)
	dangling := strings.TrimPrefix(strings.TrimSpace(r.Stdout), "sha256:")
	h.Run(0, "import", "-c", "LABEL keep=yes", h.imgRootfsTar("rootfs2.tar", map[string]string{"b": "2"}))

	before := h.imgState()
	r = h.RunIn([]byte("n\n"), 0, "image", "prune")
	if !strings.Contains(r.Stderr, "[y/N]") {
		t.Errorf("prune should ask: %q", r.Stderr)
	}
	h.imgAssertState(before, "prune answered n")
	h.RunIn(nil, 0, "image", "prune") // EOF is no, too
	h.imgAssertState(before, "prune with no answer")

	// --filter label!= keeps the labelled dangling image.
	r = h.Run(0, "image", "prune", "-f", "--filter", "label!=keep=yes")
	if !strings.Contains(r.Stdout, "deleted: sha256:"+dangling) || strings.Count(r.Stdout, "deleted:") != 1 {
		t.Errorf("prune with a label filter: %q", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "Total reclaimed space:") {
		t.Errorf("prune summary: %q", r.Stdout)
	}
	r = h.RunIn([]byte("y\n"), 0, "image", "prune")
	if strings.Count(r.Stdout, "deleted:") != 1 {
		t.Errorf("prune answered y should remove the other dangling image: %q", r.Stdout)
	}
	if ids := h.imgQuietIDs("-a"); len(ids) != 2 {
		t.Errorf("tagged images must survive a plain prune: %v", ids)
	}
	r = h.Run(0, "image", "prune", "-a", "-f", "--filter", "until=1h")
	if !strings.Contains(r.Stdout, "deleted:") {
		t.Errorf("prune -a of images older than an hour: %q", r.Stdout)
	}
	if ids := h.imgQuietIDs("-a"); len(ids) != 0 {
		t.Errorf("prune -a should leave nothing: %v", ids)
	}
	if got := h.imgLayers(); len(got) != 0 {
		t.Errorf("prune -a left layers: %v", got)
	}
	h.Run(125, "image", "prune", "-f", "--filter", "bogus=1")
}

func TestImageExists(t *testing.T) {
	h := newHarness(t)
	id := h.imgLoad("busybox")
	for _, n := range []string{"cove-test/busybox", "cove-test/busybox:latest", "docker.io/cove-test/busybox", id, id[:12], "sha256:" + id} {
		r := h.Run(0, "image", "exists", n)
		if r.Stdout != "" || r.Stderr != "" {
			t.Errorf("exists %s prints nothing: %q %q", n, r.Stdout, r.Stderr)
		}
	}
	for _, n := range []string{"nope", "cove-test/busybox:other", "0123456789ab"} {
		r := h.Run(1, "image", "exists", n)
		if r.Stdout != "" || r.Stderr != "" {
			t.Errorf("exists %s prints nothing: %q %q", n, r.Stdout, r.Stderr)
		}
	}
	h.Run(125, "image", "exists", "Bad/Name")
}

func imgTarNames(t *testing.T, p string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return imgTarNamesFrom(t, b)
}

func imgTarNamesFrom(t *testing.T, b []byte) map[string]bool {
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			return names
		}
		names[h.Name] = true
	}
}
