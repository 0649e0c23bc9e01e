package runtime_test

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/reexec"
	"github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/runtime/initproc"
	"github.com/cove-run/cove/internal/userns"
)

// envRootless asks TestMain to enter cove's user namespace (as the
// unprivileged user running the binary) before running the tests.
const envRootless = "COVE_RUNTIME_TEST_ROOTLESS"

// TestMain dispatches the roles of the test binary, as cmd/cove's main does
// for the real one: the integration tests start containers whose init is
// this binary re-executed.
func TestMain(m *testing.M) {
	reexec.Register(initproc.Role, initproc.Main)
	// argv[0] of a binary the kernel runs as the interpreter of a
	// "#!/proc/self/exe" script: see TestContainerExeProtection.
	reexec.Register("/proc/self/exe", exeAttack)
	reexec.Register(parentRole, parentHelper)
	reexec.Register(lockedRole, lockedHelper)
	if reexec.Run() {
		return
	}
	if err := userns.ContinueStage(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	if os.Getenv(envRootless) == "1" && userns.Needed() {
		code, err := userns.Reexec(userns.NewPlan(), func(w string) { fmt.Fprintln(os.Stderr, "warning:", w) })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(125)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// rootless reports whether the tests run in cove's user namespace.
func rootless() bool { return userns.InNamespace() }

// needRoot skips a test that starts containers when it cannot.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("starting containers needs root, or root of cove's user namespace (TestRootless runs these tests there)")
	}
}

// singleID reports whether the tests run in a single-ID user namespace,
// where only root exists and container users cannot be switched.
func singleID() bool { return userns.SingleID() }

// needUsers skips a test that switches to a non-root container user when
// only root exists.
func needUsers(t testing.TB) {
	t.Helper()
	if singleID() {
		t.Skip("a single-ID user namespace has no other users to switch to")
	}
}

// newRootfs builds a minimal root filesystem from the host's static
// busybox: /bin with every applet, /etc/passwd and /etc/group, and the
// directories the default mounts need.
func newRootfs(t testing.TB) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not found (Debian: apt-get install busybox-static)")
	}
	if f, err := elf.Open(bb); err == nil {
		dynamic := false
		for _, p := range f.Progs {
			dynamic = dynamic || p.Type == elf.PT_INTERP
		}
		f.Close()
		if dynamic {
			t.Skip(bb + " is dynamically linked; the test rootfs needs a static busybox (busybox-static)")
		}
	}
	root := t.TempDir()
	// t.TempDir and its parent are 0700; the container's non-root users,
	// and a container in a user namespace of its own, must get in.
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "root", "home/user", "mnt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		os.Symlink("busybox", filepath.Join(root, "bin", applet))
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
		"etc/group":  "root:x:0:\ntty:x:5:\nwheel:x:10:\nusers:x:100:\nuser:x:1000:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// defaultCaps is the brief's default capability set (Docker's default
// minus AUDIT_WRITE, MKNOD and NET_RAW).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

// newSpec returns a spec shaped like the one Docker generates by default.
func newSpec(rootfs string, args ...string) *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootfs},
		Hostname: "cove-test",
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  defaultCaps,
				Effective: defaultCaps,
				Permitted: defaultCaps,
			},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.CgroupNamespace},
			},
			MaskedPaths: []string{
				"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
				"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// result is a finished container.
type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) out() string { return r.stdout + r.stderr }

// run starts spec and waits for it; setup errors fail the test.
func run(t testing.TB, s *specs.Spec) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := runtime.Start(ctx, runtime.Options{Spec: s, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("Start(%q): %v", s.Process.Args, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			p.Signal(syscall.SIGKILL)
		}
	}()
	code, err := p.Wait()
	close(done)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// startErr starts spec expecting Start to fail.
func startErr(t testing.TB, s *specs.Spec) error {
	t.Helper()
	p, err := runtime.Start(context.Background(), runtime.Options{Spec: s, Stdout: io.Discard, Stderr: io.Discard})
	if err == nil {
		code, _ := p.Wait()
		t.Fatalf("Start(%q) succeeded (exit code %d), want an error", s.Process.Args, code)
	}
	return err
}

// sh is a spec running a shell script.
func sh(rootfs, script string) *specs.Spec { return newSpec(rootfs, "sh", "-c", script) }

// wantCode checks the exit code, first, as every container test does.
func wantCode(t testing.TB, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d; output:\n%s", r.code, code, r.out())
	}
}
