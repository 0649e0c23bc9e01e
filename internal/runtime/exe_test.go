package runtime_test

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	corert "github.com/cove-run/cove/internal/runtime"
)

// exeAttack runs as the container's pid 1 when its command is a script
// starting with "#!/proc/self/exe": the kernel resolves the interpreter
// through the init's /proc/self/exe, which is the cove binary (here: the
// test binary). This is the CVE-2019-5736 setup, with the attacker's code
// already running inside the runtime's image, the worst case.
func exeAttack() int {
	// 1. Open our own binary for writing while it runs.
	f, err := os.OpenFile("/proc/self/exe", os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		f.Close()
		fmt.Println("WRITABLE while running")
	} else {
		fmt.Printf("while running: %v\n", err)
	}
	// 2. Keep a descriptor, stop running the binary (execve), and reopen
	// the descriptor for writing once no process executes the file any
	// more, so that ETXTBSY no longer protects it.
	fd, err := syscall.Open("/proc/self/exe", syscall.O_RDONLY, 0)
	if err != nil {
		fmt.Printf("open: %v\n", err)
		return 1
	}
	script := fmt.Sprintf(`
		for p in /proc/[0-9]*/exe; do ( : >> $p ) 2>/dev/null && echo "WRITABLE $p"; done
		if ( : >> /proc/self/fd/%d ) 2>/tmp/err; then echo "WRITABLE after exec"; else echo "after exec: $(cat /tmp/err)"; fi`, fd)
	err = syscall.Exec("/bin/sh", []string{"sh", "-c", script}, []string{"PATH=/bin"})
	fmt.Printf("exec: %v\n", err)
	return 1
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// libMounts makes a dynamically linked test binary runnable inside the
// busybox rootfs.
func libMounts(t *testing.T, bin string) []specs.Mount {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []specs.Mount
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		for _, d := range []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64"} {
			if _, err := os.Stat(d); err == nil {
				out = append(out, specs.Mount{Destination: d, Type: "bind", Source: d, Options: []string{"rbind", "ro"}})
			}
		}
	}
	return out
}

// TestContainerExeProtection checks that a container cannot open the cove
// binary for writing through /proc/PID/exe, and, without the protection,
// that the same attack succeeds (so the test can fail).
func TestContainerExeProtection(t *testing.T) {
	needRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy, so that no other process runs the file (the go test process
	// runs the original) and the write-open is not refused for that reason
	// (ETXTBSY) alone. The copy is owned by the container's root, the
	// rootless case.
	bin := filepath.Join(hostDir(t), "cove-copy")
	copyFile(t, self, bin)
	for _, protect := range []bool{true, false} {
		t.Run(fmt.Sprintf("protect=%v", protect), func(t *testing.T) {
			restore := corert.SetInitBinary(bin, protect)
			defer restore()
			root := newRootfs(t)
			os.WriteFile(filepath.Join(root, "evil"), []byte("#!/proc/self/exe\n"), 0o755)
			s := newSpec(root, "/evil")
			s.Mounts = append(s.Mounts, libMounts(t, bin)...)
			r := run(t, s)
			wantCode(t, r, 0)
			t.Logf("attack output:\n%s", r.out())
			if !strings.Contains(r.stdout, "while running:") && !strings.Contains(r.stdout, "WRITABLE while running") {
				t.Fatalf("the attack did not run:\n%s", r.out())
			}
			if protect {
				if strings.Contains(r.stdout, "WRITABLE") {
					t.Errorf("the cove binary is writable from the container:\n%s", r.out())
				}
				if !strings.Contains(r.stdout, "after exec: sh: can't create /proc/self/fd/") || !strings.Contains(r.stdout, "Read-only file system") {
					t.Errorf("want EROFS for the write-open after exec:\n%s", r.out())
				}
			} else if !strings.Contains(r.stdout, "WRITABLE after exec") {
				t.Errorf("without protection the attack should succeed; the test does not test anything:\n%s", r.out())
			}
		})
	}
}

const parentRole = "cove-runtime-test-parent"

// parentHelper starts a container and waits forever; the test kills it.
// COVE_TEST_UID runs the command as that user (and group), COVE_TEST_INIT=1
// with the reaper as PID 1.
func parentHelper() int {
	s := newSpec(os.Getenv("COVE_TEST_ROOTFS"), "sleep", "1000")
	if v := os.Getenv("COVE_TEST_UID"); v != "" {
		id, err := strconv.Atoi(v)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		s.Process.User = specs.User{UID: uint32(id), GID: uint32(id)}
	}
	if os.Getenv("COVE_TEST_INIT") == "1" {
		withInit(s)
	}
	p, err := corert.Start(context.Background(), corert.Options{Spec: s})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(p.Pid())
	select {}
}

// TestContainerDiesWithParent: a container started attached dies when its
// parent is SIGKILLed (the parent-death signal), whoever its user is. The
// non-root cases are the regression: the user switch clears the signal
// (the kernel does on any euid change) and the init failed to restore it,
// so only root containers died.
func TestContainerDiesWithParent(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		uid  string
		init bool
	}{
		{"root", "", false},
		{"user", "1000", false},
		{"root-init", "", true},
		{"user-init", "1000", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.uid != "" {
				needUsers(t)
			}
			cmd := exec.Command(self)
			cmd.Args[0] = parentRole
			cmd.Env = append(os.Environ(), "COVE_TEST_ROOTFS="+root, "COVE_TEST_UID="+tc.uid)
			if tc.init {
				cmd.Env = append(cmd.Env, "COVE_TEST_INIT=1")
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			pid, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper said %q", line)
			}
			if !alive(pid) {
				t.Fatalf("container %d is not running", pid)
			}
			// Every process of the container: with --init the command is
			// the reaper's child, and must go too.
			pids := append([]int{pid}, childrenOf(pid)...)
			if tc.init && len(pids) < 2 {
				t.Errorf("the reaper %d has no child", pid)
			}
			cmd.Process.Kill()
			cmd.Wait()
			deadline := time.Now().Add(5 * time.Second)
			for _, p := range pids {
				for alive(p) {
					if time.Now().After(deadline) {
						for _, p := range pids {
							syscall.Kill(p, syscall.SIGKILL)
						}
						t.Fatalf("container process %d (of %v) outlived its parent", p, pids)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var list []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		// After the command name: state, then the parent's pid.
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			list = append(list, p)
		}
	}
	return list
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestRootless re-runs every TestContainer* test as an unprivileged user,
// inside cove's user namespace: the way the product runs. The test user
// (covetest) has subordinate ID ranges; the second one (covenosub), when
// present, has none and gets the single-ID fallback namespace.
func TestRootless(t *testing.T) {
	if os.Geteuid() != 0 || rootless() {
		t.Skip("needs real root to switch to the unprivileged test users")
	}
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skip("newuidmap not found (Debian: apt-get install uidmap)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env, def string
		must     []string
	}{
		{"COVE_TEST_USER", "covetest", []string{"--- PASS: TestContainerIsolation", "--- PASS: TestContainerExeProtection", "--- PASS: TestContainerCapabilities"}},
		{"COVE_TEST_NOSUB_USER", "covenosub", []string{"--- PASS: TestContainerIsolation", "--- PASS: TestContainerExeProtection", "single-ID"}},
	} {
		name := os.Getenv(tc.env)
		if name == "" {
			name = tc.def
		}
		t.Run(name, func(t *testing.T) {
			u, err := user.Lookup(name)
			if err != nil {
				t.Skipf("test user %q does not exist (create it with hack/setup-test-env.sh): %v", name, err)
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			dir := hostDir(t)
			os.Chmod(filepath.Dir(dir), 0o755)
			bin := filepath.Join(dir, "runtime.test")
			copyFile(t, self, bin)
			os.Chown(bin, uid, gid)

			args := []string{"-test.run", "^TestContainer", "-test.count=1", "-test.v"}
			if testing.Short() {
				args = append(args, "-test.short")
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=/tmp", envRootless + "=1"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
			out, err := cmd.CombinedOutput()
			if testing.Verbose() || err != nil {
				t.Logf("run as %s:\n%s", name, out)
			}
			if err != nil {
				t.Fatalf("the container tests failed as %s in a user namespace: %v", name, err)
			}
			for _, want := range tc.must {
				if !strings.Contains(string(out), want) {
					t.Errorf("the run as %s lacks %q", name, want)
				}
			}
		})
	}
}

const lockedRole = "cove-runtime-test-locked"

// lockedHelper runs in its own mount namespace: it mounts a tmpfs with
// restrictive flags, then starts a container in a user namespace of its own,
// in which the kernel locks those flags, with a read-only bind of it.
func lockedHelper() int {
	src := os.Getenv("COVE_TEST_LOCKED")
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := syscall.Mount("tmpfs", src, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC|syscall.MS_NOATIME, "mode=777"); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	s := sh(os.Getenv("COVE_TEST_ROOTFS"), `grep ' /locked ' /proc/self/mountinfo; touch /locked/x`)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/locked", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	p, err := corert.Start(context.Background(), corert.Options{Spec: s, Stdout: os.Stdout, Stderr: os.Stdout})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	code, _ := p.Wait()
	fmt.Println("exit", code)
	return 0
}

// TestContainerLockedMountFlags binds a mount whose nosuid, nodev, noexec
// and noatime flags the kernel locks (it comes from a more privileged mount
// namespace) read-only: the remount must repeat them or fail with EPERM.
func TestContainerLockedMountFlags(t *testing.T) {
	needRoot(t)
	if rootless() {
		t.Skip("needs real root for the container's own user namespace")
	}
	root := newRootfs(t)
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, 200000, 200000) })
	src := hostDir(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Args[0] = lockedRole
	cmd.Env = append(os.Environ(), "COVE_TEST_ROOTFS="+root, "COVE_TEST_LOCKED="+src)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	o := string(out)
	if !strings.Contains(o, "exit 1\n") {
		t.Fatalf("want exit code 1 from touch on a read-only mount:\n%s", o)
	}
	for _, want := range []string{" ro,nosuid,nodev,noexec,noatime ", "Read-only file system"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
}
