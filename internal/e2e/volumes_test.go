//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Issue 7: named and anonymous volumes, the full -v/--mount syntax, and
// file ownership on the host.

// hostOwner returns the owner of a host path, as the test runner sees it.
func hostOwner(t *testing.T, p string) (uid, gid uint32) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return st.Uid, st.Gid
}

// volumeNames returns `volume ls -q` as a list.
func volumeNames(h *Harness, args ...string) []string {
	h.t.Helper()
	r := h.Run(0, append([]string{"volume", "ls", "-q"}, args...)...)
	return strings.Fields(r.Stdout)
}

func TestVolumeCommands(t *testing.T) {
	h := newHarness(t)
	// create prints the name; an existing name is not an error.
	r := h.Run(0, "volume", "create", "--label", "team=a", "v1")
	if r.Stdout != "v1\n" {
		t.Errorf("volume create: %q", r.Stdout)
	}
	h.Run(0, "volume", "create", "v1")
	h.Run(0, "volume", "create", "v2")
	r = h.Run(0, "volume", "create")
	anon := strings.TrimSpace(r.Stdout)
	if len(anon) != 64 {
		t.Errorf("volume create without a name printed %q, want a 64-digit name", r.Stdout)
	}
	h.Run(0, "volume", "create", "--opt", "type=tmpfs", "--opt", "o=size=1m,mode=700", "tmp1")

	// ls: table, -q, filters, --format.
	r = h.Run(0, "volume", "ls")
	if !strings.HasPrefix(r.Stdout, "DRIVER") || !strings.Contains(r.Stdout, "local     v1\n") {
		t.Errorf("volume ls:\n%s", r.Stdout)
	}
	if got := volumeNames(h, "--filter", "label=team=a"); strings.Join(got, ",") != "v1" {
		t.Errorf("ls --filter label=team=a: %q", got)
	}
	if got := volumeNames(h, "--filter", "name=v"); strings.Join(got, ",") != "v1,v2" {
		t.Errorf("ls --filter name=v: %q", got)
	}
	r = h.Run(0, "volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "--filter", "name=v1")
	if r.Stdout != "v1 local team=a\n" {
		t.Errorf("ls --format: %q", r.Stdout)
	}
	r = h.Run(125, "volume", "ls", "--filter", "colour=red")
	if !strings.Contains(r.Stderr, "colour=red") {
		t.Errorf("bad filter: %q", r.Stderr)
	}

	// inspect: Docker's fields; the mountpoint is a directory on the host.
	r = h.Run(0, "volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.team}}", "v1")
	if r.Stdout != "v1 local local a\n" {
		t.Errorf("inspect --format: %q", r.Stdout)
	}
	mp := strings.TrimSpace(h.Run(0, "volume", "inspect", "--format", "{{.Mountpoint}}", "v1").Stdout)
	if st, err := os.Stat(mp); err != nil || !st.IsDir() {
		t.Errorf("mountpoint %q: %v", mp, err)
	}
	r = h.Run(0, "volume", "inspect", "tmp1")
	if !strings.Contains(r.Stdout, `"type": "tmpfs"`) || !strings.HasPrefix(r.Stdout, "[") {
		t.Errorf("inspect tmpfs volume:\n%s", r.Stdout)
	}
	// Plain inspect finds volumes after containers and images, as Docker.
	r = h.Run(0, "inspect", "--format", "{{.Name}} {{.Driver}}", "v1")
	if r.Stdout != "v1 local\n" {
		t.Errorf("inspect VOLUME: %q", r.Stdout)
	}
	h.Run(0, "inspect", "--type", "volume", "v1")
	r = h.Run(125, "volume", "inspect", "nope")
	if !strings.Contains(r.Stderr, "no such volume: nope") {
		t.Errorf("inspect missing: %q", r.Stderr)
	}

	// exists.
	h.Run(0, "volume", "exists", "v1")
	h.Run(1, "volume", "exists", "nope")

	// Bad input: exit 125 naming the input, nothing created.
	for _, bad := range [][]string{
		{"volume", "create", "bad/name"},
		{"volume", "create", ".hidden"},
		{"volume", "create", "a"},
		{"volume", "create", "--opt", "type=nfs", "x1"},
		{"volume", "create", "--opt", "colour=red", "x2"},
		{"volume", "create", "--opt", "type=tmpfs", "--opt", "o=size=lots", "x3"},
		{"volume", "create", "--opt", "type=tmpfs", "--opt", "o=mode=99999", "x4"},
		{"volume", "create", "--opt", "type=bind", "--opt", "device=relative", "x5"},
		{"volume", "create", "--opt", "type=bind", "--opt", "device=/nonexistent-vol", "x6"},
		{"volume", "create", "--driver", "nfs", "x7"},
	} {
		r := h.Run(125, bad...)
		if !strings.Contains(r.Stderr, "Error") {
			t.Errorf("cove %s: %q", strings.Join(bad, " "), r.Stderr)
		}
	}
	if got := volumeNames(h); len(got) != 4 {
		t.Errorf("bad creates left volumes: %q", got)
	}

	// rm: a missing volume is an error unless -f; the output names what
	// was removed.
	r = h.Run(0, "volume", "rm", "v2")
	if r.Stdout != "v2\n" {
		t.Errorf("volume rm: %q", r.Stdout)
	}
	h.Run(125, "volume", "rm", "v2")
	h.Run(0, "volume", "rm", "-f", "v2")

	// prune: anonymous volumes only (a container's; `volume create`
	// without a name makes a named volume with a random name, as in
	// Docker); -a also the named ones.
	r = h.Run(0, "volume", "prune", "-f")
	if r.Stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("prune without anonymous volumes: %q", r.Stdout)
	}
	if got := volumeNames(h); strings.Join(got, ",") != anon+",tmp1,v1" {
		t.Errorf("after prune: %q (created %s)", got, anon)
	}
	// Docker's total: the content's size (1200 bytes, a second link
	// to the same file counted once).
	if err := os.WriteFile(filepath.Join(mp, "f"), make([]byte, 1200), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(mp, "f"), filepath.Join(mp, "g")); err != nil {
		t.Fatal(err)
	}
	r = h.Run(0, "volume", "prune", "-f", "-a", "--filter", "label=team=a")
	if r.Stdout != "Deleted Volumes:\nv1\n\nTotal reclaimed space: 1.2kB\n" {
		t.Errorf("prune -a --filter: %q", r.Stdout)
	}
	if got := volumeNames(h); strings.Join(got, ",") != anon+",tmp1" {
		t.Errorf("after prune -a --filter: %q", got)
	}
}

func TestVolumeRun(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	// A new named volume gets the image's content at its path (Docker),
	// with the image's ownership and modes; data outlives the container.
	r := h.Run(0, "run", "--rm", "-v", "etc:/etc", bb, "sh", "-c", "ls /etc/passwd && echo kept > /etc/mine")
	if r.Stdout != "/etc/passwd\n" {
		t.Errorf("copy-up: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--mount", "type=volume,src=etc,dst=/data,readonly", bb, "sh", "-c",
		"cat /data/mine; test -f /data/passwd && echo passwd; touch /data/x 2>/dev/null && echo written || echo refused")
	if r.Stdout != "kept\npasswd\nrefused\n" {
		t.Errorf("volume reused read-only: %q", r.Stdout)
	}
	mp := strings.TrimSpace(h.Run(0, "volume", "inspect", "--format", "{{.Mountpoint}}", "etc").Stdout)
	if uid, _ := hostOwner(t, filepath.Join(mp, "mine")); uid != uint32(h.user.uid) {
		t.Errorf("a file root wrote in a volume is owned by %d on the host, want the user's %d", uid, h.user.uid)
	}
	// volume-nocopy (and :nocopy) leave a new volume empty.
	// (/etc/hosts, hostname and resolv.conf are cove's binds on top.)
	r = h.Run(0, "run", "--rm", "--mount", "type=volume,src=empty,dst=/etc,volume-nocopy", bb, "ls", "-A", "/etc")
	if r.Stdout != "hostname\nhosts\nresolv.conf\n" {
		t.Errorf("volume-nocopy: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "-v", "empty2:/etc:nocopy", bb, "ls", "-A", "/etc")
	if r.Stdout != "hostname\nhosts\nresolv.conf\n" {
		t.Errorf(":nocopy: %q", r.Stdout)
	}

	// A volume in use cannot be removed; with its container gone it can.
	h.Run(0, "create", "--name", "user1", "-v", "etc:/x", bb, "true")
	r = h.Run(0, "ps", "-a", "--filter", "volume=etc", "--format", "{{.Names}}")
	if r.Stdout != "user1\n" {
		t.Errorf("ps --filter volume=etc: %q", r.Stdout)
	}
	r = h.Run(0, "ps", "-a", "--filter", "volume=/x", "--format", "{{.Names}}")
	if r.Stdout != "user1\n" {
		t.Errorf("ps --filter volume=/x: %q", r.Stdout)
	}
	r = h.Run(125, "volume", "rm", "-f", "etc")
	if !strings.Contains(r.Stderr, "in use") || !strings.Contains(r.Stderr, "user1") {
		t.Errorf("volume rm of a used volume: %q", r.Stderr)
	}
	// --volumes-from: the other container's volumes, :ro forcing read-only.
	r = h.Run(0, "run", "--rm", "--volumes-from", "user1:ro", bb, "sh", "-c", "cat /x/mine; touch /x/y 2>/dev/null && echo written || echo refused")
	if r.Stdout != "kept\nrefused\n" {
		t.Errorf("--volumes-from: %q", r.Stdout)
	}
	h.Run(125, "run", "--rm", "--volumes-from", "nosuch", bb, "true")
	h.Run(0, "rm", "user1")
	h.Run(0, "volume", "rm", "etc")

	// Anonymous volumes: -v /path and --mount without a source; rm keeps
	// them, rm -v and --rm remove them.
	before := len(volumeNames(h))
	h.Run(0, "run", "--name", "anon1", "-v", "/a", "--mount", "type=volume,dst=/b", bb, "sh", "-c", "echo 1 > /a/f")
	r = h.Run(0, "inspect", "--format", "{{range .Mounts}}{{.Type}} {{.Destination}} {{len .Name}} {{.Driver}};{{end}}", "anon1")
	if r.Stdout != "volume /a 64 local;volume /b 64 local;\n" {
		t.Errorf("inspect .Mounts of anonymous volumes: %q", r.Stdout)
	}
	if got := len(volumeNames(h)); got != before+2 {
		t.Errorf("anonymous volumes: %d volumes, want %d", got, before+2)
	}
	if got := volumeNames(h, "--filter", "dangling=true"); len(got) != 2 {
		t.Errorf("dangling=true while anon1 exists: %q (empty and empty2 expected)", got)
	}
	h.Run(0, "rm", "-v", "anon1")
	if got := len(volumeNames(h)); got != before {
		t.Errorf("rm -v left %d volumes, want %d", got, before)
	}
	h.Run(0, "run", "--rm", "-v", "/a", bb, "true")
	if got := len(volumeNames(h)); got != before {
		t.Errorf("run --rm left %d volumes, want %d", got, before)
	}
	// Shared through --volumes-from: the last rm -v removes it.
	h.Run(0, "create", "--name", "share1", "-v", "/s", bb, "true")
	h.Run(0, "create", "--name", "share2", "--volumes-from", "share1", bb, "true")
	h.Run(0, "rm", "-v", "share1")
	if got := len(volumeNames(h)); got != before+1 {
		t.Errorf("rm -v of one of two sharing containers: %d volumes, want %d", got, before+1)
	}
	h.Run(0, "rm", "-v", "share2")
	if got := len(volumeNames(h)); got != before {
		t.Errorf("rm -v of the last sharing container left %d volumes, want %d", got, before)
	}
	h.Run(0, "run", "--name", "anon2", "-v", "/a", bb, "true")
	h.Run(0, "rm", "anon2")
	if got := len(volumeNames(h)); got != before+1 {
		t.Errorf("rm without -v: %d volumes, want %d (Docker keeps them)", got, before+1)
	}

	// A tmpfs volume is a fresh tmpfs of its size.
	h.Run(0, "volume", "create", "--opt", "type=tmpfs", "--opt", "o=size=1m", "t1")
	r = h.Run(0, "run", "--rm", "-v", "t1:/t", bb, "sh", "-c", "grep ' /t ' /proc/self/mountinfo; df -k /t | tail -1")
	if !strings.Contains(r.Stdout, " - tmpfs ") || !strings.Contains(r.Stdout, " 1024 ") {
		t.Errorf("tmpfs volume: %q", r.Stdout)
	}
	// Only the volume's own options, not --tmpfs's noexec/nosuid/nodev
	// (Docker's local driver).
	if strings.Contains(r.Stdout, "noexec") || strings.Contains(r.Stdout, "nosuid") {
		t.Errorf("tmpfs volume mounted with --tmpfs defaults: %q", r.Stdout)
	}
	// A bind volume binds its device.
	dir := filepath.Join(h.Dir, "work", "bindvol")
	os.MkdirAll(dir, 0o755)
	h.Chown(dir)
	os.WriteFile(filepath.Join(dir, "f"), []byte("host\n"), 0o644)
	h.Run(0, "volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device="+dir, "b1")
	r = h.Run(0, "run", "--rm", "-v", "b1:/b", bb, "cat", "/b/f")
	if r.Stdout != "host\n" {
		t.Errorf("bind volume: %q", r.Stdout)
	}
}

// TestVolumeImageVolumes: an image VOLUME gets an anonymous volume unless
// a user mount covers it.
func TestVolumeImageVolumes(t *testing.T) {
	h := newHarness(t)
	loadMulti(t, h)
	h.Run(0, "create", "--name", "m1", "--entrypoint", "", "cove-test/multi", "true")
	r := h.Run(0, "inspect", "--format", "{{range .Mounts}}{{.Type}} {{.Destination}}{{end}}", "m1")
	if r.Stdout != "volume /data\n" {
		t.Errorf("image VOLUME: %q", r.Stdout)
	}
	if got := volumeNames(h); len(got) != 1 {
		t.Errorf("volumes after create: %q", got)
	}
	h.Run(0, "create", "--name", "m2", "-v", "mine:/data", "--entrypoint", "", "cove-test/multi", "true")
	if got := volumeNames(h); len(got) != 2 {
		t.Errorf("a user volume over the image VOLUME should replace it: %q", got)
	}
	h.Run(0, "rm", "-v", "m1", "m2")
	if got := volumeNames(h); strings.Join(got, ",") != "mine" {
		t.Errorf("after rm -v: %q", got)
	}
}

func TestVolumeBindOptions(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	work := filepath.Join(h.Dir, "work")
	// -v creates a missing host directory, owned by the user.
	missing := filepath.Join(work, "made", "here")
	h.Run(0, "run", "--rm", "-v", missing+":/m:z", bb, "sh", "-c", "echo hi > /m/f")
	if uid, gid := hostOwner(t, filepath.Join(missing, "f")); uid != uint32(h.user.uid) || gid != uint32(h.user.gid) {
		t.Errorf("root's file on a bind is %d:%d on the host, want the user's %d:%d", uid, gid, h.user.uid, h.user.gid)
	}
	if uid, _ := hostOwner(t, missing); uid != uint32(h.user.uid) {
		t.Errorf("created host directory owned by %d", uid)
	}
	// :U chowns the source to the container's user: subordinate ID
	// 1000 is host uid start+999.
	udir := filepath.Join(work, "u")
	os.MkdirAll(filepath.Join(udir, "deep"), 0o755)
	h.Chown(udir)
	h.Chown(filepath.Join(udir, "deep"))
	r := h.Run(0, "run", "--rm", "-v", udir+":/u:U", "-u", "1000:1000", bb, "sh", "-c", "stat -c %u:%g /u /u/deep; touch /u/deep/f && echo ok")
	if r.Stdout != "1000:1000\n1000:1000\nok\n" {
		t.Errorf(":U inside: %q", r.Stdout)
	}
	us, gs := subordinateStart(t, "/etc/subuid", h.user.name), subordinateStart(t, "/etc/subgid", h.user.name)
	if uid, gid := hostOwner(t, filepath.Join(udir, "deep")); us > 0 && (uid != us+999 || gid != gs+999) {
		t.Errorf(":U: host owner %d:%d, want the subordinate IDs %d:%d (container 1000)", uid, gid, us+999, gs+999)
	}
	// A symlink source is bound as its target.
	target := filepath.Join(work, "target")
	os.MkdirAll(target, 0o755)
	h.Chown(target)
	os.WriteFile(filepath.Join(target, "f"), []byte("through the link\n"), 0o644)
	link := filepath.Join(work, "link")
	os.Symlink(target, link)
	os.Lchown(link, h.user.uid, h.user.gid)
	r = h.Run(0, "run", "--rm", "-v", link+":/l", bb, "sh", "-c", "cat /l/f; grep ' /l ' /proc/self/mountinfo")
	if !strings.HasPrefix(r.Stdout, "through the link\n") || !strings.Contains(r.Stdout, "/target /l ") {
		t.Errorf("symlink source: %q", r.Stdout)
	}
	// Every propagation mode is accepted (rootless, a container's mount
	// namespace can receive host mounts at most, so the rootfs is rslave).
	for _, p := range []string{"rshared", "shared", "rslave", "slave", "rprivate", "private"} {
		r := h.Run(0, "run", "--rm", "--mount", "type=bind,src="+udir+",dst=/p,bind-propagation="+p, bb, "grep", "-c", " /p ", "/proc/self/mountinfo")
		if r.Stdout != "1\n" {
			t.Errorf("bind-propagation=%s: %q", p, r.Stdout)
		}
	}

	// :O: the container writes over the source, the host never sees it,
	// and a restart starts from the source again.
	odir := filepath.Join(work, "over")
	os.MkdirAll(odir, 0o755)
	h.Chown(odir)
	os.WriteFile(filepath.Join(odir, "f"), []byte("orig\n"), 0o644)
	h.Chown(filepath.Join(odir, "f"))
	r = h.Run(0, "run", "--name", "ov", "-v", odir+":/o:O", bb, "sh", "-c", "cat /o/f; echo changed > /o/f; echo x > /o/new; cat /o/f")
	if r.Stdout != "orig\nchanged\n" {
		t.Errorf(":O in the container: %q", r.Stdout)
	}
	r = h.Run(0, "start", "-a", "ov")
	if r.Stdout != "orig\nchanged\n" {
		t.Errorf(":O after a restart: %q", r.Stdout)
	}
	h.Run(0, "rm", "ov")
	if b, _ := os.ReadFile(filepath.Join(odir, "f")); string(b) != "orig\n" {
		t.Errorf(":O changed the host file: %q", b)
	}
	if _, err := os.Stat(filepath.Join(odir, "new")); !os.IsNotExist(err) {
		t.Errorf(":O created a host file: %v", err)
	}

	// Bad specs exit 125 naming the spec and create nothing.
	nothing := filepath.Join(work, "never")
	for _, bad := range [][]string{
		{"-v", nothing + ":/x:bogus"},
		{"-v", nothing + ":/x:ro,rw"},
		{"-v", nothing + ":relative"},
		{"-v", nothing + ":/x/../y"},
		{"-v", nothing + ":/"},
		{"-v", "bad!name:/x"},
		{"-v", nothing + ":/x", "-v", nothing + ":/x"},
		{"--mount", "type=bind,src=" + nothing + ",dst=/x,tmpfs-size=1m"},
		{"--mount", "type=tmpfs,dst=/x,tmpfs-size=-1"},
		{"--mount", "type=tmpfs,dst=/x,tmpfs-mode=0999"},
		{"--mount", "type=volume,src=../evil,dst=/x"},
		{"--mount", "type=bind,dst=/x"},
		{"--mount", "type=nfs,dst=/x"},
		{"--tmpfs", "/x:size=lots"},
		{"--volumes-from", "c1:rx"},
	} {
		args := append(append([]string{"run", "--rm"}, bad...), bb, "true")
		r := h.Run(125, args...)
		named := bad[1]
		if i := strings.IndexAny(named, ":,"); i > 0 && !strings.Contains(r.Stderr, named) {
			named = named[:i]
		}
		if !strings.Contains(r.Stderr, named) {
			t.Errorf("cove %s: error does not name the spec: %q", strings.Join(bad, " "), r.Stderr)
		}
	}
	if _, err := os.Stat(nothing); !os.IsNotExist(err) {
		t.Errorf("a rejected spec created %s", nothing)
	}
	if got := volumeNames(h); len(got) != 0 {
		t.Errorf("rejected specs created volumes: %q", got)
	}
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("rejected specs created containers: %q", r.Stdout)
	}
}

// TestVolumeConcurrentAndRollback: parallel first uses of one new volume
// all see the complete copy of the image's content; a create that fails
// after choosing its volumes leaves none of the ones it made.
func TestVolumeConcurrentAndRollback(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	results := h.RunParallel(6, func(int) []string {
		return []string{"run", "--rm", "-v", "shared:/etc", bb, "sh", "-c", "cat /etc/passwd | head -1; ls /etc | wc -l"}
	})
	for i, r := range results {
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "root:") || r.Stdout != results[0].Stdout {
			t.Errorf("run %d: exit %d, %q (first: %q)\n%s", i, r.Code, r.Stdout, results[0].Stdout, r.Stderr)
		}
	}
	if got := volumeNames(h); strings.Join(got, ",") != "shared" {
		t.Errorf("volumes after parallel runs: %q", got)
	}
	// The name is taken: the create fails after its volumes were chosen.
	h.Run(0, "create", "--name", "taken", bb, "true")
	r := h.Run(125, "create", "--name", "taken", "-v", "fresh:/x", "-v", "/anon", bb, "true")
	if !strings.Contains(r.Stderr, "taken") {
		t.Errorf("name clash: %q", r.Stderr)
	}
	if got := volumeNames(h); strings.Join(got, ",") != "shared" {
		t.Errorf("a failed create left volumes: %q", got)
	}
}

// subordinateStart returns the start of the user's range in file
// (/etc/subuid or /etc/subgid): the host ID of container ID 1; 0 if none.
func subordinateStart(t *testing.T, file, name string) uint32 {
	t.Helper()
	b, _ := os.ReadFile(file)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 3 && f[0] == name {
			n, _ := strconv.ParseUint(f[1], 10, 32)
			return uint32(n)
		}
	}
	return 0
}

// --mount type=volume,volume-opt=KEY=VALUE creates the volume with those
// options, as `volume create --opt` (Docker passes them to the local
// driver); a volume that exists keeps its own, as in Docker.
func TestVolumeMountVolumeOpt(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	tmpfsAt := func(r Result) string {
		for _, l := range strings.Split(r.Stdout, "\n") {
			if f := strings.Fields(l); len(f) >= 4 && f[1] == "/t" {
				return f[2] + " " + f[3]
			}
		}
		return ""
	}
	r := h.Run(0, "run", "--rm", "--mount", "type=volume,src=vo1,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=10m", bb, "cat", "/proc/mounts")
	if got := tmpfsAt(r); !strings.HasPrefix(got, "tmpfs ") || !strings.Contains(got, "size=10240k") {
		t.Errorf("volume-opt tmpfs of 10m: /t is %q", got)
	}
	r = h.Run(0, "volume", "inspect", "--format", "{{.Options.type}} {{.Options.device}} {{.Options.o}}", "vo1")
	if r.Stdout != "tmpfs tmpfs size=10m\n" {
		t.Errorf("volume inspect: %q", r.Stdout)
	}
	// Existing: the options given now are ignored.
	r = h.Run(0, "run", "--rm", "--mount", "type=volume,src=vo1,dst=/t,volume-opt=type=tmpfs,volume-opt=o=size=20m", bb, "cat", "/proc/mounts")
	if got := tmpfsAt(r); !strings.Contains(got, "size=10240k") {
		t.Errorf("an existing volume's options should stay: /t is %q", got)
	}
	// An anonymous volume takes them too (a quoted value with commas).
	r = h.Run(0, "run", "--rm", "--mount", `type=volume,dst=/t,"volume-opt=o=size=1m,mode=700",volume-opt=type=tmpfs`, bb, "cat", "/proc/mounts")
	if got := tmpfsAt(r); !strings.Contains(got, "size=1024k") || !strings.Contains(got, "mode=700") {
		t.Errorf("anonymous volume with volume-opt: /t is %q", got)
	}
	// A bind volume from volume-opt.
	dir := h.WriteFile("bindsrc/hello", []byte("hi\n"))
	r = h.Run(0, "run", "--rm", "--mount", "type=volume,src=vo2,dst=/t,volume-opt=type=none,volume-opt=o=bind,volume-opt=device="+filepath.Dir(dir), bb, "cat", "/t/hello")
	if r.Stdout != "hi\n" {
		t.Errorf("bind volume from volume-opt: %q", r.Stdout)
	}

	// Bad options: exit 125 naming them; no volume, no container.
	before := volumeNames(h)
	for _, bad := range []string{
		"type=volume,src=vo3,dst=/t,volume-opt=type=nfs",
		"type=volume,src=vo3,dst=/t,volume-opt=colour=red",
		"type=volume,src=vo3,dst=/t,volume-opt=type=tmpfs,volume-opt=o=size=lots",
		"type=volume,src=vo3,dst=/t,volume-opt=type=bind",
		"type=volume,src=vo3,dst=/t,volume-opt=nokey",
		"type=bind,src=/tmp,dst=/t,volume-opt=type=tmpfs",
	} {
		r := h.Run(125, "run", "--rm", "--mount", bad, bb, "true")
		if !strings.Contains(r.Stderr, "volume-opt") || !strings.Contains(r.Stderr, bad) {
			t.Errorf("--mount %s: %q", bad, r.Stderr)
		}
	}
	if got := volumeNames(h); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("bad volume-opt changed the volumes: %q, was %q", got, before)
	}
	if r := h.Run(0, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("bad volume-opt left containers: %q", r.Stdout)
	}
}
