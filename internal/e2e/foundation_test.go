//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestVersion(t *testing.T) {
	h := newHarness(t)
	r := h.Run(0, "version")
	for _, want := range []string{"Version:", "Commit:", "Go version:", "Build tags:", "containers_image_openpgp"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = h.Run(0, "version", "--format", "{{.GoVersion}}")
	if !strings.HasPrefix(r.Stdout, "go1.") {
		t.Errorf("--format {{.GoVersion}} = %q", r.Stdout)
	}
	r = h.Run(0, "version", "--format", "json")
	var v map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil || v["version"] == nil {
		t.Errorf("--format json: %v: %q", err, r.Stdout)
	}
	r = h.Run(125, "version", "--format", "{{.Nope")
	if !strings.Contains(r.Stderr, "--format") {
		t.Errorf("bad template error should name --format: %q", r.Stderr)
	}
}

func TestInfoRootless(t *testing.T) {
	h := newHarness(t)
	r := h.Run(0, "info", "--format", "json")
	var in struct {
		Host struct {
			Rootless        bool `json:"rootless"`
			InUserNamespace bool `json:"inUserNamespace"`
			SingleIDMapping bool `json:"singleIDMapping"`
			UIDMap          []struct {
				Inner  int `json:"container_id"`
				Outer  int `json:"host_id"`
				Length int `json:"size"`
			} `json:"uidMap"`
			NewUIDMap string `json:"newuidmap"`
			Network   []struct {
				Name    string `json:"name"`
				Found   bool   `json:"found"`
				Version string `json:"version"`
			} `json:"networkBackends"`
		} `json:"host"`
		Store struct {
			GraphRoot string `json:"graphRoot"`
			RunRoot   string `json:"runRoot"`
			Driver    struct {
				Driver        string `json:"driver"`
				NativeOverlay bool   `json:"nativeOverlay"`
			} `json:"driver"`
		} `json:"store"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &in); err != nil {
		t.Fatalf("info json: %v\n%s", err, r.Stdout)
	}
	if !in.Host.Rootless || !in.Host.InUserNamespace || in.Host.SingleIDMapping {
		t.Errorf("want rootless in a full user namespace, got %+v", in.Host)
	}
	if len(in.Host.UIDMap) < 2 || in.Host.UIDMap[0].Inner != 0 || in.Host.UIDMap[1].Length < 65536 {
		t.Errorf("uid map lacks the subordinate range: %+v", in.Host.UIDMap)
	}
	if !strings.HasSuffix(in.Host.NewUIDMap, "/newuidmap") {
		t.Errorf("info should name newuidmap's path: %q", in.Host.NewUIDMap)
	}
	// hack/setup-test-env.sh installs both helpers; each is reported with a
	// version that says something (a package version when the binary does
	// not know its own).
	for _, want := range []string{"pasta", "slirp4netns"} {
		found := false
		for _, b := range in.Host.Network {
			if b.Name == want && b.Found {
				found = true
				if !strings.ContainsAny(b.Version, "0123456789") {
					t.Errorf("network backend %s: version %q says nothing", want, b.Version)
				}
			}
		}
		if !found {
			t.Errorf("network backend %s not reported: %+v", want, in.Host.Network)
		}
	}
	if in.Store.Driver.Driver != "overlay" || !in.Store.Driver.NativeOverlay {
		t.Errorf("want native overlay, got %+v", in.Store.Driver)
	}
	if !strings.HasPrefix(in.Store.GraphRoot, filepath.Join(h.Dir, "data")) || !strings.HasPrefix(in.Store.RunRoot, filepath.Join(h.Dir, "run")) {
		t.Errorf("roots should follow XDG dirs: %s %s", in.Store.GraphRoot, in.Store.RunRoot)
	}
	r = h.Run(0, "info")
	for _, want := range []string{"Rootless: true", "User namespace: subordinate ranges", "Driver: overlay", "Native overlay: true", "Cgroups:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("info lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func TestUnshareFullMapping(t *testing.T) {
	h := newHarness(t)
	r := h.Run(0, "unshare", "cat", "/proc/self/uid_map")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 map lines, got %q", r.Stdout)
	}
	f := strings.Fields(lines[1])
	if len(f) != 3 || f[0] != "1" || f[2] != "65536" {
		t.Errorf("second line should map 65536 subordinate IDs from 1: %q", lines[1])
	}
	if r.Stderr != "" {
		t.Errorf("no warning expected with subordinate ranges, got %q", r.Stderr)
	}
	h.Run(0, "unshare", "sh", "-c", "test $(id -u) = 0")
	h.Run(7, "unshare", "sh", "-c", "exit 7")
	h.Run(127, "unshare", "no-such-command-xyz")
	// Without a command: the user's shell ($SHELL), as podman unshare, with
	// the store's roots in the environment.
	h.Setenv("SHELL", "/bin/sh")
	r = h.RunIn([]byte("echo \"$0 $(id -u) $CONTAINERS_GRAPHROOT\"\n"), 0, "unshare")
	if want := "/bin/sh 0 " + filepath.Join(h.Dir, "data", "cove", "storage"); strings.TrimSpace(r.Stdout) != want {
		t.Errorf("unshare without a command: %q, want %q", r.Stdout, want)
	}
	// The namespace can create files owned by subordinate IDs, and clean
	// them up again.
	p := filepath.Join(h.Dir, "data", "owned")
	h.Run(0, "unshare", "sh", "-c", "touch "+p+" && chown 1000:1000 "+p)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if uid := statUID(st); uid < 200000 {
		t.Errorf("file chowned to 1000 inside should belong to a subordinate uid outside, got %d", uid)
	}
}

func TestSingleIDFallback(t *testing.T) {
	name := env["COVE_TEST_NOSUB_USER"]
	if name == "" {
		name = "covenosub"
	}
	h := newHarnessAs(t, name)
	r := h.Run(0, "unshare", "cat", "/proc/self/uid_map")
	if n := len(strings.Split(strings.TrimSpace(r.Stdout), "\n")); n != 1 {
		t.Errorf("single-ID mapping should have one line, got %q", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "usermod --add-subuids") || strings.Count(r.Stderr, "warning") != 1 {
		t.Errorf("want exactly one warning naming the fix, got %q", r.Stderr)
	}
	r = h.Run(0, "info", "--format", "{{.Host.SingleIDMapping}}")
	if strings.TrimSpace(r.Stdout) != "true" {
		t.Errorf("info should report the single-ID mapping, got %q", r.Stdout)
	}
	// Containers run as root there (root's supplementary group 0 from the
	// image's /etc/group is its primary group, not a switch), and exec
	// joins them; another user does not exist in that namespace.
	loadBusybox(t, h)
	r = h.Run(0, "run", "--rm", bb, "id", "-u")
	if strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("run in a single-ID namespace: %q %q", r.Stdout, r.Stderr)
	}
	r = h.Run(0, "run", "-d", "--name", "single", bb, "sleep", "60")
	r = h.Run(0, "exec", "single", "id", "-u")
	if strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("exec in a single-ID namespace: %q %q", r.Stdout, r.Stderr)
	}
	h.Run(0, "rm", "-f", "single")
	r = h.Run(125, "run", "--rm", "--user", "1000", bb, "true")
	if !strings.Contains(r.Stderr, "single-ID") {
		t.Errorf("--user 1000 with a single-ID mapping should say why it fails: %q", r.Stderr)
	}
}

func TestRunRootFallback(t *testing.T) {
	h := newHarness(t)
	h.Unsetenv("XDG_RUNTIME_DIR")
	r := h.Run(0, "info", "--format", "{{.Store.RunRoot}}")
	rr := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(rr, os.TempDir()+"/cove-run-") {
		t.Fatalf("run root without XDG_RUNTIME_DIR = %q", rr)
	}
	// The keeper of the user namespace records itself there too.
	keeper := keeperIn(rr)
	if keeper == 0 {
		t.Errorf("no user namespace keeper recorded in %s", rr)
	}
	if keeper != 0 {
		t.Cleanup(func() { syscall.Kill(keeper, syscall.SIGKILL) })
	}
	st, err := os.Stat(rr)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("fallback run root mode %o, want 700", st.Mode().Perm())
	}
	r = h.Run(0, "--log-level", "debug", "info", "--format", "{{.Store.RunRootFallback}}")
	if !strings.Contains(r.Stdout, "XDG_RUNTIME_DIR is not set") {
		t.Errorf("fallback reason missing: %q", r.Stdout)
	}
}

func TestGlobalFlagsAndConfig(t *testing.T) {
	h := newHarness(t)
	root := filepath.Join(h.Dir, "data", "custom-root")
	r := h.Run(0, "--root", root, "info", "--format", "{{.Store.GraphRoot}}")
	if strings.TrimSpace(r.Stdout) != root {
		t.Errorf("--root ignored: %q", r.Stdout)
	}
	r = h.Run(125, "--storage-driver", "zfs", "info")
	if !strings.Contains(r.Stderr, `"zfs"`) {
		t.Errorf("bad driver error should name it: %q", r.Stderr)
	}
	r = h.Run(125, "--log-level", "loud", "version")
	if !strings.Contains(r.Stderr, "loud") {
		t.Errorf("bad log level error should name it: %q", r.Stderr)
	}
	r = h.Run(125, "no-such-verb")
	if !strings.Contains(r.Stderr, "unknown command") {
		t.Errorf("unknown command: %q", r.Stderr)
	}
	r = h.Run(125, "version", "--bogus")
	if !strings.Contains(r.Stderr, "unknown flag") {
		t.Errorf("unknown flag: %q", r.Stderr)
	}

	cfgDir := filepath.Join(h.Dir, "config", "cove")
	os.MkdirAll(cfgDir, 0o755)
	h.Chown(cfgDir)
	cfg := filepath.Join(cfgDir, "cove.toml")
	os.WriteFile(cfg, []byte("[storage]\ngraphroot = \""+filepath.Join(h.Dir, "data", "from-toml")+"\"\n"), 0o644)
	h.Chown(cfg)
	r = h.Run(0, "info", "--format", "{{.Store.GraphRoot}}")
	if strings.TrimSpace(r.Stdout) != filepath.Join(h.Dir, "data", "from-toml") {
		t.Errorf("cove.toml graphroot ignored: %q", r.Stdout)
	}
	os.WriteFile(cfg, []byte("[storage]\ngrafroot = \"x\"\n"), 0o644)
	r = h.Run(125, "info")
	if !strings.Contains(r.Stderr, "cove.toml") || !strings.Contains(r.Stderr, "grafroot") {
		t.Errorf("unknown key error should name the file and key: %q", r.Stderr)
	}
	os.WriteFile(cfg, []byte("[storage\n"), 0o644)
	h.Run(125, "info")
}

// TestGoEntryFallback exercises the pure-Go user-namespace entry, used
// when the C constructor stands aside (builds without cgo, or
// _COVE_USERNS_GO set): it must produce the same namespace.
func TestGoEntryFallback(t *testing.T) {
	h := newHarness(t)
	h.Setenv("_COVE_USERNS_GO", "1")
	r := h.Run(0, "unshare", "cat", "/proc/self/uid_map")
	if n := len(strings.Split(strings.TrimSpace(r.Stdout), "\n")); n != 2 {
		t.Errorf("Go entry: want the full 2-line mapping, got %q", r.Stdout)
	}
	h.Run(9, "unshare", "sh", "-c", "exit 9")
	r = h.Run(0, "info", "--format", "{{.Host.InUserNamespace}} {{.Host.SingleIDMapping}}")
	if strings.TrimSpace(r.Stdout) != "true false" {
		t.Errorf("Go entry: info = %q", r.Stdout)
	}
}
