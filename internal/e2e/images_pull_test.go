//go:build e2e

package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPullRegistry: a plain-HTTP registry on 127.0.0.1 works with no
// configuration and no --tls-verify; stdout carries only the image ID,
// progress goes to stderr, one line per layer when it is not a terminal.
func TestPullRegistry(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/busybox"
	r := h.Run(0, "pull", ref)
	id := strings.TrimSpace(r.Stdout)
	if !imgHex64.MatchString(id) || r.Stdout != id+"\n" {
		t.Fatalf("stdout must be exactly the image ID, got %q", r.Stdout)
	}
	if strings.Contains(r.Stderr, id) && !strings.Contains(r.Stderr, "config sha256:"+id) {
		t.Errorf("the ID belongs on stdout only: %q", r.Stderr)
	}
	if n := imgCountPrefix(r.Stderr, "Copying blob "); n != 1 {
		t.Errorf("want one progress line for busybox's one layer, got %d:\n%s", n, r.Stderr)
	}
	if !strings.Contains(r.Stderr, " done") {
		t.Errorf("progress lacks the done line:\n%s", r.Stderr)
	}
	// docker:// is the same registry reference.
	r = h.Run(0, "pull", "docker://"+ref)
	if strings.TrimSpace(r.Stdout) != id {
		t.Errorf("docker:// pulled %q, want %s", r.Stdout, id)
	}
	r = h.Run(0, "images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}")
	if want := ref + " latest " + id[:12]; strings.TrimSpace(r.Stdout) != want {
		t.Errorf("images = %q, want %q", r.Stdout, want)
	}
	if got := h.imgLayers(); len(got) != 1 {
		t.Errorf("busybox has one layer, store has %v", got)
	}
	// "localhost" is loopback too: plain HTTP without configuration.
	if _, port, ok := strings.Cut(reg, ":"); ok && strings.HasPrefix(reg, "127.0.0.1:") {
		r = h.Run(0, "pull", "-q", "localhost:"+port+"/cove-test/busybox")
		if strings.TrimSpace(r.Stdout) != id {
			t.Errorf("pull from localhost:%s gave %q", port, r.Stdout)
		}
	}
}

// TestPullTwiceTransfersNothing: pulling an image that is present copies
// no layer again: every blob line says "skipped: already exists".
func TestPullTwiceTransfersNothing(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/multi"
	r := h.Run(0, "pull", ref)
	if n := imgCountPrefix(r.Stderr, "Copying blob "); n != 3 {
		t.Fatalf("multi has 3 layers, got %d progress lines:\n%s", n, r.Stderr)
	}
	layers := h.imgLayers()
	r = h.Run(0, "pull", ref)
	if n := strings.Count(r.Stderr, "skipped: already exists"); n != 3 {
		t.Errorf("second pull: want 3 layers skipped, got %d:\n%s", n, r.Stderr)
	}
	for _, l := range imgLines(r.Stderr) {
		if strings.HasPrefix(l, "Copying blob") && strings.HasSuffix(l, ")") {
			t.Errorf("second pull transferred a layer: %s", l)
		}
	}
	if got := h.imgLayers(); strings.Join(got, ",") != strings.Join(layers, ",") {
		t.Errorf("layers changed on the second pull: %v -> %v", layers, got)
	}
	// A tag of the same image in another form (Docker schema 2) reuses
	// everything too and resolves to the same ID.
	id := h.imgID(ref)
	r = h.Run(0, "pull", reg+"/cove-test/busybox:v2s2")
	if !strings.Contains(r.Stderr, "skipped: already exists") {
		t.Errorf("busybox's layer is multi's first: want it skipped:\n%s", r.Stderr)
	}
	if id == strings.TrimSpace(r.Stdout) {
		t.Errorf("busybox and multi must differ")
	}
}

func TestPullQuiet(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	r := h.Run(0, "pull", "-q", reg+"/cove-test/busybox")
	if !imgHex64.MatchString(strings.TrimSpace(r.Stdout)) || len(imgLines(r.Stdout)) != 1 {
		t.Errorf("-q stdout = %q, want one ID", r.Stdout)
	}
	if r.Stderr != "" {
		t.Errorf("-q must print no progress, got %q", r.Stderr)
	}
}

func TestPullByDigest(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/busybox"
	h.Run(0, "pull", "-q", ref)
	r := h.Run(0, "image", "inspect", "--format", "{{index .RepoDigests 0}}", ref)
	byDigest := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(byDigest, ref+"@sha256:") {
		t.Fatalf("RepoDigests[0] = %q", byDigest)
	}
	id := h.imgID(ref)

	h2 := newHarness(t)
	r = h2.Run(0, "pull", byDigest)
	if strings.TrimSpace(r.Stdout) != id {
		t.Errorf("pull by digest gave %q, want %s", r.Stdout, id)
	}
	r = h2.Run(0, "images", "--digests", "--format", "{{.Digest}}")
	if !strings.Contains(byDigest, strings.TrimSpace(r.Stdout)) {
		t.Errorf("--digests = %q, want the digest of %s", r.Stdout, byDigest)
	}
	// The digest also works for lookups.
	h2.Run(0, "image", "inspect", byDigest)
	// A digest the registry does not have.
	bad := ref + "@sha256:" + strings.Repeat("0", 64)
	r = h2.Run(125, "pull", bad)
	if !strings.Contains(r.Stderr, "no such image") || !strings.Contains(r.Stderr, strings.Repeat("0", 64)) {
		t.Errorf("missing digest: %q", r.Stderr)
	}
}

func TestPullAllTags(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/busybox"
	r := h.Run(0, "pull", "--all-tags", ref)
	if ids := imgLines(r.Stdout); len(ids) != 1 || !imgHex64.MatchString(ids[0]) {
		t.Errorf("all tags are one image: want one ID on stdout, got %q", r.Stdout)
	}
	r = h.Run(0, "images", "--format", "{{.Tag}}")
	got := strings.Fields(r.Stdout)
	if strings.Join(got, " ") != "index latest v2s2" {
		t.Errorf("tags = %v, want index latest v2s2", got)
	}
	r = h.Run(125, "pull", "-a", ref+":latest")
	if !strings.Contains(r.Stderr, ref+":latest") {
		t.Errorf("--all-tags with a tag: %q", r.Stderr)
	}
}

func TestPullPlatform(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	here := "linux/" + runtime.GOARCH
	r := h.Run(0, "pull", "--platform", here, reg+"/cove-test/busybox:index")
	id := strings.TrimSpace(r.Stdout)
	r = h.Run(0, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", id)
	if strings.TrimSpace(r.Stdout) != here {
		t.Errorf("platform %q, want %s", r.Stdout, here)
	}
	other := "linux/s390x"
	if runtime.GOARCH == "s390x" {
		other = "linux/amd64"
	}
	before := h.imgState()
	r = h.Run(125, "pull", "--platform", other, reg+"/cove-test/busybox:index")
	for _, want := range []string{"cove-test/busybox:index", other, "no matching manifest"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("index without %s: error lacks %q: %q", other, want, r.Stderr)
		}
	}
	// A single-platform image of another platform is refused too, not
	// stored under the wrong platform.
	r = h.Run(125, "pull", "--platform", other, reg+"/cove-test/multi")
	if !strings.Contains(r.Stderr, "cove-test/multi") || !strings.Contains(r.Stderr, other) {
		t.Errorf("single image of another platform: %q", r.Stderr)
	}
	h.imgAssertState(before, "failed platform pulls")
	r = h.Run(125, "pull", "--platform", "bogus", reg+"/cove-test/busybox")
	if !strings.Contains(r.Stderr, `"bogus"`) {
		t.Errorf("bad --platform: %q", r.Stderr)
	}
}

// TestPullArchives: docker-archive:, oci-archive:, oci:DIR and oci:DIR:REF
// sources, each named as the archive records (Docker's names).
func TestPullArchives(t *testing.T) {
	h := newHarness(t)
	dir := env["COVE_TEST_IMAGES"]
	if dir == "" {
		dir = "/var/cache/cove-test/images"
	}
	for _, c := range []struct{ src, name string }{
		{"docker-archive:" + Fixture(t, "busybox", "docker"), "cove-test/busybox:latest"},
		{"oci-archive:" + Fixture(t, "multi", "oci"), "cove-test/multi:latest"},
		{"oci:" + filepath.Join(dir, "many.oci"), "cove-test/many:latest"},
		{"oci:" + filepath.Join(dir, "busybox.oci") + ":latest", "cove-test/busybox:latest"},
	} {
		r := h.Run(0, "pull", c.src)
		id := strings.TrimSpace(r.Stdout)
		if !imgHex64.MatchString(id) {
			t.Errorf("pull %s: stdout %q", c.src, r.Stdout)
			continue
		}
		if got := h.imgID(c.name); got != id {
			t.Errorf("pull %s: %s is %s, want %s", c.src, c.name, got, id)
		}
	}
	r := h.Run(0, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if got := strings.Fields(r.Stdout); len(got) != 3 {
		t.Errorf("want busybox, multi and many, got %v", got)
	}
}

// TestPullErrors: each failure exits 125 with a message naming the input,
// quickly, and leaves the store as it was.
func TestPullErrors(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	h.imgLoad("busybox")
	before := h.imgState()
	for _, c := range []struct {
		ref  string
		want []string
	}{
		{"127.0.0.1:1/cove-test/busybox", []string{"127.0.0.1:1/cove-test/busybox", "127.0.0.1:1"}},
		{reg + "/cove-test/no-such-image", []string{"no such image", reg + "/cove-test/no-such-image"}},
		{reg + "/cove-test/busybox:no-such-tag", []string{"no such image", "no-such-tag"}},
		{"UPPER/Case", []string{`"UPPER/Case"`, "invalid reference format"}},
		{"a:b:c", []string{`"a:b:c"`}},
		{"", []string{`""`}},
		{"nosuchtransport:/some/path", []string{"unknown transport", `"nosuchtransport"`}},
		{"docker-archive:/nonexistent/x.tar", []string{"/nonexistent/x.tar"}},
		{"oci:/nonexistent/layout", []string{"/nonexistent/layout"}},
		{"oci-archive:" + Fixture(t, "busybox", "docker"), []string{"busybox.docker.tar"}},
	} {
		start := time.Now()
		r := h.imgRunTimeout(20*time.Second, nil, 125, "pull", c.ref)
		for _, w := range c.want {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("pull %q: error lacks %q: %q", c.ref, w, r.Stderr)
			}
		}
		if !strings.HasPrefix(imgLines(r.Stderr)[len(imgLines(r.Stderr))-1], "Error: ") {
			t.Errorf("pull %q: last line should be the error: %q", c.ref, r.Stderr)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("pull %q took %s: failures must be quick", c.ref, d)
		}
		if r.Stdout != "" {
			t.Errorf("pull %q: stdout %q on failure", c.ref, r.Stdout)
		}
	}
	h.imgAssertState(before, "failed pulls")
}

// TestPullShortName: a short name means docker.io/library/NAME:latest, as
// in Docker, and is never answered with a prompt (stdin is closed here;
// the machine has no internet, so the pull fails naming docker.io).
func TestPullShortName(t *testing.T) {
	h := newHarness(t)
	r := h.imgRunAny(90*time.Second, nil, "pull", "busybox")
	if strings.Contains(strings.ToLower(r.Stderr), "please select") || strings.Contains(r.Stderr, "[y/N]") {
		t.Errorf("short name resolution must not prompt: %q", r.Stderr)
	}
	if r.Code == 0 {
		// This machine reaches Docker Hub after all.
		h.Run(0, "image", "inspect", "docker.io/library/busybox:latest")
		return
	}
	if r.Code != 125 {
		t.Fatalf("exit %d, want 125 (or 0 with internet):\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "docker.io/library/busybox") {
		t.Errorf("the error should name docker.io/library/busybox: %q", r.Stderr)
	}
}

// TestPullProgressTerminal: on a terminal, progress is the library's bars
// (redrawn in place) on stderr; stdout still carries only the ID.
func TestPullProgressTerminal(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	master, slave := imgOpenPty(t)
	defer master.Close()
	var tty imgBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tty.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	cmd := h.Cmd("pull", reg+"/cove-test/multi")
	var out imgBuffer
	cmd.Stdout, cmd.Stderr = &out, slave
	err := cmd.Run()
	slave.Close()
	if err != nil {
		t.Fatalf("pull with a terminal on stderr: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if !imgHex64.MatchString(strings.TrimSpace(out.String())) {
		t.Errorf("stdout %q", out.String())
	}
	s := tty.String()
	if !strings.Contains(s, "Copying blob") || !strings.Contains(s, "\x1b[") {
		t.Errorf("want progress bars (escape sequences) on the terminal, got %q", s)
	}
	if strings.Contains(s, " done (") {
		t.Errorf("a terminal gets bars, not the one-line-per-layer log: %q", s)
	}
}

// TestPullLayersInParallel: a registry that answers each blob slowly sees
// the layers of one image requested at the same time, not one by one. A
// proxy in front of the test registry counts the blob requests in flight.
func TestPullLayersInParallel(t *testing.T) {
	reg := Registry(t)
	target, _ := url.Parse("http://" + reg)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	h := newHarness(t)
	via := strings.TrimPrefix(srv.URL, "http://")
	h.Run(0, "pull", "-q", via+"/cove-test/multi")
	if got := most.Load(); got < 2 {
		t.Errorf("multi's 3 layers were fetched one at a time (at most %d blob request in flight)", got)
	}
}
