//go:build e2e

package e2e

import (
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Tests that the containers configuration files (registries.conf,
// policy.json, storage.conf, the auth files), the global flags and the
// host checks of the user-namespace entry do what docs/configuration.md
// says, the way a user would set them up.

// writeUserFile writes a file under the harness's XDG_CONFIG_HOME (or an
// absolute path) that the test user owns, creating its directories.
func (h *Harness) writeUserFile(p, data string) string {
	h.t.Helper()
	if !filepath.IsAbs(p) {
		p = filepath.Join(h.Dir, "config", p)
	}
	for d := filepath.Dir(p); strings.HasPrefix(d, h.Dir) && d != h.Dir; d = filepath.Dir(d) {
		defer h.Chown(d)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		h.t.Fatal(err)
	}
	h.Chown(p)
	return p
}

// getenv returns the value of a variable of the harness's environment.
func (h *Harness) getenv(k string) string {
	for _, e := range h.Env {
		if v, ok := strings.CutPrefix(e, k+"="); ok {
			return v
		}
	}
	return ""
}

// TestRegistriesConf: aliases, unqualified-search-registries and mirrors
// from the user's registries.conf. The machine has no internet, so
// docker.io is redirected (a [[registry]] prefix) to an empty namespace of
// the local registry: a short name then misses on "docker.io" and must be
// found through the search list, as on a machine that reaches Docker Hub.
func TestRegistriesConf(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	h.writeUserFile("containers/registries.conf", `
unqualified-search-registries = ["`+reg+`"]

[aliases]
"audit-box" = "`+reg+`/cove-test/busybox"

[[registry]]
prefix = "docker.io"
location = "`+reg+`/cove-e2e-empty"
insecure = true

[[registry]]
location = "mirrored.invalid:5000"
[[registry.mirror]]
location = "`+reg+`"
insecure = true
`)
	// Alias: the image is stored under the name the alias points to.
	r := h.Run(0, "pull", "audit-box")
	if !strings.Contains(r.Stderr, "Trying to pull "+reg+"/cove-test/busybox:latest") {
		t.Errorf("alias: should pull %s/cove-test/busybox: %q", reg, r.Stderr)
	}
	bbID := strings.TrimSpace(r.Stdout)
	if got := h.imgID(reg + "/cove-test/busybox:latest"); got != bbID {
		t.Errorf("alias: stored as %q, want %s", got, bbID)
	}
	// An alias keeps the tag the user typed.
	h.Run(0, "pull", "-q", "audit-box:v2s2")
	h.Run(0, "image", "exists", reg+"/cove-test/busybox:v2s2")
	// A short name: docker.io first (here: not found), then the search list.
	r = h.Run(0, "pull", "cove-test/multi")
	want := []string{"Trying to pull docker.io/cove-test/multi:latest", "Trying to pull " + reg + "/cove-test/multi:latest"}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("search list: stderr lacks %q: %q", w, r.Stderr)
		}
	}
	h.Run(0, "image", "exists", reg+"/cove-test/multi:latest")
	// Missing everywhere: one error naming every name tried; nothing stored.
	before := h.imgState()
	r = h.Run(125, "pull", "cove-test/no-such-image")
	for _, w := range []string{"no such image", "docker.io/cove-test/no-such-image:latest", reg + "/cove-test/no-such-image:latest"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("missing short name: error lacks %q: %q", w, r.Stderr)
		}
	}
	h.imgAssertState(before, "a short name found nowhere")
	// A mirror answers for a registry that does not resolve; the image
	// keeps the name the user asked for.
	r = h.Run(0, "pull", "-q", "mirrored.invalid:5000/cove-test/many")
	if got := h.imgID("mirrored.invalid:5000/cove-test/many:latest"); got != strings.TrimSpace(r.Stdout) {
		t.Errorf("mirror: stored as %q, pulled %q", got, r.Stdout)
	}

	// CONTAINERS_REGISTRIES_CONF replaces the user's file.
	other := h.writeUserFile(filepath.Join(h.Dir, "work", "registries.conf"), "[aliases]\n\"audit-many\" = \""+reg+"/cove-test/many\"\n")
	h.Setenv("CONTAINERS_REGISTRIES_CONF", other)
	r = h.Run(0, "pull", "-q", "audit-many")
	h.Run(0, "image", "exists", reg+"/cove-test/many:latest")
	r = h.Run(125, "pull", "-q", "audit-box")
	if !strings.Contains(r.Stderr, "docker.io/library/audit-box") {
		t.Errorf("CONTAINERS_REGISTRIES_CONF should replace the user's aliases: %q", r.Stderr)
	}
}

// TestPullTLSVerify: only loopback addresses get plain HTTP without
// configuration (Docker's rule); a registry named otherwise needs
// --tls-verify=false or `insecure` in registries.conf. The machine's own
// host name resolves to 127.0.0.1 here but is not a loopback address by
// its spelling.
func TestPullTLSVerify(t *testing.T) {
	reg := Registry(t)
	_, port, _ := strings.Cut(reg, ":")
	host, err := os.Hostname()
	if err != nil || host == "localhost" {
		t.Skipf("need a host name other than localhost (%q, %v)", host, err)
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		t.Skipf("host name %s does not resolve to a loopback address (%v %v)", host, addrs, err)
	}
	ref := host + ":" + port + "/cove-test/busybox"
	h := newHarness(t)
	before := h.imgState()
	r := h.Run(125, "pull", ref)
	for _, w := range []string{ref, "plain HTTP", "--tls-verify=false"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("HTTPS refused: error lacks %q: %q", w, r.Stderr)
		}
	}
	h.imgAssertState(before, "a pull refused for TLS")
	r = h.Run(0, "pull", "-q", "--tls-verify=false", ref)
	h.Run(0, "image", "exists", ref)
	h.Run(0, "rmi", ref)
	h.writeUserFile("containers/registries.conf", "[[registry]]\nlocation = \""+host+":"+port+"\"\ninsecure = true\n")
	h.Run(0, "pull", "-q", ref)
	// --tls-verify=true forces HTTPS even on loopback.
	r = h.Run(125, "pull", "--tls-verify=true", reg+"/cove-test/busybox")
	if !strings.Contains(r.Stderr, "plain HTTP") {
		t.Errorf("--tls-verify=true on loopback: %q", r.Stderr)
	}
}

// TestPolicyJSON: the user's policy.json decides whether an image may be
// stored; a refusal exits 125 and stores nothing.
func TestPolicyJSON(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	h.imgLoad("busybox")
	before := h.imgState()
	h.writeUserFile("containers/policy.json", `{"default":[{"type":"reject"}]}`)
	r := h.Run(125, "pull", reg+"/cove-test/multi")
	if !strings.Contains(r.Stderr, reg+"/cove-test/multi") || !strings.Contains(r.Stderr, "rejected by policy") {
		t.Errorf("reject policy: %q", r.Stderr)
	}
	r = h.Run(125, "load", "-i", Fixture(t, "multi", "docker"))
	if !strings.Contains(r.Stderr, "rejected by policy") {
		t.Errorf("reject policy, load: %q", r.Stderr)
	}
	h.imgAssertState(before, "pulls refused by policy")
	// Per repository: only the named one is refused.
	h.writeUserFile("containers/policy.json", `{"default":[{"type":"insecureAcceptAnything"}],
 "transports":{"docker":{"`+reg+`/cove-test/multi":[{"type":"reject"}]}}}`)
	h.Run(125, "pull", "-q", reg+"/cove-test/multi")
	h.Run(0, "pull", "-q", reg+"/cove-test/many")
}

// TestStorageConf: driver options from storage.conf reach the driver cove
// chose, in both of its layouts ([storage.options] and
// [storage.options.overlay], Fedora's default); its roots do not replace
// cove's own.
func TestStorageConf(t *testing.T) {
	h := newHarness(t)
	h.writeUserFile("containers/storage.conf", `[storage]
driver = "overlay"
graphroot = "/nonexistent/podman-storage"
[storage.options.overlay]
mountopt = "nodev,noatime"
`)
	r := h.Run(0, "info", "--format", "{{.Store.GraphRoot}} {{.Store.Driver.Driver}}")
	if want := filepath.Join(h.Dir, "data", "cove", "storage") + " overlay"; strings.TrimSpace(r.Stdout) != want {
		t.Errorf("info = %q, want %q", r.Stdout, want)
	}
	loadBusybox(t, h)
	r = h.Run(0, "run", "--rm", bb, "grep", " / ", "/proc/mounts")
	if !strings.Contains(r.Stdout, "noatime") {
		t.Errorf("[storage.options.overlay] mountopt not applied to the container's root: %q", r.Stdout)
	}
	// CONTAINERS_STORAGE_CONF, with the option in [storage.options].
	p := h.writeUserFile(filepath.Join(h.Dir, "work", "storage.conf"), "[storage]\ndriver = \"overlay\"\n[storage.options]\nmountopt = \"noatime\"\n")
	h.Setenv("CONTAINERS_STORAGE_CONF", p)
	r = h.Run(0, "run", "--rm", bb, "grep", " / ", "/proc/mounts")
	if !strings.Contains(r.Stdout, "noatime") {
		t.Errorf("[storage.options] mountopt from CONTAINERS_STORAGE_CONF not applied: %q", r.Stdout)
	}
}

// TestAuthFileVariants: the auth files podman and Docker write are read
// (podman's under $XDG_RUNTIME_DIR, Docker's under $DOCKER_CONFIG); logout
// removes podman's too, and refuses to claim a logout while Docker's file
// still provides the credentials.
func TestAuthFileVariants(t *testing.T) {
	reg, user, pass := imgAuthRegistry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/busybox"
	creds := `{"auths":{"` + reg + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}}}`

	podmanFile := h.writeUserFile(filepath.Join(h.Dir, "run", "containers", "auth.json"), creds)
	h.Run(0, "pull", "-q", ref)
	h.Run(0, "rmi", ref)
	r := h.Run(0, "logout", reg)
	if !strings.Contains(r.Stdout, "Removed login credentials for "+reg) {
		t.Errorf("logout with podman's auth file: %q", r.Stdout)
	}
	if b, _ := os.ReadFile(podmanFile); strings.Contains(string(b), reg) {
		t.Errorf("logout left the credentials in %s: %s", podmanFile, b)
	}
	r = h.Run(125, "pull", "-q", ref)
	if !strings.Contains(r.Stderr, "authentication required") {
		t.Errorf("pull after logout: %q", r.Stderr)
	}

	dockerDir := filepath.Join(h.Dir, "work", "docker-config")
	dockerFile := h.writeUserFile(filepath.Join(dockerDir, "config.json"), creds)
	h.Setenv("DOCKER_CONFIG", dockerDir)
	h.Run(0, "pull", "-q", ref)
	r = h.Run(125, "logout", reg)
	if !strings.Contains(r.Stderr, dockerFile) || !strings.Contains(r.Stderr, "docker logout") {
		t.Errorf("logout while Docker's config holds the credentials should say so: %q", r.Stderr)
	}
	if b, _ := os.ReadFile(dockerFile); string(b) != creds {
		t.Errorf("Docker's config.json must not be changed: %s", b)
	}
}

// TestGlobalRootFlags: --runroot moves the run root (the overlay probe's
// verdict lands there); --log-level debug prints the library's debug lines
// on stderr, the default level does not; the XDG_RUNTIME_DIR fallback is
// noted at debug level only.
func TestGlobalRootFlags(t *testing.T) {
	h := newHarness(t)
	rr := filepath.Join(h.Dir, "run", "elsewhere")
	r := h.Run(0, "--runroot", rr, "info", "--format", "{{.Store.RunRoot}}")
	if strings.TrimSpace(r.Stdout) != rr {
		t.Errorf("--runroot: info says %q", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(rr, "overlay-probe")); err != nil {
		t.Errorf("--runroot: nothing written there: %v", err)
	}
	r = h.Run(0, "images")
	if strings.Contains(r.Stderr, "level=debug") {
		t.Errorf("debug lines without --log-level debug: %q", r.Stderr)
	}
	r = h.Run(0, "--log-level", "debug", "images")
	if !strings.Contains(r.Stderr, "level=debug") {
		t.Errorf("--log-level debug printed no debug line: %q", r.Stderr)
	}
	h.Unsetenv("XDG_RUNTIME_DIR")
	r = h.Run(0, "images")
	if strings.Contains(r.Stderr, "XDG_RUNTIME_DIR") {
		t.Errorf("the run-root fallback is a debug note, got %q", r.Stderr)
	}
	r = h.Run(0, "--log-level", "debug", "images")
	if !strings.Contains(r.Stderr, "XDG_RUNTIME_DIR is not set") {
		t.Errorf("the run-root fallback should be noted at debug level: %q", r.Stderr)
	}
}

// TestMissingNewuidmap: without newuidmap/newgidmap on PATH, cove falls
// back to a single-ID namespace and warns once, naming the package.
func TestMissingNewuidmap(t *testing.T) {
	h := newHarness(t)
	bin := filepath.Join(h.Dir, "work", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/cat", filepath.Join(bin, "cat")); err != nil {
		t.Fatal(err)
	}
	defer h.Setenv("PATH", h.getenv("PATH")) // the clean-up runs cove unshare rm
	h.Setenv("PATH", bin)
	r := h.Run(0, "unshare", "cat", "/proc/self/uid_map")
	if n := len(imgLines(r.Stdout)); n != 1 {
		t.Errorf("without newuidmap the mapping has one line, got %q", r.Stdout)
	}
	if strings.Count(r.Stderr, "warning") != 1 || !strings.Contains(r.Stderr, "newuidmap") || !strings.Contains(r.Stderr, "apt-get install uidmap") {
		t.Errorf("want one warning naming the package to install: %q", r.Stderr)
	}
	r = h.Run(0, "info", "--format", "{{.Host.SingleIDMapping}} {{.Host.NewUIDMap}}")
	if strings.TrimSpace(r.Stdout) != "true" {
		t.Errorf("info should report the single-ID mapping and no newuidmap: %q", r.Stdout)
	}
}

// TestImagesAsRoot: issue 3 asks for every image command "rootless and as
// root". As root there is no user namespace, the default store is
// /var/lib/cove and /run/cove, and layer files keep the image's owners on
// the host. The commands run in a private store (--root/--runroot) so the
// machine's own is left alone.
func TestImagesAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs a root test runner")
	}
	reg := Registry(t)
	h := newHarnessFor(t, nil)
	r := h.Run(0, "info", "--format", "{{.Host.Rootless}} {{.Host.InUserNamespace}} {{.Store.GraphRoot}} {{.Store.RunRoot}}")
	if got := strings.TrimSpace(r.Stdout); got != "false false /var/lib/cove/storage /run/cove" {
		t.Errorf("root's info: %q", got)
	}
	r = h.Run(0, "unshare", "cat", "/proc/self/uid_map")
	if f := strings.Fields(r.Stdout); len(f) != 3 || f[0] != "0" || f[1] != "0" || f[2] != "4294967295" {
		t.Errorf("root's unshare runs in the initial namespace: %q", r.Stdout)
	}
	flags := []string{"--root", h.imgGraphRoot(), "--runroot", filepath.Join(h.Dir, "run", "cove")}
	run := func(code int, args ...string) Result {
		t.Helper()
		return h.Run(code, append(append([]string{}, flags...), args...)...)
	}
	run(0, "load", "-q", "-i", Fixture(t, "busybox", "docker"))
	r = run(0, "pull", "-q", reg+"/cove-test/multi")
	multi := strings.TrimSpace(r.Stdout)
	r = run(0, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if imgSortedWords(r.Stdout) != imgSortedWords("cove-test/busybox:latest "+reg+"/cove-test/multi:latest") {
		t.Errorf("images as root: %q", r.Stdout)
	}
	r = run(0, "image", "inspect", "--format", "{{.Config.User}} {{len .RootFS.Layers}}", reg+"/cove-test/multi")
	if strings.TrimSpace(r.Stdout) != "app 3" {
		t.Errorf("inspect as root: %q", r.Stdout)
	}
	// multi's /app belongs to its user "app" (uid 1000 in the fixture):
	// as root that is uid 1000 on the host too, not a subordinate ID.
	apps := imgFindFile(filepath.Join(h.imgGraphRoot(), "overlay"), "app")
	owned := false
	for _, p := range apps {
		if st, err := os.Lstat(p); err == nil && st.IsDir() && statUID(st) == 1000 {
			owned = true
		}
	}
	if !owned {
		t.Errorf("no /app directory owned by uid 1000 among %v", apps)
	}
	run(0, "tag", "cove-test/busybox", "root/tagged:1")
	archive := filepath.Join(h.Dir, "work", "both.tar")
	run(0, "save", "-o", archive, "root/tagged:1", reg+"/cove-test/multi")
	r = run(125, "rmi", "cove-test/busybox", "root/tagged:1", "no-such-image", reg+"/cove-test/multi")
	if !strings.Contains(r.Stdout, "Deleted: sha256:"+multi) || strings.Count(r.Stderr, "Error:") != 1 {
		t.Errorf("rmi as root: %q", r.Stdout)
	}
	// rmi went on past the missing name; nothing is left.
	if got := h.imgLayers(); len(got) != 0 {
		t.Errorf("layers left after rmi: %v", got)
	}
	r = run(0, "load", "-i", archive)
	if !strings.Contains(r.Stdout, "Loaded image: root/tagged:1") || !strings.Contains(r.Stdout, "Loaded image: "+reg+"/cove-test/multi:latest") {
		t.Errorf("load of a two-image archive as root: %q", r.Stdout)
	}
	before := run(0, "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").Stdout
	layers := h.imgLayers()
	good, _ := os.ReadFile(Fixture(t, "multi", "docker"))
	r = run(125, "load", "-i", h.WriteFile("truncated.tar", good[:len(good)/2]))
	if !strings.Contains(r.Stderr, "truncated.tar") {
		t.Errorf("bad archive as root: %q", r.Stderr)
	}
	if after := run(0, "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").Stdout; after != before {
		t.Errorf("a failed load as root changed the images:\n%s\n%s", before, after)
	}
	if got := h.imgLayers(); strings.Join(got, ",") != strings.Join(layers, ",") {
		t.Errorf("a failed load as root changed the layers: %v -> %v", layers, got)
	}
	run(0, "image", "prune", "-a", "-f")
	if got := h.imgLayers(); len(got) != 0 {
		t.Errorf("prune -a as root left layers: %v", got)
	}
}

// TestPullWrongCredentials: stored credentials the registry refuses give
// an error that says so (a basic-auth registry answers them with the same
// 401 as no credentials), exit 125, and the store is unchanged.
func TestPullWrongCredentials(t *testing.T) {
	reg, user, _ := imgAuthRegistry(t)
	h := newHarness(t)
	h.imgLoad("busybox")
	before := h.imgState()
	wrong := h.writeUserFile(filepath.Join(h.Dir, "work", "wrong-auth.json"),
		`{"auths":{"`+reg+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte(user+":not-the-password"))+`"}}}`)
	h.Setenv("REGISTRY_AUTH_FILE", wrong)
	r := h.Run(125, "pull", reg+"/cove-test/busybox")
	if !strings.Contains(r.Stderr, "refused the stored credentials for "+reg) {
		t.Errorf("pull with wrong credentials: %q", r.Stderr)
	}
	r = h.Run(125, "push", "cove-test/busybox", reg+"/"+imgUniqueRepo(t)+":x")
	if !strings.Contains(r.Stderr, reg) || !strings.Contains(r.Stderr, "credentials") {
		t.Errorf("push with wrong credentials: %q", r.Stderr)
	}
	h.imgAssertState(before, "wrong credentials")
}

// TestRunRootFallbackRefusals: an XDG_RUNTIME_DIR that is not private to
// the user is not used (the fallback says why, at debug level), and a
// fallback directory another user created first is refused, with exit 125
// naming it, instead of sharing state with that user.
func TestRunRootFallbackRefusals(t *testing.T) {
	h := newHarness(t)
	h.Setenv("XDG_RUNTIME_DIR", os.TempDir()) // world-writable, root's
	r := h.Run(0, "info", "--format", "{{.Store.RunRoot}}|{{.Store.RunRootFallback}}")
	rr, why, _ := strings.Cut(strings.TrimSpace(r.Stdout), "|")
	if !strings.HasPrefix(filepath.Base(rr), "cove-run-") || !strings.Contains(why, "XDG_RUNTIME_DIR="+os.TempDir()+" is unusable") {
		t.Errorf("a shared XDG_RUNTIME_DIR must not be used: %q", r.Stdout)
	}
	// TMPDIR moves the fallback's parent; root "squats" the user's name.
	tmp := filepath.Join(h.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tmp, 0o1777)
	uid := os.Getuid()
	if h.user != nil {
		uid = h.user.uid
	}
	squat := filepath.Join(tmp, "cove-run-"+strconv.Itoa(uid))
	if err := os.Mkdir(squat, 0o777); err != nil {
		t.Fatal(err)
	}
	h.Unsetenv("XDG_RUNTIME_DIR")
	h.Setenv("TMPDIR", tmp)
	before, _ := os.ReadDir(squat)
	r = h.Run(125, "images")
	if !strings.Contains(r.Stderr, squat) || !strings.Contains(r.Stderr, "XDG_RUNTIME_DIR") {
		t.Errorf("a fallback run root owned by someone else: %q", r.Stderr)
	}
	if after, _ := os.ReadDir(squat); len(after) != len(before) {
		t.Errorf("cove wrote into another user's directory: %v", after)
	}
}

// TestLocalLookupPrefersDockerName: a short name is looked up locally under
// Docker's reading (docker.io) first, even when registries.conf aliases it
// elsewhere and that image is here too: that is what a Docker user means,
// and it spares parsing the aliases on every run. The alias still resolves
// a name Docker's reading does not find.
func TestLocalLookupPrefersDockerName(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	h.writeUserFile("containers/registries.conf", `
[aliases]
"cove-test/busybox" = "`+reg+`/cove-test/multi"
"only-alias" = "`+reg+`/cove-test/multi"
`)
	h.Run(0, "load", "-q", "-i", Fixture(t, "busybox", "docker"))
	h.Run(0, "pull", "-q", "only-alias")
	busybox := h.imgID("docker.io/cove-test/busybox:latest")
	multi := h.imgID(reg + "/cove-test/multi:latest")
	if busybox == multi {
		t.Fatalf("fixtures must differ: both %s", busybox)
	}
	if got := h.imgID("cove-test/busybox"); got != busybox {
		t.Errorf("cove-test/busybox resolved to %s, want Docker's reading %s (the alias points to %s)", got, busybox, multi)
	}
	if got := h.imgID("only-alias"); got != multi {
		t.Errorf("only-alias resolved to %s, want the alias's target %s", got, multi)
	}
	r := h.Run(0, "run", "--rm", "cove-test/busybox", "cat", "/etc/hostname")
	if strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("run printed no hostname: %q", r.Stdout)
	}
}
