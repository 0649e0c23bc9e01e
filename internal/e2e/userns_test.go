//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 7, part 3: --userns=keep-id, --uidmap, --gidmap.

func TestUsernsKeepID(t *testing.T) {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Skip("fuse-overlayfs is not installed (hack/setup-test-env.sh installs it)")
	}
	h := newHarness(t)
	loadMulti(t, h)
	loadBusybox(t, h)
	uid, gid := h.user.uid, h.user.gid
	name := h.user.name
	dir := filepath.Join(h.Dir, "work", "shared")
	os.MkdirAll(dir, 0o755)
	h.Chown(dir)

	// Inside: the user's own uid and gid with a passwd entry and a home;
	// the image's files keep their owners (root, app=1000); a file written
	// on a bind mount belongs to the user on the host.
	r := h.Run(0, "run", "--rm", "--userns=keep-id", "-v", dir+":/shared", "-v", "kv:/vol", "--entrypoint", "", "cove-test/multi", "sh", "-c",
		`id -u; id -g; id -un; echo $HOME; stat -c '%u:%g' $HOME /bin /app/hello.txt; touch /shared/f /vol/f; mkdir /shared/d; grep "^`+name+`:" /etc/passwd`)
	want := fmt.Sprintf("%d\n%d\n%s\n/home/%s\n%d:%d\n0:0\n1000:1000\n%s:x:%d:%d:%s:/home/%s:/bin/sh\n", uid, gid, name, name, uid, gid, name, uid, gid, name, name)
	if r.Stdout != want {
		t.Errorf("keep-id inside:\n%s\nwant:\n%s", r.Stdout, want)
	}
	for _, p := range []string{filepath.Join(dir, "f"), filepath.Join(dir, "d")} {
		if u, g := hostOwner(t, p); u != uint32(uid) || g != uint32(gid) {
			t.Errorf("%s is %d:%d on the host, want the user's %d:%d", p, u, g, uid, gid)
		}
	}
	mp := strings.TrimSpace(h.Run(0, "volume", "inspect", "--format", "{{.Mountpoint}}", "kv").Stdout)
	if u, _ := hostOwner(t, filepath.Join(mp, "f")); u != uint32(uid) {
		t.Errorf("a keep-id write in a volume is owned by %d on the host, want %d", u, uid)
	}
	// The image itself was not copied or changed: a plain container still
	// sees root's files as root's and app's as app's.
	r = h.Run(0, "run", "--rm", "--entrypoint", "", "cove-test/multi", "stat", "-c", "%u:%g", "/bin", "/app/hello.txt")
	if r.Stdout != "0:0\n1000:1000\n" {
		t.Errorf("plain container after keep-id: %q", r.Stdout)
	}

	// -u still chooses the user; keep-id:uid=N,gid=N moves the user's ID.
	r = h.Run(0, "run", "--rm", "--userns=keep-id", "-u", "0", "--entrypoint", "", "cove-test/multi", "sh", "-c", "id -u; stat -c %u /app/hello.txt")
	if r.Stdout != "0\n1000\n" {
		t.Errorf("keep-id -u 0: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--userns=keep-id:uid=2000,gid=2000", "-v", dir+":/shared", "--entrypoint", "", "cove-test/multi", "sh", "-c", "id -u; touch /shared/g")
	if r.Stdout != "2000\n" {
		t.Errorf("keep-id:uid=2000: %q", r.Stdout)
	}
	if u, _ := hostOwner(t, filepath.Join(dir, "g")); u != uint32(uid) {
		t.Errorf("keep-id:uid=2000 write owned by %d on the host, want %d", u, uid)
	}

	// Detached, exec defaults to the keep-id user; a restart keeps the
	// home's content.
	h.Run(0, "run", "-d", "--name", "kd", "--userns=keep-id", bb, "sleep", "60")
	r = h.Run(0, "exec", "kd", "sh", "-c", "id -u; echo kept > $HOME/x")
	if r.Stdout != fmt.Sprintf("%d\n", uid) {
		t.Errorf("exec in a keep-id container: %q", r.Stdout)
	}
	h.Run(0, "stop", "-t", "0", "kd")
	h.Run(0, "start", "kd")
	r = h.Run(0, "exec", "kd", "cat", "/home/"+name+"/x")
	if r.Stdout != "kept\n" {
		t.Errorf("home after a restart: %q", r.Stdout)
	}
	h.Run(0, "rm", "-f", "kd")

	// --uidmap/--gidmap: the container's namespace maps as asked.
	r = h.Run(0, "run", "--rm", "--uidmap", "0:1:5000", "--uidmap", "5000:0:1", bb, "sh", "-c", "cat /proc/self/uid_map; stat -c %u:%g /bin/sh")
	if f := strings.Fields(r.Stdout); len(f) != 7 || strings.Join(f[:6], " ") != "0 1 5000 5000 0 1" || f[6] != "0:0" {
		t.Errorf("--uidmap: %q", r.Stdout)
	}

	// Bad values exit 125 naming the value, and nothing is created.
	for _, bad := range [][]string{
		{"--userns", "auto"},
		{"--userns", "keep-id:uid=x"},
		{"--userns", "keep-id", "--uidmap", "0:1:10"},
		{"--uidmap", "0:1"},
		{"--uidmap", "0:1:0"},
		{"--uidmap", "0:1:5000"}, // the user's own ID must be mapped
		{"--gidmap", "0:1:10", "--gidmap", "5:100:10"},
	} {
		args := append(append([]string{"run", "--rm"}, bad...), bb, "true")
		r := h.Run(125, args...)
		if !strings.Contains(r.Stderr, bad[0]) {
			t.Errorf("cove %s: %q", strings.Join(bad, " "), r.Stderr)
		}
	}
	if r := h.Run(0, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("rejected options left containers: %q", r.Stdout)
	}
}

// TestUsernsKeepIDNoSubordinateIDs: keep-id needs the subordinate range and
// says so.
func TestUsernsKeepIDNoSubordinateIDs(t *testing.T) {
	h := newHarnessAs(t, "covenosub")
	loadBusybox(t, h)
	r := h.Run(125, "run", "--rm", "--userns=keep-id", bb, "true")
	if !strings.Contains(r.Stderr, "subordinate") {
		t.Errorf("keep-id without subordinate IDs: %q", r.Stderr)
	}
}

// TestUsernsKeepIDCp: cp works with a running keep-id container (it has a
// user namespace of its own, nested in cove's): what comes out belongs to
// the user on the host.
func TestUsernsKeepIDCp(t *testing.T) {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Skip("fuse-overlayfs is not installed (hack/setup-test-env.sh installs it)")
	}
	h := newHarness(t)
	loadBusybox(t, h)
	src := filepath.Join(h.Dir, "work", "in.txt")
	os.WriteFile(src, []byte("from the host\n"), 0o644)
	h.Chown(src)
	h.Run(0, "run", "-d", "--name", "k", "--userns=keep-id", "cove-test/busybox", "sleep", "300")
	h.Run(0, "cp", src, "k:/tmp/in.txt")
	if r := h.Run(0, "exec", "k", "cat", "/tmp/in.txt"); r.Stdout != "from the host\n" {
		t.Errorf("copied in: %q", r.Stdout)
	}
	out := filepath.Join(h.Dir, "work", "out.txt")
	h.Run(0, "cp", "k:/etc/hostname", out)
	if u, _ := hostOwner(t, out); u != uint32(h.user.uid) {
		t.Errorf("copied out: owned by %d on the host, want the user's %d", u, h.user.uid)
	}
	h.Run(0, "rm", "-f", "k")
}
