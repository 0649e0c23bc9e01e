package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	corert "github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/runtime/seccomp"
)

func TestContainerExitCodes(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"false"}, 1},
		{[]string{"sh", "-c", "exit 42"}, 42},
		{[]string{"sh", "-c", "kill -KILL $$"}, 0}, // pid 1 ignores even SIGKILL from inside
	} {
		r := run(t, newSpec(root, tc.args...))
		wantCode(t, r, tc.code)
	}
}

func TestContainerExecErrors(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	os.WriteFile(filepath.Join(root, "etc/notexec"), []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "bin/badinterp"), []byte("#!/no/such/interpreter\n"), 0o755)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nonexist"}, 127, `exec: "nonexist": executable file not found in $PATH`},
		{[]string{"/no/such/file"}, 127, "exec /no/such/file: no such file or directory"},
		{[]string{"/bin/badinterp"}, 127, "exec /bin/badinterp: no such file or directory"},
		{[]string{"/etc"}, 126, "exec /etc: is a directory"},
		{[]string{"/etc/notexec"}, 126, "exec /etc/notexec: permission denied"},
		{[]string{"notexec"}, 127, "executable file not found"},
	} {
		s := newSpec(root, tc.args...)
		if tc.args[0] == "notexec" {
			s.Process.Env = []string{"PATH=/etc"}
		}
		err := startErr(t, s)
		if got := errdefs.ExitCode(err); got != tc.code {
			t.Errorf("%q: exit code %d, want %d (%v)", tc.args, got, tc.code, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %q, want it to contain %q", tc.args, err, tc.msg)
		}
		var ie *corert.InitError
		if !errors.As(err, &ie) || ie.Stage != "exec" {
			t.Errorf("%q: error %#v is not an exec-stage InitError", tc.args, err)
		}
	}
}

func TestContainerSignals(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	start := func(s *specs.Spec) *corert.Process {
		p, err := corert.Start(context.Background(), corert.Options{Spec: s})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := start(newSpec(root, "sleep", "100"))
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 137 {
		t.Fatalf("SIGKILL: exit code %d (%v), want 137", code, err)
	}
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit: %v, want os.ErrProcessDone", err)
	}
	// A pid namespace's init ignores SIGTERM unless it handles it; without
	// a pid namespace the default action applies.
	s := newSpec(root, "sleep", "100")
	s.Linux.Namespaces = without(s.Linux.Namespaces, specs.PIDNamespace)
	p = start(s)
	time.Sleep(50 * time.Millisecond)
	p.Signal(syscall.SIGTERM)
	if code, err := p.Wait(); err != nil || code != 143 {
		t.Fatalf("SIGTERM: exit code %d (%v), want 143", code, err)
	}
}

func without(list []specs.LinuxNamespace, typ specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, n := range list {
		if n.Type != typ {
			out = append(out, n)
		}
	}
	return out
}

func TestContainerIsolation(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	r := run(t, sh(root, `hostname; echo $$; echo /proc/[0-9]*`))
	wantCode(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != "cove-test" || lines[1] != "1" || lines[2] != "/proc/1" {
		t.Errorf("want hostname cove-test, pid 1 and only /proc/1; got:\n%s", r.out())
	}

	// No CAP_SYS_ADMIN: mounting is refused.
	r = run(t, sh(root, `mount -t tmpfs none /mnt`))
	if r.code == 0 || !strings.Contains(r.out(), "ermission denied") && !strings.Contains(r.out(), "not permitted") {
		t.Errorf("mount inside the container: exit code %d, output %q; want a permission error", r.code, r.out())
	}
}

func TestContainerMaskedAndReadonlyPaths(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	r := run(t, sh(root, `cat /proc/keys /proc/kcore /proc/timer_list | wc -c; ls -A /sys/firmware | wc -l`))
	wantCode(t, r, 0)
	if f := strings.Fields(r.stdout); len(f) != 2 || f[0] != "0" || f[1] != "0" {
		t.Errorf("masked paths are not empty: %q", r.out())
	}
	for _, script := range []string{
		`echo x > /proc/sys/kernel/domainname`,
		`echo 1 > /proc/sys/vm/drop_caches`,
		`touch /sys/cove-test`,
	} {
		r = run(t, sh(root, script))
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("%s: exit code %d, output %q; want a read-only error", script, r.code, r.out())
		}
	}
	r = run(t, sh(root, `grep -E ' /(sys|proc/sys) ' /proc/self/mountinfo`))
	wantCode(t, r, 0)
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if f := strings.Fields(line); len(f) < 6 || !strings.HasPrefix(f[5], "ro") {
			t.Errorf("not mounted read-only: %s", line)
		}
	}
}

// capLine returns the value of a Cap* line of /proc/self/status output.
func statusField(t *testing.T, status, key string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in:\n%s", key, status)
	return ""
}

func TestContainerCapabilities(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	// The eleven default capabilities: CHOWN(0) DAC_OVERRIDE(1) FOWNER(3)
	// FSETID(4) KILL(5) SETGID(6) SETUID(7) SETPCAP(8) NET_BIND_SERVICE(10)
	// SYS_CHROOT(18) SETFCAP(31). (Docker's 0xa80425fb also has NET_RAW,
	// MKNOD and AUDIT_WRITE.)
	const want = "00000000800405fb"
	r := run(t, newSpec(root, "cat", "/proc/self/status"))
	wantCode(t, r, 0)
	for key, v := range map[string]string{"CapEff": want, "CapPrm": want, "CapBnd": want, "CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "0", "Seccomp": "0"} {
		if got := statusField(t, r.stdout, key); got != v {
			t.Errorf("root: %s = %s, want %s", key, got, v)
		}
	}

	// A non-root user keeps nothing but the bounding set, as in Docker.
	needUsers(t)
	s := newSpec(root, "cat", "/proc/self/status")
	s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 100}}
	r = run(t, s)
	wantCode(t, r, 0)
	for key, v := range map[string]string{"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapBnd": want,
		"Uid": "1000\t1000\t1000\t1000", "Gid": "1000\t1000\t1000\t1000", "Groups": "10 100"} {
		if got := statusField(t, r.stdout, key); got != v {
			t.Errorf("user 1000: %s = %q, want %q", key, got, v)
		}
	}

	// An ambient capability survives the switch to a non-root user.
	s = newSpec(root, "cat", "/proc/self/status")
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.Capabilities.Inheritable = []string{"CAP_NET_BIND_SERVICE"}
	s.Process.Capabilities.Ambient = []string{"CAP_NET_BIND_SERVICE"}
	r = run(t, s)
	wantCode(t, r, 0)
	if got := statusField(t, r.stdout, "CapEff"); got != "0000000000000400" {
		t.Errorf("ambient NET_BIND_SERVICE: CapEff = %s, want 0000000000000400", got)
	}
}

// defaultSeccomp is the default profile in the spec's form for a container
// with capabilities caps, as the engine puts it into a spec.
func defaultSeccomp(t testing.TB, caps []string) *specs.LinuxSeccomp {
	t.Helper()
	sc, err := seccomp.ToSpec(seccomp.DefaultProfile(), caps, "")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestContainerSeccomp(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	for _, tc := range []struct {
		name string
		nnp  bool
		user uint32
	}{
		// no_new_privs: the filter is loaded last, right before execve.
		{"nnp", true, 0},
		// Without it, the filter goes in before the user switch, while the
		// init still has CAP_SYS_ADMIN.
		{"no-nnp-user", false, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.user != 0 {
				needUsers(t)
			}
			s := sh(root, `grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/x`)
			s.Process.NoNewPrivileges = tc.nnp
			s.Process.User = specs.User{UID: tc.user, GID: tc.user}
			// The default profile minus mkdir: the default action (EPERM)
			// then applies to it.
			s.Linux.Seccomp = defaultSeccomp(t, defaultCaps)
			for i, sc := range s.Linux.Seccomp.Syscalls {
				var names []string
				for _, n := range sc.Names {
					if n != "mkdir" && n != "mkdirat" {
						names = append(names, n)
					}
				}
				s.Linux.Seccomp.Syscalls[i].Names = names
			}
			r := run(t, s)
			wantCode(t, r, 1) // mkdir is refused by the profile
			nnp := "0"
			if tc.nnp {
				nnp = "1"
			}
			if got := statusField(t, r.stdout, "NoNewPrivs"); got != nnp {
				t.Errorf("NoNewPrivs = %s, want %s", got, nnp)
			}
			if got := statusField(t, r.stdout, "Seccomp"); got != "2" {
				t.Errorf("Seccomp = %s, want 2", got)
			}
			// The profile's default action answers mkdir.
			want := unix.Errno(*s.Linux.Seccomp.DefaultErrnoRet).Error()
			if !strings.Contains(strings.ToLower(r.stderr), want) {
				t.Errorf("mkdir: %q, want %q from the profile", r.stderr, want)
			}
		})
	}
}

func TestContainerCwd(t *testing.T) {
	needRoot(t)
	needUsers(t)
	root := newRootfs(t)
	s := newSpec(root, "pwd")
	s.Process.Cwd = "/work/deep/dir"
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	r := run(t, s)
	wantCode(t, r, 0)
	if strings.TrimSpace(r.stdout) != "/work/deep/dir" {
		t.Errorf("pwd = %q", r.stdout)
	}
}

// hostDir returns a directory that the container's root (host root, or the
// rootless user) can write.
func hostDir(t *testing.T) string {
	d := t.TempDir()
	os.Chmod(d, 0o777)
	return d
}

func TestContainerMounts(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	rw, ro := hostDir(t), hostDir(t)
	os.WriteFile(filepath.Join(ro, "f"), []byte("from host\n"), 0o644)
	file := filepath.Join(hostDir(t), "single")
	os.WriteFile(file, []byte("single file\n"), 0o644)

	s := sh(root, `echo written > /data/out && cat /ro/f /etc/single && touch /ro/x; echo "touch=$?";
		stat -c %a /run; grep ' /run ' /proc/self/mountinfo; ls /dev; head -c 5 /dev/zero | wc -c`)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: rw, Options: []string{"rbind", "rw", "rprivate"}},
		specs.Mount{Destination: "/ro", Type: "bind", Source: ro, Options: []string{"rbind", "ro", "nosuid", "nodev", "rprivate"}},
		specs.Mount{Destination: "/etc/single", Type: "bind", Source: file, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m", "mode=1777"}},
	)
	r := run(t, s)
	wantCode(t, r, 0)
	if b, _ := os.ReadFile(filepath.Join(rw, "out")); string(b) != "written\n" {
		t.Errorf("rw bind: host sees %q", b)
	}
	for _, want := range []string{"from host\n", "single file\n", "touch=1\n", "1777\n", "size=1024k", "Read-only file system",
		"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "\n5\n"} {
		if !strings.Contains(r.out(), want) {
			t.Errorf("output lacks %q:\n%s", want, r.out())
		}
	}
}

// A symlink in the image must not lead a mount target, or the directories
// created for it, out of the rootfs.
func TestContainerMountTargetSymlinkEscape(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	outside := hostDir(t)
	os.Symlink(outside, filepath.Join(root, "escape"))
	os.Symlink("../../../../../../..", filepath.Join(root, "up"))
	s := newSpec(root, "true")
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/escape/mnt", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/up/" + outside + "/mnt2", Type: "tmpfs", Source: "tmpfs"},
	)
	r := run(t, s)
	wantCode(t, r, 0)
	for _, name := range []string{"mnt", "mnt2"} {
		if _, err := os.Stat(filepath.Join(outside, name)); err == nil {
			t.Errorf("the mount target was created outside the rootfs: %s", filepath.Join(outside, name))
		}
		if _, err := os.Stat(filepath.Join(root, outside, name)); err != nil {
			t.Errorf("the mount target was not created inside the rootfs: %v", err)
		}
	}
}

func TestContainerRlimits(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	s := sh(root, `ulimit -n; ulimit -Hn`)
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}}
	r := run(t, s)
	wantCode(t, r, 0)
	if r.stdout != "1024\n2048\n" {
		t.Errorf("ulimit -n, -Hn = %q, want 1024, 2048", r.stdout)
	}
}

func TestContainerSysctl(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	s := newSpec(root, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/msgmax")
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "4242"}
	r := run(t, s)
	wantCode(t, r, 0)
	if r.stdout != "1\n4242\n" {
		t.Errorf("sysctls read back %q", r.stdout)
	}
}

func TestContainerSetupErrors(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)

	s := newSpec(root, "true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/nonexistent-cove-source", Options: []string{"rbind"}})
	err := startErr(t, s)
	if errdefs.ExitCode(err) != 125 || !errors.Is(err, unix.ENOENT) ||
		err.Error() != "bind mounting /nonexistent-cove-source on /data: source: no such file or directory" {
		t.Errorf("missing bind source: code %d, error %q", errdefs.ExitCode(err), err)
	}

	s = newSpec(root, "true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=bogus"}})
	err = startErr(t, s)
	var ie *corert.InitError
	if !errors.As(err, &ie) || ie.Stage != "mount" || !strings.HasPrefix(err.Error(), "mounting tmpfs at /run: invalid argument") {
		t.Errorf("bad tmpfs option: %q (%#v)", err, err)
	}

	s = newSpec(root, "true")
	s.Linux.Sysctl = map[string]string{"kernel.panic": "1"}
	if err := startErr(t, s); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "kernel.panic") {
		t.Errorf("host sysctl: %v", err)
	}

	s = newSpec(root, "true")
	s.Linux.Namespaces = append(without(s.Linux.Namespaces, specs.NetworkNamespace),
		specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"})
	if err := startErr(t, s); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("joining a namespace: %v, want ErrUnsupported", err)
	}

	if singleID() {
		return
	}
	s = newSpec(root, "true")
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.Cwd = "/root/private"
	os.MkdirAll(filepath.Join(root, "root/private"), 0o700)
	os.Chmod(filepath.Join(root, "root"), 0o700)
	err = startErr(t, s)
	if !errors.As(err, &ie) || ie.Stage != "cwd" || !errors.Is(err, unix.EACCES) {
		t.Errorf("unreachable cwd: %v", err)
	}
}

func TestContainerNoPidNamespace(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	// Without its own pid and network namespaces (a rootless container then
	// gets binds of the host's /proc and /sys instead of fresh mounts).
	s := sh(root, `test $$ != 1 && test -e /proc/$PPID && grep -E ' /(proc|sys|sys/[^ ]*) ' /proc/self/mountinfo`)
	s.Linux.Namespaces = without(without(s.Linux.Namespaces, specs.PIDNamespace), specs.NetworkNamespace)
	r := run(t, s)
	wantCode(t, r, 0)
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && strings.HasPrefix(f[4], "/sys") && !strings.HasPrefix(f[5], "ro") {
			t.Errorf("%s is not read-only: %s", f[4], line)
		}
	}
}

func TestContainerTerminal(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	s := sh(root, `tty; stty size; test -c /dev/console && echo console; read x; stty size`)
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	if !singleID() {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	}
	p, err := corert.Start(context.Background(), corert.Options{Spec: s})
	if err != nil {
		t.Fatal(err)
	}
	con := p.Console()
	if con == nil {
		t.Fatal("no console")
	}
	defer con.Close()
	outc := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := con.Read(buf)
			b.Write(buf[:n])
			if strings.Contains(b.String(), "console") && !strings.Contains(b.String(), "sent") {
				// The shell waits in read: resize, then let it go on.
				if err := p.Resize(50, 132); err != nil {
					t.Error(err)
				}
				con.Write([]byte("go\n"))
				b.WriteString("sent")
			}
			if err != nil {
				outc <- b.String()
				return
			}
		}
	}()
	code, err := p.Wait()
	if err != nil || code != 0 {
		t.Fatalf("exit code %d (%v)", code, err)
	}
	var out string
	select {
	case out = <-outc:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not reach EOF")
	}
	for _, want := range []string{"/dev/pts/0\r\n", "24 80\r\n", "console\r\n", "50 132\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
}

// TestContainerStartLatency measures Start, from the call to the execve of
// the container command (the moment Start returns), for a trivial command.
func TestContainerStartLatency(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	const n = 20
	var starts, totals []time.Duration
	for i := 0; i < n+1; i++ {
		s := newSpec(root, "true")
		t0 := time.Now()
		p, err := corert.Start(context.Background(), corert.Options{Spec: s, Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		if code, err := p.Wait(); code != 0 || err != nil {
			t.Fatalf("exit code %d (%v)", code, err)
		}
		if i == 0 {
			continue // warm-up: the first Start also opens the protected binary
		}
		starts = append(starts, t1.Sub(t0))
		totals = append(totals, time.Since(t0))
	}
	med := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	t.Logf("Start -> execve of `true`: median %v, min %v, max %v (n=%d); Start+Wait median %v",
		med(starts), starts[0], starts[len(starts)-1], n, med(totals))
}

func TestContainerUserNamespaceInSpec(t *testing.T) {
	needRoot(t)
	if rootless() {
		t.Skip("a nested user namespace with these mappings needs real root")
	}
	root := newRootfs(t)
	// The container's root is host uid 200000: chown the tree as an image
	// store would.
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, 200000, 200000) })
	s := sh(root, `cat /proc/self/uid_map; id -u`)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	r := run(t, s)
	wantCode(t, r, 0)
	if f := strings.Fields(r.stdout); len(f) != 4 || f[1] != "200000" || f[3] != "0" {
		t.Errorf("uid_map/id: %q", r.stdout)
	}
}

func TestContainerStdinAndCancel(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	s := newSpec(root, "sh", "-c", "read x; echo got $x")
	var out strings.Builder
	p, err := corert.Start(context.Background(), corert.Options{Spec: s, Stdin: strings.NewReader("hello\n"), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Fatalf("exit code %d (%v)", code, err)
	}
	if out.String() != "got hello\n" {
		t.Errorf("output %q", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := corert.Start(ctx, corert.Options{Spec: newSpec(root, "true")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context: %v", err)
	}
}

func TestContainerConcurrentStarts(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			var out strings.Builder
			p, err := corert.Start(context.Background(), corert.Options{Spec: sh(root, "echo $$ "+strconv.Itoa(i)), Stdout: &out})
			if err != nil {
				errs <- err
				return
			}
			code, err := p.Wait()
			if err == nil && (code != 0 || out.String() != "1 "+strconv.Itoa(i)+"\n") {
				err = fmt.Errorf("container %d: exit code %d, output %q", i, code, out.String())
			}
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestContainerBeforeSetup: the hook sees the init in its namespaces, the
// command runs only after it returned, and a failing hook fails Start
// with its error and leaves no init behind.
func TestContainerBeforeSetup(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	dir := hostDir(t)
	s := newSpec(root, "cat", "/shared/flag")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: dir, Options: []string{"rbind"}})
	var stdout strings.Builder
	var hookPid int
	p, err := corert.Start(context.Background(), corert.Options{Spec: s, Stdout: &stdout, BeforeSetup: func(pid int) error {
		hookPid = pid
		// Slow on purpose: the command must wait for us.
		time.Sleep(200 * time.Millisecond)
		return os.WriteFile(filepath.Join(dir, "flag"), []byte("after-hook\n"), 0o644)
	}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait()
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if hookPid != p.Pid() {
		t.Errorf("hook got pid %d, init is %d", hookPid, p.Pid())
	}
	if stdout.String() != "after-hook\n" {
		t.Errorf("the command ran before the hook finished: %q", stdout.String())
	}

	hookErr := errors.New("no network for you")
	var pid int
	_, err = corert.Start(context.Background(), corert.Options{Spec: newSpec(root, "true"), BeforeSetup: func(p int) error {
		pid = p
		return hookErr
	}})
	if !errors.Is(err, hookErr) {
		t.Fatalf("Start with a failing hook: %v", err)
	}
	if err := unix.Kill(pid, 0); err == nil {
		t.Errorf("the init %d outlived a failed hook", pid)
	}
}
