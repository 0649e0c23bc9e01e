//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helpersWorkingIn lists live pasta/slirp4netns processes whose working
// directory is under dir: a helper started before its container exists
// works in the run root.
func helpersWorkingIn(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		c := strings.TrimSpace(string(comm))
		if !strings.Contains(c, "pasta") && !strings.Contains(c, "passt") && !strings.Contains(c, "slirp4netns") {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			s := string(st)
			if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
				continue
			}
		}
		out = append(out, e.Name()+":"+c)
	}
	return out
}

// The default network of a foreground container starts before the
// container exists (so that pasta's start overlaps the create); the
// container still gets it, and a run that fails after that leaves no
// helper behind.
func TestRunNetworkStartedEarly(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	r := h.Run(0, "run", "--rm", bb, "sh", "-c", "ip route | grep -c '^default'; cat /proc/net/dev | grep -c -v -e lo: -e Inter -e face")
	if f := strings.Fields(r.Stdout); len(f) != 2 || f[0] != "1" || f[1] != "1" {
		t.Errorf("default route and interface in a foreground container: %q", r.Stdout)
	}
	// The container's init joined the namespace the helper serves: its
	// network namespace is not the host's and it is the one pasta set up.
	host, _ := os.Readlink("/proc/self/ns/net")
	r = h.Run(0, "run", "--rm", bb, "readlink", "/proc/self/ns/net")
	if ns := strings.TrimSpace(r.Stdout); ns == host || !strings.HasPrefix(ns, "net:[") {
		t.Errorf("the container's network namespace %q (host %s)", ns, host)
	}
	// Failures after the helper started: no such image, a command that
	// cannot run.
	h.Run(125, "run", "--rm", "--pull", "never", "no-such-image", "true")
	h.Run(127, "run", "--rm", bb, "/no/such/command")
	runRoot := filepath.Join(h.Dir, "run")
	waitFor(t, 5*time.Second, "no network helper left in "+runRoot, func() bool { return len(helpersWorkingIn(runRoot)) == 0 })
	if logs, _ := filepath.Glob(filepath.Join(runRoot, "cove", "network-*.log")); len(logs) != 0 {
		t.Errorf("early helpers' logs left: %v", logs)
	}
}

// --network ns:PATH joins the network namespace a path names, here another
// container's (Podman's mode).
func TestNetworkNamespacePath(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	h.Run(0, "run", "-d", "--name", "owner", "--network", "none", bb, "sleep", "60")
	pid := strings.TrimSpace(h.Run(0, "inspect", "-f", "{{.State.Pid}}", "owner").Stdout)
	want := strings.TrimSpace(h.Run(0, "exec", "owner", "readlink", "/proc/self/ns/net").Stdout)
	r := h.Run(0, "run", "--rm", "--network", "ns:/proc/"+pid+"/ns/net", bb, "readlink", "/proc/self/ns/net")
	if got := strings.TrimSpace(r.Stdout); got != want || want == "" {
		t.Errorf("--network ns:/proc/%s/ns/net: in %q, the owner in %q", pid, got, want)
	}
	r = h.Run(0, "run", "-d", "--name", "joined", "--network", "ns:/proc/"+pid+"/ns/net", bb, "sleep", "60")
	if got := strings.TrimSpace(h.Run(0, "exec", "joined", "readlink", "/proc/self/ns/net").Stdout); got != want {
		t.Errorf("detached --network ns: in %q, want %q", got, want)
	}
	h.Run(0, "rm", "-f", "joined", "owner")
}

// The default network's helper: slirp4netns for a container that
// publishes no port, pasta for one that does, unless cove.toml's
// [network] helper says otherwise (decision 14).
func TestNetworkDefaultHelper(t *testing.T) {
	needPasta(t)
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns is not installed")
	}
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	addr := func(args ...string) string {
		t.Helper()
		a := append(append([]string{"run", "--rm"}, args...), bb, "ip", "-4", "-o", "addr")
		return h.Run(0, a...).Stdout
	}
	if out := addr(); !strings.Contains(out, "10.0.2.100") {
		t.Errorf("no published port: want slirp4netns's 10.0.2.100:\n%s", out)
	}
	if out := addr("-p", "80"); strings.Contains(out, "10.0.2.100") || !strings.Contains(out, "global") {
		t.Errorf("a published port: want pasta's interface:\n%s", out)
	}
	writeCoveToml(t, h, "[network]\nhelper = \"pasta\"\n")
	if out := addr(); strings.Contains(out, "10.0.2.100") {
		t.Errorf("helper = pasta: still slirp4netns:\n%s", out)
	}
	writeCoveToml(t, h, "[network]\nhelper = \"slirp4netns\"\n")
	if out := addr("-p", "80"); !strings.Contains(out, "10.0.2.100") {
		t.Errorf("helper = slirp4netns with a published port:\n%s", out)
	}
	writeCoveToml(t, h, "[network]\nhelper = \"bogus\"\n")
	r := h.Run(125, "run", "--rm", bb, "true")
	if !strings.Contains(r.Stderr, `"bogus"`) || !strings.Contains(r.Stderr, "helper") {
		t.Errorf("a bad helper: %q", r.Stderr)
	}
	writeCoveToml(t, h, "")
	if r := h.Run(0, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("bad config left containers: %q", r.Stdout)
	}
}
