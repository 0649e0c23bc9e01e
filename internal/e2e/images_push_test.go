//go:build e2e

package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func imgAuthRegistry(t *testing.T) (reg, user, pass string) {
	t.Helper()
	reg, user, pass = env["COVE_TEST_AUTH_REGISTRY"], env["COVE_TEST_AUTH_USER"], env["COVE_TEST_AUTH_PASSWORD"]
	if reg == "" || user == "" || pass == "" {
		t.Skip("no authenticated test registry (run hack/setup-test-env.sh)")
	}
	return reg, user, pass
}

// TestPushRegistryRoundTrip: push a loaded image under a new name, pull it
// back into a fresh store: same ID.
func TestPushRegistryRoundTrip(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	id := h.imgLoad("multi")
	dest := reg + "/" + imgUniqueRepo(t) + ":tag"
	h.Run(0, "tag", "cove-test/multi", dest)
	r := h.Run(0, "push", dest)
	if r.Stdout != "" {
		t.Errorf("push prints progress on stderr only, stdout %q", r.Stdout)
	}
	if n := imgCountPrefix(r.Stderr, "Copying blob "); n != 3 {
		t.Errorf("want a progress line per layer (3), got:\n%s", r.Stderr)
	}
	// push SOURCE DEST, without tagging first.
	dest2 := reg + "/" + imgUniqueRepo(t) + ":other"
	h.Run(0, "push", "-q", "cove-test/multi", dest2)

	fresh := newHarness(t)
	for _, d := range []string{dest, dest2} {
		r = fresh.Run(0, "pull", "-q", d)
		if got := strings.TrimSpace(r.Stdout); got != id {
			t.Errorf("pulled %s back as %s, want %s", d, got, id)
		}
	}
	r = fresh.Run(0, "image", "inspect", "--format", "{{.Config.Labels}} {{.Config.User}}", dest)
	if !strings.Contains(r.Stdout, "org.cove.test:multi") || !strings.Contains(r.Stdout, " app") {
		t.Errorf("config did not survive the round trip: %q", r.Stdout)
	}
}

// TestPushTransports: docker-archive:, oci-archive:, oci: and dir:
// destinations, each read back into a fresh store.
func TestPushTransports(t *testing.T) {
	h := newHarness(t)
	id := h.imgLoad("busybox")
	work := filepath.Join(h.Dir, "work")
	dests := map[string]string{
		"docker-archive:" + filepath.Join(work, "d.tar"): "cove-test/busybox:latest",
		"oci-archive:" + filepath.Join(work, "o.tar"):    "cove-test/busybox:latest",
		"oci:" + filepath.Join(work, "layout"):           "cove-test/busybox:latest",
		"dir:" + filepath.Join(work, "dir"):              "",
	}
	for d := range dests {
		h.Run(0, "push", "-q", "cove-test/busybox", d)
	}
	for d, name := range dests {
		fresh := newHarness(t)
		r := fresh.Run(0, "pull", "-q", d)
		if got := strings.TrimSpace(r.Stdout); got != id {
			t.Errorf("%s read back as %q, want %s", d, got, id)
		}
		if name != "" {
			if got := fresh.imgID(name); got != id {
				t.Errorf("%s: the archive should record the name %s", d, name)
			}
		}
	}
}

func TestPushErrors(t *testing.T) {
	reg := Registry(t)
	h := newHarness(t)
	id := h.imgLoad("busybox")
	r := h.Run(125, "push", "no-such-image")
	if !strings.Contains(r.Stderr, "no such image: no-such-image") {
		t.Errorf("missing image: %q", r.Stderr)
	}
	r = h.Run(125, "push", "cove-test/busybox", "UPPER/case")
	if !strings.Contains(r.Stderr, `"UPPER/case"`) {
		t.Errorf("bad destination: %q", r.Stderr)
	}
	r = h.Run(125, "push", id[:12])
	if !strings.Contains(r.Stderr, id[:12]) {
		t.Errorf("an ID has no registry: %q", r.Stderr)
	}
	r = h.Run(125, "push", "cove-test/busybox", "127.0.0.1:1/x/y:z")
	if !strings.Contains(r.Stderr, "127.0.0.1:1/x/y:z") {
		t.Errorf("unreachable registry: %q", r.Stderr)
	}
	r = h.Run(125, "push", "cove-test/busybox", "oci-archive:/nonexistent-dir/x.tar")
	if !strings.Contains(r.Stderr, "/nonexistent-dir/x.tar") {
		t.Errorf("unwritable archive: %q", r.Stderr)
	}
	r = h.Run(125, "push", "cove-test/busybox", "nosuch:/x")
	if !strings.Contains(r.Stderr, "unknown transport") {
		t.Errorf("unknown transport: %q", r.Stderr)
	}
	r = h.Run(125, "push", "cove-test/busybox", reg+"/x@sha256:"+strings.Repeat("a", 64))
	if !strings.Contains(r.Stderr, "digest") {
		t.Errorf("digest destination: %q", r.Stderr)
	}
}

// TestLoginLogout: credentials are checked, stored in the containers
// auth.json under XDG_CONFIG_HOME (which survives a reboot), used by pull,
// and removed by logout.
func TestLoginLogout(t *testing.T) {
	reg, user, pass := imgAuthRegistry(t)
	h := newHarness(t)
	ref := reg + "/cove-test/busybox"
	authFile := filepath.Join(h.Dir, "config", "containers", "auth.json")

	r := h.Run(125, "pull", ref)
	if !strings.Contains(r.Stderr, "authentication required") || !strings.Contains(r.Stderr, "cove login "+reg) {
		t.Errorf("pull without login: %q", r.Stderr)
	}
	r = h.RunIn([]byte("wrong\n"), 125, "login", "-u", user, "--password-stdin", reg)
	if !strings.Contains(r.Stderr, "wrong username or password") || !strings.Contains(r.Stderr, reg) {
		t.Errorf("wrong password: %q", r.Stderr)
	}
	if _, err := os.Stat(authFile); err == nil {
		b, _ := os.ReadFile(authFile)
		if strings.Contains(string(b), reg) {
			t.Errorf("a failed login stored credentials: %s", b)
		}
	}

	r = h.RunIn([]byte(pass+"\n"), 0, "login", "-u", user, "--password-stdin", reg)
	if strings.TrimSpace(r.Stdout) != "Login Succeeded" {
		t.Errorf("login stdout %q", r.Stdout)
	}
	b, err := os.ReadFile(authFile)
	if err != nil || !strings.Contains(string(b), reg) || !strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte(user+":"+pass))) {
		t.Fatalf("credentials not in %s: %v %s", authFile, err, b)
	}
	r = h.Run(0, "pull", "-q", ref)
	if !imgHex64.MatchString(strings.TrimSpace(r.Stdout)) {
		t.Errorf("pull after login: %q", r.Stdout)
	}
	// Push works with the stored credentials as well.
	h.Run(0, "push", "-q", ref, reg+"/"+imgUniqueRepo(t)+":pushed")

	r = h.Run(0, "logout", reg)
	if !strings.Contains(r.Stdout, reg) {
		t.Errorf("logout: %q", r.Stdout)
	}
	b, _ = os.ReadFile(authFile)
	if strings.Contains(string(b), reg) {
		t.Errorf("logout left the credentials: %s", b)
	}
	h.Run(0, "rmi", ref)
	r = h.Run(125, "pull", ref)
	if !strings.Contains(r.Stderr, "authentication") {
		t.Errorf("pull after logout: %q", r.Stderr)
	}
	// Docker's behaviour: logging out twice is not an error.
	r = h.Run(0, "logout", reg)
	if !strings.Contains(r.Stdout, "Not logged in to "+reg) {
		t.Errorf("second logout: %q", r.Stdout)
	}
	// -u/-p works too (with the password on the command line).
	h.Run(0, "login", "-u", user, "-p", pass, "http://"+reg+"/")
	b, _ = os.ReadFile(authFile)
	if !strings.Contains(string(b), `"`+reg+`"`) {
		t.Errorf("login with a URL should store the host %s: %s", reg, b)
	}
	r = h.Run(125, "login", "-u", user, "--password-stdin", "-p", "x", reg)
	if !strings.Contains(r.Stderr, "--password-stdin") {
		t.Errorf("conflicting flags: %q", r.Stderr)
	}
}

// TestLoginAuthFileOverride: REGISTRY_AUTH_FILE moves where login writes
// and where pull reads.
func TestLoginAuthFileOverride(t *testing.T) {
	reg, user, pass := imgAuthRegistry(t)
	h := newHarness(t)
	custom := filepath.Join(h.Dir, "work", "my-auth.json")
	h.Setenv("REGISTRY_AUTH_FILE", custom)
	h.RunIn([]byte(pass), 0, "login", "-u", user, "--password-stdin", reg)
	if b, err := os.ReadFile(custom); err != nil || !strings.Contains(string(b), reg) {
		t.Fatalf("REGISTRY_AUTH_FILE not written: %v %s", err, b)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "config", "containers", "auth.json")); err == nil {
		t.Errorf("the default auth file was written despite REGISTRY_AUTH_FILE")
	}
	h.Run(0, "pull", "-q", reg+"/cove-test/busybox")
	h.Run(0, "rmi", reg+"/cove-test/busybox")
	h.Unsetenv("REGISTRY_AUTH_FILE")
	h.Run(125, "pull", "-q", reg+"/cove-test/busybox")
	h.Setenv("REGISTRY_AUTH_FILE", custom)
	h.Run(0, "logout", reg)
	if b, _ := os.ReadFile(custom); strings.Contains(string(b), reg) {
		t.Errorf("logout did not remove the credentials from REGISTRY_AUTH_FILE: %s", b)
	}
}

// TestDockerConfigCredentials: credentials in Docker's ~/.docker/config.json
// are used without logging in to cove.
func TestDockerConfigCredentials(t *testing.T) {
	reg, user, pass := imgAuthRegistry(t)
	h := newHarness(t)
	dir := filepath.Join(h.Home, ".docker")
	os.MkdirAll(dir, 0o700)
	h.Chown(dir)
	p := filepath.Join(dir, "config.json")
	cfg := `{"auths":{"` + reg + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}}}`
	os.WriteFile(p, []byte(cfg), 0o600)
	h.Chown(p)
	r := h.Run(0, "pull", "-q", reg+"/cove-test/busybox")
	if !imgHex64.MatchString(strings.TrimSpace(r.Stdout)) {
		t.Errorf("pull with Docker's credentials: %q", r.Stdout)
	}
}
