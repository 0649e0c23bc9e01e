//go:build e2e

package e2e

import (
	"archive/tar"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The remaining `cove run` flags of the run issue, and --init.

const bb = "cove-test/busybox"

// moreStatus returns the value of a "Key:" line of /proc/PID/status output.
func moreStatus(t *testing.T, out, key string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s line in:\n%s", key, out)
	return ""
}

// moreChild returns the first child of host process pid, waiting for it.
func moreChild(t *testing.T, pid int) int {
	t.Helper()
	var child int
	waitFor(t, 10*time.Second, fmt.Sprintf("a child of %d", pid), func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return false
		}
		child, _ = strconv.Atoi(f[0])
		return child > 0
	})
	return child
}

// moreRun is a cove command running in the background.
type moreRun struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	once sync.Once
	code int
}

// moreStart starts cove in the background, collecting its output.
func (h *Harness) moreStart(args ...string) *moreRun {
	h.t.Helper()
	m := &moreRun{cmd: h.Cmd(args...), out: &syncBuffer{}, code: -1}
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { m.cmd.Process.Kill(); m.wait(h.t) })
	return m
}

// ready waits for the container to print "ready".
func (m *moreRun) ready(t *testing.T) {
	t.Helper()
	waitFor(t, 20*time.Second, "the container to be ready", func() bool { return strings.Contains(m.out.String(), "ready") })
}

// wait returns cove's exit code (128+n when a signal killed it).
func (m *moreRun) wait(t *testing.T) int {
	m.once.Do(func() {
		done := make(chan error, 1)
		go func() { done <- m.cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			m.cmd.Process.Kill()
			err = <-done
			t.Errorf("cove %s did not exit; output:\n%s", strings.Join(m.cmd.Args[1:], " "), m.out.String())
		}
		m.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			m.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				m.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			m.code = -1
		}
	})
	return m.code
}

func TestRunMoreInit(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--init", bb, "sh", "-c", "echo $$; ps -o pid,comm; true")
	lines := strings.Split(r.Stdout, "\n")
	if lines[0] == "1" {
		t.Errorf("with --init the command must not be PID 1:\n%s", r.Stdout)
	}
	if !regexp.MustCompile(`(?m)^\s*1 cove-init$`).MatchString(r.Stdout) {
		t.Errorf("PID 1 should be cove's reaper:\n%s", r.Stdout)
	}
	if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(lines[0]) + ` sh$`).MatchString(r.Stdout) {
		t.Errorf("the command (pid %s) is missing from ps:\n%s", lines[0], r.Stdout)
	}

	// Exit codes pass through; exec errors are Docker's.
	h.Run(3, "run", "--rm", "--init", bb, "sh", "-c", "exit 3")
	h.Run(137, "run", "--rm", "--init", bb, "sh", "-c", "kill -KILL $$")
	r = h.Run(127, "run", "--rm", "--init", bb, "no-such-command")
	if !strings.Contains(r.Stderr, `"no-such-command": executable file not found`) {
		t.Errorf("127 error should name the command: %q", r.Stderr)
	}
	r = h.Run(126, "run", "--rm", "--init", bb, "/etc")
	if !strings.Contains(r.Stderr, "is a directory") {
		t.Errorf("126 error: %q", r.Stderr)
	}

	// Orphans that exit are reaped by PID 1.
	r = h.Run(0, "run", "--rm", "--init", bb, "sh", "-c",
		`for i in 1 2 3 4 5; do (sleep 0.1 &); done; sleep 1; ps -o stat,comm | grep -c '^Z' || true`)
	if strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("zombies under the reaper: %q", r.Stdout)
	}
	// What PID 1 keeps: CAP_KILL only, the container's filter. (It drops
	// the rest right after starting the command, which may look first.)
	r = h.Run(0, "run", "--rm", "--init", bb, "sh", "-c", "sleep 0.5; cat /proc/1/status")
	for key, want := range map[string]string{"CapPrm": "0000000000000020", "CapEff": "0000000000000020", "CapInh": "0000000000000000", "CapBnd": "00000000800405fb", "Seccomp": "2"} {
		if got := moreStatus(t, r.Stdout, key); got != want {
			t.Errorf("PID 1 %s = %s, want %s", key, got, want)
		}
	}
	// Every one of its threads: no more than that.
	r = h.Run(0, "run", "--rm", "--init", bb, "sh", "-c", "sleep 0.5; grep -h -E '^Cap(Prm|Eff|Bnd)' /proc/1/task/*/status | sort -u")
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(line)
		v, err := strconv.ParseUint(f[len(f)-1], 16, 64)
		max := uint64(0x20)
		if strings.HasPrefix(line, "CapBnd") {
			max = 0x800405fb
		}
		if err != nil || v&^max != 0 {
			t.Errorf("a thread of PID 1 has %s", line)
		}
	}
}

func TestRunMoreInitSignals(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	// SIGTERM to cove run: forwarded by cove to PID 1, by PID 1 to the
	// command, which traps it.
	m := h.moreStart("run", "--rm", "--init", bb, "sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done")
	m.ready(t)
	m.cmd.Process.Signal(syscall.SIGTERM)
	if code := m.wait(t); code != 42 {
		t.Errorf("--init + trap + SIGTERM: exit %d, want 42; output %q", code, m.out.String())
	}

	// Not trapped: the command dies of it (a PID 1 would ignore it).
	m = h.moreStart("run", "--rm", "--init", bb, "sh", "-c", "echo ready; exec sleep 60")
	m.ready(t)
	m.cmd.Process.Signal(syscall.SIGTERM)
	if code := m.wait(t); code != 143 {
		t.Errorf("--init + SIGTERM: exit %d, want 143", code)
	}

	// The command killed from outside: 137, and the state says so.
	m = h.moreStart("run", "--name", "victim", "--init", bb, "sh", "-c", "echo ready; exec sleep 60")
	m.ready(t)
	r := h.Run(0, "inspect", "--format", "{{.State.Pid}}", "victim")
	pid, _ := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if pid <= 0 {
		t.Fatalf("no pid: %q", r.Stdout)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "cove-init" {
		t.Errorf("the container's recorded process is %q, want the reaper", comm)
	}
	syscall.Kill(moreChild(t, pid), syscall.SIGKILL)
	if code := m.wait(t); code != 137 {
		t.Errorf("command killed: cove run exit %d, want 137", code)
	}
	r = h.Run(0, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "victim")
	if strings.TrimSpace(r.Stdout) != "exited 137" {
		t.Errorf("state: %q", r.Stdout)
	}
}

// TestRunMoreInitExeProbe: the reaper is the cove binary. The container
// must not be able to open it for writing through /proc/1/exe
// (CVE-2019-5736), neither by default (PID 1 is not dumpable: EACCES) nor
// with CAP_SYS_PTRACE (the binary is a read-only mount: EROFS, or ETXTBSY).
// The binary is the user's own copy: the container's root is its owner, so
// only the protection can refuse the write (a root-owned binary refuses it
// by its mode alone).
func TestRunMoreInitExeProbe(t *testing.T) {
	h := newHarness(t)
	own := filepath.Join(h.Dir, "bin", "cove")
	if b, err := os.ReadFile(*coveBinary); err != nil {
		t.Fatal(err)
	} else if err := os.MkdirAll(filepath.Dir(own), 0o755); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(own, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if h.user != nil {
		os.Chown(filepath.Dir(own), h.user.uid, h.user.gid)
		os.Chown(own, h.user.uid, h.user.gid)
	}
	h.Binary = own
	loadBusybox(t, h)
	probe := `if (: >> /proc/1/exe) 2>/tmp/err; then echo WRITABLE; else cat /tmp/err; fi
		for p in /proc/[0-9]*/exe; do (: >> $p) 2>/dev/null && echo "WRITABLE $p"; done; true`
	r := h.Run(0, "run", "--rm", "--init", bb, "sh", "-c", probe)
	if strings.Contains(r.Stdout, "WRITABLE") || !strings.Contains(r.Stdout, "Permission denied") {
		t.Errorf("default: want EACCES on /proc/1/exe:\n%s", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--init", "--cap-add", "SYS_PTRACE", bb, "sh", "-c", probe)
	if strings.Contains(r.Stdout, "WRITABLE") ||
		!strings.Contains(r.Stdout, "Read-only file system") && !strings.Contains(r.Stdout, "Text file busy") {
		t.Errorf("CAP_SYS_PTRACE: want EROFS or ETXTBSY on /proc/1/exe:\n%s", r.Stdout)
	}
	// Not through the interpreter trick either: the kernel opens the
	// interpreter itself, but needs the same access to /proc/1/exe.
	r = h.Run(0, "run", "--rm", "--init", bb, "sh", "-c", `printf '#!/proc/1/exe\n' > /tmp/evil; chmod +x /tmp/evil; /tmp/evil; echo rc=$?`)
	if !strings.Contains(r.Stdout, "rc=126") && !strings.Contains(r.Stdout, "rc=127") {
		t.Errorf("executing the reaper's binary as an interpreter should fail:\n%s%s", r.Stdout, r.Stderr)
	}
}

func TestRunMoreUser(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	loadMulti(t, h)
	groups := moreGroupsImage(t, h)
	status := `grep -E '^(Uid|Gid|Groups):' /proc/self/status`
	for _, tc := range []struct {
		args              []string
		uid, gid, grouped string
	}{
		{[]string{"-u", "1000:1000", bb}, "1000", "1000", "1000"},
		{[]string{"-u", "1000", bb}, "1000", "0", "0"},
		{[]string{"-u", "nobody", bb}, "65534", "65534", "65534"},
		{[]string{"-u", "nobody:root", bb}, "65534", "0", "0"},
		{[]string{"-u", "app", "--entrypoint", "", "cove-test/multi"}, "1000", "1000", "1000"},
		// Supplementary groups from /etc/group (app is a member of staff
		// and audio), then --group-add by name and by number.
		{[]string{"-u", "app", groups}, "1000", "1000", "1000 50 63"},
		{[]string{"-u", "app", "--group-add", "video", "--group-add", "4242", groups}, "1000", "1000", "1000 50 63 44 4242"},
		{[]string{"--group-add", "staff", groups}, "0", "0", "0 10 50"},
		// An explicit group replaces the membership lookup.
		{[]string{"-u", "app:video", groups}, "1000", "44", "44"},
	} {
		r := h.Run(0, append(append([]string{"run", "--rm"}, tc.args...), "sh", "-c", status)...)
		got := fmt.Sprintf("%s|%s|%s", strings.Fields(moreStatus(t, r.Stdout, "Uid"))[0], strings.Fields(moreStatus(t, r.Stdout, "Gid"))[0], moreSorted(moreStatus(t, r.Stdout, "Groups")))
		want := fmt.Sprintf("%s|%s|%s", tc.uid, tc.gid, moreSorted(tc.grouped))
		if got != want {
			t.Errorf("%v: uid|gid|groups = %q, want %q", tc.args, got, want)
		}
	}
	// Unknown names are errors (125), naming the name.
	r := h.Run(125, "run", "--rm", "-u", "nosuchuser", bb, "true")
	if !strings.Contains(r.Stderr, "nosuchuser") {
		t.Errorf("unknown user: %q", r.Stderr)
	}
	r = h.Run(125, "run", "--rm", "--group-add", "nosuchgroup", bb, "true")
	if !strings.Contains(r.Stderr, "nosuchgroup") {
		t.Errorf("unknown group: %q", r.Stderr)
	}
	// --init changes nothing about the user; the reaper is that user too.
	r = h.Run(0, "run", "--rm", "--init", "-u", "app", groups, "sh", "-c", status+"; grep -E '^Uid:' /proc/1/status")
	if moreSorted(moreStatus(t, r.Stdout, "Groups")) != "50 63 1000" || strings.Count(r.Stdout, "Uid:\t1000\t1000\t1000\t1000") != 2 {
		t.Errorf("--init -u app:\n%s", r.Stdout)
	}
}

// moreSorted sorts a list of numbers (the kernel keeps supplementary
// groups sorted).
func moreSorted(s string) string {
	var n []int
	for _, f := range strings.Fields(s) {
		v, _ := strconv.Atoi(f)
		n = append(n, v)
	}
	sort.Ints(n)
	out := make([]string, len(n))
	for i, v := range n {
		out[i] = strconv.Itoa(v)
	}
	return strings.Join(out, " ")
}

// moreGroupsImage loads busybox plus a layer with a user "app" who belongs
// to two groups, and returns its name.
func moreGroupsImage(t *testing.T, h *Harness) string {
	t.Helper()
	layer, err := moreFixtureLayer(Fixture(t, "busybox", "docker"))
	if err != nil {
		t.Fatal(err)
	}
	extra := imgLayer(t,
		imgEntry{Name: "etc/", Type: tar.TypeDir},
		imgEntry{Name: "etc/passwd", Type: tar.TypeReg, Data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n"},
		imgEntry{Name: "etc/group", Type: tar.TypeReg, Data: "root:x:0:\nwheel:x:10:root\nvideo:x:44:\nstaff:x:50:app\naudio:x:63:nobody,app\nnobody:x:65534:\napp:x:1000:\n"},
	)
	const name = "cove-test/groups:latest"
	h.Run(0, "load", "-i", h.imgDockerArchive("groups.tar", name, layer, extra))
	return name
}

// moreFixtureLayer returns the (only) layer of a docker-archive fixture.
func moreFixtureLayer(archive string) ([]byte, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: no layer.tar: %v", archive, err)
		}
		if strings.HasSuffix(hdr.Name, "/layer.tar") {
			return io.ReadAll(tr)
		}
	}
}

func TestRunMoreUlimitSysctl(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "nproc=500", bb, "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu")
	if r.Stdout != "100\n200\n500\n500\n" {
		t.Errorf("--ulimit: %q", r.Stdout)
	}
	// Raising a hard limit above the user's own is refused by the kernel:
	// a clear error, 125.
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	high := strconv.FormatUint(lim.Max+1, 10)
	r = h.Run(125, "run", "--rm", "--ulimit", "nofile="+high+":"+high, bb, "true")
	if !strings.Contains(r.Stderr, "RLIMIT_NOFILE") && !strings.Contains(strings.ToLower(r.Stderr), "nofile") {
		t.Errorf("too high a limit should name it: %q", r.Stderr)
	}
	// Namespaced sysctls: the IPC namespace's and the (private) network
	// namespace's.
	r = h.Run(0, "run", "--rm", "--sysctl", "kernel.shmmax=123456789", "--sysctl", "net.ipv4.ip_forward=1",
		"--sysctl", "net.ipv4.ping_group_range=0 1000", bb,
		"sh", "-c", "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ping_group_range")
	if f := strings.Fields(r.Stdout); strings.Join(f, " ") != "123456789 1 0 1000" {
		t.Errorf("--sysctl: %q", r.Stdout)
	}
	// Not namespaced, or the namespace is the host's: refused before
	// anything runs.
	r = h.Run(125, "run", "--rm", "--sysctl", "kernel.panic=1", bb, "true")
	if !strings.Contains(r.Stderr, "kernel.panic") {
		t.Errorf("non-namespaced sysctl: %q", r.Stderr)
	}
	r = h.Run(125, "run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", bb, "true")
	if !strings.Contains(r.Stderr, "net.ipv4.ip_forward") {
		t.Errorf("net sysctl with the host's network: %q", r.Stderr)
	}
}

func TestRunMoreDevices(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--device", "/dev/null:/dev/mynull", bb, "sh", "-c", "test -c /dev/mynull && echo x > /dev/mynull && ls -l /dev/mynull")
	if !strings.Contains(r.Stdout, "1,   3") {
		t.Errorf("--device /dev/null:/dev/mynull: %q", r.Stdout)
	}
	// A host device node the user cannot open: a clear error, 125.
	node := ""
	for _, p := range []string{"/dev/loop-control", "/dev/tty0", "/dev/cpu_dma_latency", "/dev/kvm", "/dev/hwrng", "/dev/mem", "/dev/btrfs-control"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode().Perm()&0o006 == 0 {
			node = p
			break
		}
	}
	if node == "" || h.user == nil {
		t.Log("no root-only device node on this host (or the runner is not root): skipping the permission case")
	} else {
		r = h.Run(125, "run", "--name", "nodev", "--device", node+":/dev/x", bb, "true")
		if !strings.Contains(r.Stderr, node) || !strings.Contains(r.Stderr, "permission denied") {
			t.Errorf("the error should name the device and the cause: %q", r.Stderr)
		}
	}
	r = h.Run(125, "run", "--rm", "--device", "/dev/does-not-exist", bb, "true")
	if !strings.Contains(r.Stderr, "/dev/does-not-exist") {
		t.Errorf("missing device: %q", r.Stderr)
	}
}

func TestRunMoreCapabilities(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	capEff := func(args ...string) string {
		t.Helper()
		r := h.Run(0, append(append([]string{"run", "--rm"}, args...), bb, "cat", "/proc/self/status")...)
		return moreStatus(t, r.Stdout, "CapEff") + " " + moreStatus(t, r.Stdout, "CapBnd")
	}
	last, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	n, _ := strconv.Atoi(strings.TrimSpace(string(last)))
	all := fmt.Sprintf("%016x", uint64(1)<<(n+1)-1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "00000000800405fb 00000000800405fb"},
		// + NET_ADMIN (12), - CHOWN (0)
		{[]string{"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"}, "00000000800415fa 00000000800415fa"},
		{[]string{"--cap-add", "cap_net_raw"}, "00000000800425fb 00000000800425fb"},
		{[]string{"--cap-drop", "ALL"}, "0000000000000000 0000000000000000"},
		{[]string{"--cap-drop", "ALL", "--cap-add", "KILL"}, "0000000000000020 0000000000000020"},
		{[]string{"--cap-add", "ALL"}, all + " " + all},
		{[]string{"--privileged"}, all + " " + all},
	} {
		if got := capEff(tc.args...); got != tc.want {
			t.Errorf("%v: CapEff CapBnd = %s, want %s", tc.args, got, tc.want)
		}
	}
	// Capabilities decide: without CHOWN, chown fails.
	h.Run(1, "run", "--rm", "--cap-drop", "CHOWN", bb, "chown", "65534", "/tmp")
	h.Run(0, "run", "--rm", bb, "chown", "65534", "/tmp")
}

func TestRunMorePrivileged(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--privileged", bb, "sh", "-c",
		`grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; grep ' /sys ' /proc/self/mountinfo; cat /proc/keys >/dev/null && echo keys-readable; mkdir /m && mount -t tmpfs t /m && echo mounted`)
	for _, want := range []string{"Seccomp:\t0", " /sys rw,", "keys-readable", "mounted"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("--privileged: output lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func TestRunMoreSecurityOpt(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--security-opt", "no-new-privileges", bb, "grep", "^NoNewPrivs:", "/proc/self/status")
	if strings.TrimSpace(r.Stdout) != "NoNewPrivs:\t1" {
		t.Errorf("no-new-privileges: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--security-opt", "no-new-privileges:true", bb, "grep", "^NoNewPrivs:", "/proc/self/status")
	if strings.TrimSpace(r.Stdout) != "NoNewPrivs:\t1" {
		t.Errorf("no-new-privileges:true: %q", r.Stdout)
	}
	// A profile that allows everything but mkdir, which gets EPERM.
	profile := h.WriteFile("nomkdir.json", []byte(`{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
	}`))
	r = h.Run(1, "run", "--rm", "--security-opt", "seccomp="+profile, bb, "sh", "-c", "grep ^Seccomp: /proc/self/status; touch /ok && echo touched; mkdir /x")
	if !strings.Contains(r.Stdout, "Seccomp:\t2") || !strings.Contains(r.Stdout, "touched") || !strings.Contains(r.Stderr, "Operation not permitted") {
		t.Errorf("seccomp profile: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// The same with --init: the reaper runs under the profile too.
	h.Run(1, "run", "--rm", "--init", "--security-opt", "seccomp="+profile, bb, "mkdir", "/x")
	// Bad profiles are 125, naming the file.
	r = h.Run(125, "run", "--rm", "--security-opt", "seccomp="+filepath.Join(h.Dir, "missing.json"), bb, "true")
	if !strings.Contains(r.Stderr, "missing.json") {
		t.Errorf("missing profile: %q", r.Stderr)
	}
	bad := h.WriteFile("bad.json", []byte(`{"defaultAction": "SCMP_ACT_SOMETIMES"}`))
	r = h.Run(125, "run", "--rm", "--security-opt", "seccomp="+bad, bb, "true")
	if !strings.Contains(r.Stderr, "bad.json") && !strings.Contains(r.Stderr, "SCMP_ACT_SOMETIMES") {
		t.Errorf("bad profile: %q", r.Stderr)
	}
	h.Run(0, "run", "--rm", "--security-opt", "label=disable", bb, "true")
}

func TestRunMoreDev(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--shm-size", "1m", bb, "sh", "-c", "df -k /dev/shm | tail -1; grep ' /dev/mqueue ' /proc/self/mountinfo; test -e /dev/console && echo console || echo noconsole")
	if f := strings.Fields(r.Stdout); len(f) < 2 || f[1] != "1024" {
		t.Errorf("--shm-size 1m: %q", r.Stdout)
	}
	if !strings.Contains(r.Stdout, " - mqueue ") {
		t.Errorf("/dev/mqueue is not an mqueue mount: %q", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "noconsole") {
		t.Errorf("/dev/console without -t: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", bb, "df", "-k", "/dev/shm")
	if !strings.Contains(r.Stdout, "65536") {
		t.Errorf("default /dev/shm is 64m: %q", r.Stdout)
	}
	// With -t, /dev/console is the container's terminal.
	r = h.Run(0, "run", "--rm", "-t", bb, "sh", "-c", "ls -l /dev/console; tty")
	if !regexp.MustCompile(`c.* 136, +\d+ .*/dev/console`).MatchString(r.Stdout) || !strings.Contains(r.Stdout, "/dev/pts/") {
		t.Errorf("-t /dev/console: %q", r.Stdout)
	}
	// With -t and --init, the command is the terminal's foreground group.
	r = h.Run(0, "run", "--rm", "-t", "--init", bb, "sh", "-c", `set -- $(cat /proc/$$/stat); echo "$1 $5 $8"`)
	if f := strings.Fields(r.Stdout); len(f) != 3 || f[0] != f[1] || f[1] != f[2] || f[0] == "1" {
		t.Errorf("-t --init: pid pgrp tpgid = %q, want the command leading the foreground group", r.Stdout)
	}
}

func TestRunMoreCidfile(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	cid := filepath.Join(h.Dir, "work", "cid")
	h.Run(0, "run", "--cidfile", cid, "--name", "withcid", bb, "true")
	b, err := os.ReadFile(cid)
	if err != nil {
		t.Fatal(err)
	}
	r := h.Run(0, "inspect", "--format", "{{.Id}}", "withcid")
	if string(b) != strings.TrimSpace(r.Stdout) || len(b) != 64 {
		t.Errorf("cidfile holds %q, want the ID %q", b, r.Stdout)
	}
	// It exists now: refused before anything is created.
	r = h.Run(125, "run", "--cidfile", cid, "--name", "second", bb, "true")
	if !strings.Contains(r.Stderr, cid) {
		t.Errorf("existing cidfile: %q", r.Stderr)
	}
	if r := h.Run(0, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(r.Stdout, "second") {
		t.Errorf("a container was created despite the cidfile error:\n%s", r.Stdout)
	}
}

func TestRunMoreAttach(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	script := "echo out; echo err >&2; exit 4"
	r := h.Run(4, "run", "--rm", "-a", "stdout", bb, "sh", "-c", script)
	if r.Stdout != "out\n" || strings.Contains(r.Stderr, "err") {
		t.Errorf("-a stdout: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.Run(4, "run", "--rm", "-a", "stderr", bb, "sh", "-c", script)
	if r.Stdout != "" || r.Stderr != "err\n" {
		t.Errorf("-a stderr: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.RunIn([]byte("in\n"), 0, "run", "--rm", "-a", "stdin", "-a", "stdout", bb, "cat")
	if r.Stdout != "in\n" {
		t.Errorf("-a stdin -a stdout: %q", r.Stdout)
	}
	r = h.Run(125, "run", "--rm", "-a", "stdbogus", bb, "true")
	if !strings.Contains(r.Stderr, "stdbogus") {
		t.Errorf("bad -a: %q", r.Stderr)
	}
}

func TestRunMorePull(t *testing.T) {
	h := newHarness(t)
	// A registry that counts connections: --pull never must not make any.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	ref := ln.Addr().String() + "/cove-e2e/absent:latest"
	r := h.Run(125, "run", "--rm", "--pull", "never", ref, "true")
	if !strings.Contains(r.Stderr, "absent") {
		t.Errorf("--pull never: the error should name the image: %q", r.Stderr)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("--pull never contacted the registry %d times", n)
	}
	// missing (the default) does try, and fails with 125.
	h.Run(125, "run", "--rm", ref, "true")
	if conns.Load() == 0 {
		t.Errorf("--pull missing did not contact the registry")
	}

	reg := Registry(t)
	img := reg + "/cove-test/busybox"
	r = h.Run(0, "run", "--rm", "--pull", "always", img, "echo", "pulled")
	if r.Stdout != "pulled\n" {
		t.Errorf("--pull always: stdout %q", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "Copying") {
		t.Errorf("--pull always should show pull progress on stderr: %q", r.Stderr)
	}
	// Present now: missing does not pull, always pulls again, never uses it.
	r = h.Run(0, "run", "--rm", img, "true")
	if strings.Contains(r.Stderr, "Copying blob") {
		t.Errorf("--pull missing pulled a present image: %q", r.Stderr)
	}
	r = h.Run(0, "run", "--rm", "--pull", "always", "-q", img, "true")
	if r.Stderr != "" {
		t.Errorf("-q should silence the pull: %q", r.Stderr)
	}
	h.Run(0, "run", "--rm", "--pull", "never", img, "true")
}

func TestRunMoreStopSignalLabels(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "--name", "meta", "--stop-signal", "SIGUSR1", "--label", "a=1", "--label", "b", "-l", "c=x=y", bb, "true")
	r := h.Run(0, "inspect", "--format", `{{.Config.StopSignal}}|{{index .Config.Labels "a"}}|{{index .Config.Labels "b"}}|{{index .Config.Labels "c"}}`, "meta")
	if strings.TrimSpace(r.Stdout) != "SIGUSR1|1||x=y" {
		t.Errorf("stop signal and labels: %q", r.Stdout)
	}
	r = h.Run(0, "ps", "-a", "--filter", "label=a=1", "--format", "{{.Names}}")
	if strings.TrimSpace(r.Stdout) != "meta" {
		t.Errorf("ps --filter label: %q", r.Stdout)
	}
	// The stop signal is what `cove stop` sends: the container traps
	// USR1 and exits 7.
	m := h.moreStart("run", "--name", "stoppable", "--stop-signal", "USR1", bb, "sh", "-c", "trap 'exit 7' USR1; echo ready; while :; do sleep 0.1; done")
	m.ready(t)
	h.Run(0, "stop", "-t", "10", "stoppable")
	if code := m.wait(t); code != 7 {
		t.Errorf("cove stop with --stop-signal USR1: run exited %d, want 7", code)
	}
	r = h.Run(0, "inspect", "--format", "{{.State.ExitCode}}", "stoppable")
	if strings.TrimSpace(r.Stdout) != "7" {
		t.Errorf("exit code after stop: %q", r.Stdout)
	}
}

func TestRunMoreFilesystem(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	// --read-only with a --tmpfs that has a mode and a size.
	r := h.Run(0, "run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m,mode=1770", bb, "sh", "-c",
		"touch /rootfile 2>/dev/null && echo rootrw || echo rootro; echo hi > /scratch/f && cat /scratch/f; stat -c %a /scratch; df -k /scratch | tail -1")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 4 || lines[0] != "rootro" || lines[1] != "hi" || lines[2] != "1770" || !strings.Contains(lines[3], " 1024 ") {
		t.Errorf("--read-only --tmpfs: %q", r.Stdout)
	}
	// --mount type=bind, readonly, and rw.
	dir := filepath.Join(h.Dir, "work", "data")
	os.MkdirAll(dir, 0o755)
	h.Chown(dir)
	os.WriteFile(filepath.Join(dir, "in"), []byte("from host\n"), 0o644)
	h.Chown(filepath.Join(dir, "in"))
	r = h.Run(0, "run", "--rm", "--mount", "type=bind,source="+dir+",target=/data,readonly", bb, "sh", "-c",
		"cat /data/in; echo x > /data/new 2>/dev/null && echo written || echo refused; grep ' /data ' /proc/self/mountinfo")
	if !strings.HasPrefix(r.Stdout, "from host\nrefused\n") || !strings.Contains(r.Stdout, " ro,") {
		t.Errorf("--mount bind readonly: %q", r.Stdout)
	}
	h.Run(0, "run", "--rm", "--mount", "type=bind,src="+dir+",dst=/data", bb, "sh", "-c", "echo x > /data/new")
	if _, err := os.Stat(filepath.Join(dir, "new")); err != nil {
		t.Errorf("--mount bind rw: %v", err)
	}
	// A missing source is an error for --mount (unlike -v).
	r = h.Run(125, "run", "--rm", "--mount", "type=bind,source="+filepath.Join(h.Dir, "nope")+",target=/x", bb, "true")
	if !strings.Contains(r.Stderr, "nope") {
		t.Errorf("--mount with a missing source: %q", r.Stderr)
	}
	// --mount type=tmpfs with size and mode.
	r = h.Run(0, "run", "--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=2m,tmpfs-mode=0700", bb, "sh", "-c",
		"stat -c %a /t; df -k /t | tail -1; grep ' /t ' /proc/self/mountinfo")
	if !strings.HasPrefix(r.Stdout, "700\n") || !strings.Contains(r.Stdout, " 2048 ") || !strings.Contains(r.Stdout, " - tmpfs ") {
		t.Errorf("--mount type=tmpfs: %q", r.Stdout)
	}
	// -w is created when missing, owned by root as in Docker, also for a
	// non-root user.
	r = h.Run(0, "run", "--rm", "-w", "/a/b/c", "-u", "65534", bb, "sh", "-c", "pwd; stat -c %u /a/b/c")
	if r.Stdout != "/a/b/c\n0\n" {
		t.Errorf("-w: %q", r.Stdout)
	}
	// --hostname, -h.
	r = h.Run(0, "run", "--rm", "-h", "short", bb, "sh", "-c", "hostname; cat /etc/hostname")
	if r.Stdout != "short\nshort\n" {
		t.Errorf("-h: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--name", "named", bb, "hostname")
	id := h.Run(0, "inspect", "--format", "{{.Id}}", "named").Stdout
	if strings.TrimSpace(r.Stdout) != strings.TrimSpace(id)[:12] {
		t.Errorf("default hostname %q, want the short ID of %q", r.Stdout, id)
	}
}

// TestRunMoreNameRace: ten concurrent runs with the same name, exactly one
// wins, the others exit 125 saying the name is in use.
func TestRunMoreNameRace(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	results := h.RunParallel(10, func(int) []string { return []string{"run", "--name", "same", bb, "true"} })
	won := 0
	for i, r := range results {
		switch r.Code {
		case 0:
			won++
		case 125:
			if !strings.Contains(r.Stderr, "already in use") {
				t.Errorf("run %d: exit 125 without \"already in use\": %q", i, r.Stderr)
			}
		default:
			t.Errorf("run %d: exit %d, want 0 or 125; stderr %q", i, r.Code, r.Stderr)
		}
	}
	if won != 1 {
		t.Errorf("%d runs succeeded, want exactly 1", won)
	}
	r := h.Run(0, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
	if strings.Count(r.Stdout, "same ") != 1 || !strings.Contains(r.Stdout, "same Exited (0)") {
		t.Errorf("want one container called same, exited:\n%s", r.Stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 1 {
		t.Errorf("the losers left containers behind:\n%s", r.Stdout)
	}
}

// TestRunRmVolatile: a --rm container's overlay is mounted volatile (no
// sync of its upper directory, whose content nobody keeps), a durable
// container's is not; and the --rm container leaves nothing once removed.
func TestRunRmVolatile(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "-d", "--rm", "--name", "eph", "--network", "none", bb, "sleep", "30")
	h.Run(0, "run", "-d", "--name", "durable", "--network", "none", bb, "sleep", "30")
	rootOptions := func(name string) string {
		pid := strings.TrimSpace(h.Run(0, "inspect", "-f", "{{.State.Pid}}", name).Stdout)
		b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 4 && f[4] == "/" && strings.Contains(l, " - overlay ") {
				return l
			}
		}
		t.Fatalf("%s: no overlay at / in\n%s", name, b)
		return ""
	}
	if l := rootOptions("eph"); !strings.Contains(l, "volatile") {
		t.Errorf("the --rm container's overlay is not volatile: %s", l)
	}
	if l := rootOptions("durable"); strings.Contains(l, "volatile") {
		t.Errorf("the durable container's overlay is volatile: %s", l)
	}
	eph := strings.TrimSpace(h.Run(0, "inspect", "-f", "{{.Id}}", "eph").Stdout)
	h.Run(0, "rm", "-f", "eph", "durable")
	if _, err := os.Stat(filepath.Join(h.Dir, "data", "cove", "containers", eph)); !os.IsNotExist(err) {
		t.Errorf("removed --rm container's directory stayed: %v", err)
	}
}
