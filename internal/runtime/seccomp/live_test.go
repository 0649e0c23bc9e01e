//go:build linux

package seccomp

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as the live-test helper (see TestMain):
// it installs the default filter on itself and reports probe results.
const helperEnv = "COVE_SECCOMP_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(liveHelper())
	}
	os.Exit(m.Run())
}

type probe struct {
	name string
	nr   uintptr
	args [3]uintptr
	want syscall.Errno // 0: the call must not fail
}

func liveProbes() []probe {
	p := []probe{
		{"getpid", unix.SYS_GETPID, [3]uintptr{}, 0},
		{"userfaultfd", unix.SYS_USERFAULTFD, [3]uintptr{}, unix.EPERM},
		{"bpf", unix.SYS_BPF, [3]uintptr{}, unix.EPERM},
		{"personality(0xffffffff)", unix.SYS_PERSONALITY, [3]uintptr{0xffffffff}, 0},
		{"personality(ADDR_NO_RANDOMIZE)", unix.SYS_PERSONALITY, [3]uintptr{0x0040000}, unix.ENOSYS},
		{"socket(AF_NETLINK,NETLINK_AUDIT)", unix.SYS_SOCKET, [3]uintptr{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT}, unix.EINVAL},
		{"socket(AF_VSOCK)", unix.SYS_SOCKET, [3]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM, 0}, unix.EPERM},
		{"socket(AF_UNIX)", unix.SYS_SOCKET, [3]uintptr{unix.AF_UNIX, unix.SOCK_DGRAM, 0}, 0},
		// Implemented by the kernel but not in the profile: the default
		// action (without the filter these fail with EFAULT/EINVAL).
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [3]uintptr{1, 0}, unix.ENOSYS},
		{"add_key", unix.SYS_ADD_KEY, [3]uintptr{}, unix.ENOSYS},
	}
	if runtime.GOARCH == "amd64" {
		p = append(p, probe{"x32 getpid", x32Bit | unix.SYS_GETPID, [3]uintptr{}, unix.ENOSYS})
	}
	return p
}

// liveHelper runs in the re-executed test binary. It prints "SKIP: reason"
// when seccomp cannot be used here, else one "name errno" line per probe.
func liveHelper() int {
	runtime.LockOSThread()
	f, err := Compile(DefaultProfile(), defaultCaps, runtime.GOARCH)
	if err != nil {
		fmt.Println("ERROR: compile:", err)
		return 1
	}
	// As root (CAP_SYS_ADMIN) no_new_privs is not needed; otherwise the
	// kernel requires it.
	nnp := os.Getenv("COVE_SECCOMP_NNP") == "1"
	if err := Load(f, nnp); err != nil {
		fmt.Println("SKIP: Load:", err)
		return 0
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Seccomp:") || strings.HasPrefix(l, "NoNewPrivs:") {
			fmt.Println("#", strings.Join(strings.Fields(l), " "))
		}
	}
	for _, p := range liveProbes() {
		r, _, e := unix.Syscall6(p.nr, p.args[0], p.args[1], p.args[2], 0, 0, 0)
		if e == 0 && (p.nr == unix.SYS_SOCKET || p.nr == unix.SYS_USERFAULTFD) {
			unix.Close(int(r))
		}
		fmt.Printf("%s %d\n", p.name, int(e))
	}
	return 0
}

// TestLiveDefaultFilter installs the compiled default profile in a child
// process and checks real syscall results.
func TestLiveDefaultFilter(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	switch runtime.GOARCH {
	case "amd64", "arm64":
	default:
		t.Skipf("no live probes for %s", runtime.GOARCH)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	if os.Geteuid() != 0 {
		cmd.Env = append(cmd.Env, "COVE_SECCOMP_NNP=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	got := map[string]syscall.Errno{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "SKIP: "):
			t.Skip(strings.TrimPrefix(line, "SKIP: "))
		case strings.HasPrefix(line, "# "):
			t.Log(line[2:])
			if line == "# Seccomp: 0" {
				t.Error("helper reports no seccomp filter after Load")
			}
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad helper line %q", line)
		}
		n, err := strconv.Atoi(line[i+1:])
		if err != nil {
			t.Fatalf("bad helper line %q", line)
		}
		got[line[:i]] = syscall.Errno(n)
	}
	for _, p := range liveProbes() {
		e, ok := got[p.name]
		switch {
		case !ok:
			t.Errorf("%s: no result", p.name)
		case e != p.want:
			t.Errorf("%s: errno %d (%v), want %d (%v)", p.name, int(e), e, int(p.want), p.want)
		default:
			t.Logf("%s: %v", p.name, errName(e))
		}
	}
}

func errName(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}
