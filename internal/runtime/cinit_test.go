package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/errdefs"
	corert "github.com/cove-run/cove/internal/runtime"
)

// setupBy starts s and returns which init set it up, then lets it finish.
func setupBy(t *testing.T, s *specs.Spec) string {
	t.Helper()
	p, err := corert.Start(context.Background(), corert.Options{Spec: s})
	if err != nil {
		t.Fatalf("Start(%q): %v", s.Process.Args, err)
	}
	if c := p.Console(); c != nil {
		defer c.Close()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	code, err := p.Wait()
	if err != nil || code != 0 {
		t.Fatalf("Wait: %d, %v", code, err)
	}
	return p.SetupBy()
}

// TestContainerCInitChosen: ordinary containers are set up by the C init; a
// terminal and the --init reaper keep the Go init.
func TestContainerCInitChosen(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	if got := setupBy(t, newSpec(root, "true")); got != "c" {
		t.Errorf("an ordinary container was set up by the %s init, want c", got)
	}
	s := newSpec(root, "true")
	s.Linux.Seccomp = defaultSeccomp(t, defaultCaps)
	s.Process.NoNewPrivileges = true
	if got := setupBy(t, s); got != "c" {
		t.Errorf("a container with seccomp and no_new_privs was set up by the %s init, want c", got)
	}
	if got := setupBy(t, withInit(newSpec(root, "true"))); got != "go" {
		t.Errorf("--init: set up by the %s init, want go", got)
	}
	s = newSpec(root, "true")
	s.Process.Terminal = true
	if got := setupBy(t, s); got != "go" {
		t.Errorf("a terminal: set up by the %s init, want go", got)
	}
	// A mount option only the Go init reports on.
	s = newSpec(root, "true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Options: []string{"idmap"}})
	if err := startErr(t, s); !strings.Contains(err.Error(), `mount option "idmap" is not supported`) {
		t.Errorf("idmap option: %v", err)
	}
	restore := corert.ForceGoInit()
	defer restore()
	if got := setupBy(t, newSpec(root, "true")); got != "go" {
		t.Errorf("with ForceGoInit: set up by the %s init, want go", got)
	}
}

// bothInits runs f once with the C init and once with the Go init.
func bothInits(f func(goInit bool)) {
	f(false)
	restore := corert.ForceGoInit()
	defer restore()
	f(true)
}

// TestContainerCInitSameState: a command starts in the same state whichever init
// set it up: credentials, capabilities, seccomp, no_new_privs, limits,
// mounts, /dev, masked and read-only paths, names, signals, descriptors.
func TestContainerCInitSameState(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	// A dangling link in the image whose target a mount creates, and one
	// that tries to lead out of the rootfs.
	os.Symlink("/data/sub", filepath.Join(root, "mnt/dangling"))
	os.Symlink("../../../../../../tmp", filepath.Join(root, "escape"))
	bindSrc := t.TempDir()
	os.Chmod(bindSrc, 0o755)
	os.WriteFile(filepath.Join(bindSrc, "file"), []byte("bound\n"), 0o644)
	const script = `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters|SigIgn|SigBlk):' /proc/self/status
ulimit -n; ulimit -Hn; ulimit -s; umask; pwd; id; hostname; cat /proc/sys/kernel/domainname
ls /proc/self/fd; ls -l /dev | awk '{print $1, $3, $4, $5, $6, $NF}'; cat /proc/self/mounts
echo kcore=$(cat /proc/kcore | wc -c); echo firmware=$(ls /sys/firmware | wc -l)
(echo x > /proc/sys/kernel/hostname) 2>&1; (: >> /proc/self/exe) 2>&1; (touch /written) 2>&1
ls /data/sub 2>&1; ls /escape 2>&1; cat /mnt/bind/file 2>&1; cat /proc/sys/net/ipv4/ip_forward`
	for _, v := range append(securityVariants(t), []stateVariant{
		{"nnp", false, func(s *specs.Spec) { s.Process.NoNewPrivileges = true }},
		{"mounts-rlimits-cwd-names", false, func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
			s.Process.Cwd = "/tmp/new/dir"
			s.Domainname = "example.org"
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmni": "1000"}
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/mnt/dangling/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "nosuid"}},
				specs.Mount{Destination: "/escape/y", Type: "tmpfs", Source: "tmpfs"},
				specs.Mount{Destination: "/mnt/bind", Type: "bind", Source: bindSrc, Options: []string{"rbind", "ro", "rprivate"}})
		}},
		{"readonly-root", false, func(s *specs.Spec) { s.Root.Readonly = true }},
		{"devices", false, func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3}}
		}},
	}...) {
		t.Run(v.name, func(t *testing.T) {
			if v.users {
				needUsers(t)
			}
			var out [2]result
			bothInits(func(goInit bool) {
				s := sh(root, script)
				v.edit(s)
				out[boolIndex(goInit)] = run(t, s)
			})
			wantCode(t, out[0], 0)
			wantCode(t, out[1], 0)
			if out[0].stdout != out[1].stdout {
				t.Errorf("the command's state differs:\nC init:\n%s\nGo init:\n%s", out[0].out(), out[1].out())
			}
			if strings.Contains(out[0].stdout, "kcore=0") == false || !strings.Contains(out[0].stdout, "firmware=0") {
				t.Errorf("masked paths are not empty:\n%s", out[0].stdout)
			}
			if !strings.Contains(out[0].stdout, "Read-only file system") {
				t.Errorf("/proc/sys is writable:\n%s", out[0].stdout)
			}
			if strings.Contains(out[0].stdout, "/proc/self/exe") && !strings.Contains(out[0].stdout, "Text file busy") &&
				!strings.Contains(out[0].stdout, "Read-only file system") && !strings.Contains(out[0].stdout, "Permission denied") {
				t.Errorf("/proc/self/exe:\n%s", out[0].stdout)
			}
		})
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestContainerCInitErrors: each setup failure of the C init reports the stage,
// errno, exit code and message of the Go init.
func TestContainerCInitErrors(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	os.WriteFile(filepath.Join(root, "etc/notexec"), []byte("#!/bin/sh\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "private"), 0o700)
	os.Chmod(filepath.Join(root, "private"), 0o700)
	denySetresuid := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"setresuid"}, Action: specs.ActErrno}},
	}
	type tc struct {
		name  string
		users bool
		edit  func(*specs.Spec)
		stage string
		code  int
		want  string
	}
	for _, c := range []tc{
		{"not-found", false, func(s *specs.Spec) { s.Process.Args = []string{"nonexist"} }, "exec", 127,
			`exec: "nonexist": executable file not found in $PATH`},
		{"no-such-file", false, func(s *specs.Spec) { s.Process.Args = []string{"/no/such/file"} }, "exec", 127,
			"exec /no/such/file: no such file or directory"},
		{"directory", false, func(s *specs.Spec) { s.Process.Args = []string{"/etc"} }, "exec", 126,
			"exec /etc: is a directory"},
		{"not-executable", false, func(s *specs.Spec) { s.Process.Args = []string{"/etc/notexec"} }, "exec", 126,
			"exec /etc/notexec: permission denied"},
		{"cwd-permission", true, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Cwd = "/private"
		}, "cwd", 0, "chdir to working directory /private: permission denied"},
		{"cwd-under-file", false, func(s *specs.Spec) { s.Process.Cwd = "/etc/passwd/x" }, "cwd", 0,
			"creating working directory: mkdir /etc/passwd: not a directory"},
		{"bind-source-gone", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/x", Type: "bind", Source: "/nonexistent/cove-test", Options: []string{"rbind"}})
		}, "mount", 0, "bind mounting /nonexistent/cove-test on /mnt/x: source: no such file or directory"},
		{"tmpfs-bad-data", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=x"}})
		}, "mount", 0, "mounting tmpfs at /mnt/t: invalid argument (flags nosuid; data size=x)"},
		{"mount-under-file", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/passwd/t", Type: "tmpfs", Source: "tmpfs"})
		}, "mount", 0, "mounting tmpfs at /etc/passwd/t: resolving /etc/passwd/t: not a directory"},
		{"sysctl-value", false, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "abc"} }, "sysctl", 0,
			"setting sysctl net.ipv4.ip_forward=abc: invalid argument"},
		{"seccomp-denies-user-switch", true, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Linux.Seccomp = denySetresuid
		}, "user", 0, "switching to user 1000: operation not permitted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.users {
				needUsers(t)
			}
			var errs [2]*corert.InitError
			var codes [2]int
			bothInits(func(goInit bool) {
				s := newSpec(root, "true")
				c.edit(s)
				err := startErr(t, s)
				codes[boolIndex(goInit)] = errdefs.ExitCode(err)
				var ie *corert.InitError
				if !errors.As(err, &ie) {
					t.Fatalf("goInit=%v: %v (%T) is not an InitError", goInit, err, err)
				}
				errs[boolIndex(goInit)] = ie
			})
			want := 125
			if c.code != 0 {
				want = c.code
			}
			if codes[0] != want || codes[1] != want {
				t.Errorf("exit codes: C %d, Go %d, want %d", codes[0], codes[1], want)
			}
			ci, gi := errs[0], errs[1]
			if ci.Stage != c.stage || gi.Stage != c.stage {
				t.Errorf("stages: C %q, Go %q, want %q", ci.Stage, gi.Stage, c.stage)
			}
			if ci.Errno != gi.Errno {
				t.Errorf("errno: C %d (%v), Go %d (%v)", ci.Errno, ci.Errno, gi.Errno, gi.Errno)
			}
			if ci.Msg != gi.Msg || ci.Msg != c.want {
				t.Errorf("messages:\nC:    %s\nGo:   %s\nwant: %s", ci.Msg, gi.Msg, c.want)
			}
		})
	}
	// With no_new_privs the same filter is loaded last, after the switch.
	t.Run("nnp-filter-after-switch", func(t *testing.T) {
		needUsers(t)
		bothInits(func(goInit bool) {
			s := newSpec(root, "id", "-u")
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = true
			s.Linux.Seccomp = denySetresuid
			r := run(t, s)
			wantCode(t, r, 0)
			if strings.TrimSpace(r.stdout) != "1000" {
				t.Errorf("goInit=%v: %q", goInit, r.out())
			}
		})
	})
}

// TestContainerCInitNetNS: a network namespace made ahead of the init
// (Options.NetNS) is joined by the init's constructor, and the command
// waits for the parent's go-ahead (BeforeSetup), with either init.
func TestContainerCInitNetNS(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	holder := exec.Command("sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := holder.Start(); err != nil {
		t.Skipf("cannot make a network namespace: %v", err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	bothInits(func(goInit bool) {
		var out syncBuf
		hooked := false
		p, err := corert.Start(context.Background(), corert.Options{
			Spec: sh(root, "readlink /proc/self/ns/net"), Stdout: &out, Stderr: &out, NetNS: ns,
			BeforeSetup: func(int) error { hooked = true; return nil },
		})
		if err != nil {
			t.Fatalf("goInit=%v: %v", goInit, err)
		}
		code, err := p.Wait()
		if err != nil || code != 0 {
			t.Fatalf("goInit=%v: exit %d, %v: %s", goInit, code, err, out.String())
		}
		if wantBy := map[bool]string{false: "c", true: "go"}[goInit]; p.SetupBy() != wantBy {
			t.Errorf("set up by the %s init, want %s", p.SetupBy(), wantBy)
		}
		if strings.TrimSpace(out.String()) != want || !hooked {
			t.Errorf("goInit=%v: the container is in %q (hook ran: %v), want %s", goInit, out.String(), hooked, want)
		}
		// An init that fails at once, maybe before the parent saw it in
		// the namespace: its own error is reported, not the wait's.
		s := newSpec(root, "true")
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent/cove-test", Options: []string{"rbind"}})
		for i := 0; i < 20; i++ {
			_, err = corert.Start(context.Background(), corert.Options{Spec: s, NetNS: ns, BeforeSetup: func(int) error { return nil }})
			var ie *corert.InitError
			if !errors.As(err, &ie) || ie.Stage != "mount" {
				t.Fatalf("goInit=%v: a missing bind source with a network namespace: %v, want the mount stage's error", goInit, err)
			}
		}
	})
}
