package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/errdefs"
	corert "github.com/cove-run/cove/internal/runtime"
)

// withInit asks for cove's reaper as PID 1 (docker run --init).
func withInit(s *specs.Spec) *specs.Spec {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[corert.AnnotationInit] = "true"
	return s
}

func TestContainerInit(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	r := run(t, withInit(sh(root, `echo $$; cat /proc/1/comm; ps -o pid,comm`)))
	wantCode(t, r, 0)
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 3 || lines[0] == "1" || lines[1] != "cove-init" {
		t.Fatalf("want the command not to be PID 1 and PID 1 to be cove-init:\n%s", r.out())
	}
	if !strings.Contains(r.stdout, "    1 cove-init") {
		t.Errorf("ps does not show the reaper as PID 1:\n%s", r.stdout)
	}

	// The command's status passes through.
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"exit 3", 3},
		{"true", 0},
		{"kill -KILL $$", 137}, // not PID 1: SIGKILL from inside works
		{"kill -TERM $$", 143},
	} {
		r := run(t, withInit(sh(root, tc.script)))
		wantCode(t, r, tc.code)
	}

	// Exec errors: the same codes and messages as without --init.
	os.WriteFile(filepath.Join(root, "etc/notexec"), []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nonexist"}, 127, `exec: "nonexist": executable file not found in $PATH`},
		{[]string{"/no/such/file"}, 127, "exec /no/such/file: no such file or directory"},
		{[]string{"/etc"}, 126, "exec /etc: is a directory"},
		{[]string{"/etc/notexec"}, 126, "exec /etc/notexec: permission denied"},
	} {
		err := startErr(t, withInit(newSpec(root, tc.args...)))
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

// TestContainerInitReaps: orphans reparented to PID 1 are collected.
func TestContainerInitReaps(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	// Each ( ... &) leaves an orphan that exits a moment later.
	script := `for i in 1 2 3 4 5; do (sleep 0.05 &); done; sleep 0.5; ps -o stat,comm | grep -c '^Z' || true`
	r := run(t, withInit(sh(root, script)))
	wantCode(t, r, 0)
	if strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("zombies remain under the reaper: %q", r.out())
	}
}

// childOf returns the first child of pid (seen from the host), waiting for
// it to appear.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			c, _ := strconv.Atoi(f[0])
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d has no child", pid)
	return 0
}

// startReady starts s, whose command prints "ready" once it is set up, and
// waits for that line.
func startReady(t *testing.T, s *specs.Spec) (*corert.Process, *syncBuf) {
	t.Helper()
	out := &syncBuf{}
	p, err := corert.Start(context.Background(), corert.Options{Spec: s, Stdout: out, Stderr: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Signal(syscall.SIGKILL); p.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("the container did not get ready: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return p, out
}

func TestContainerInitSignals(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	wait := func(p *corert.Process, want int, what string) {
		t.Helper()
		done := make(chan struct{})
		var code int
		var err error
		go func() { code, err = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.Signal(syscall.SIGKILL)
			t.Fatalf("%s: the container did not exit", what)
		}
		if err != nil || code != want {
			t.Errorf("%s: exit code %d (%v), want %d", what, code, err, want)
		}
	}
	// A signal to the container (to its PID 1, the reaper) reaches the
	// command, which handles it.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGWINCH} {
		name := strings.ToUpper(strings.TrimPrefix(sigName(sig), "SIG"))
		p, _ := startReady(t, withInit(sh(root, `trap 'exit 42' `+name+`; echo ready; while :; do sleep 0.01; done`)))
		p.Signal(sig)
		wait(p, 42, "trapped "+name)
	}
	// Unhandled: the command dies of it, and the container reports 128+n
	// (a PID 1 without --init would ignore it).
	p, _ := startReady(t, withInit(sh(root, `echo ready; exec sleep 100`)))
	p.Signal(syscall.SIGTERM)
	wait(p, 143, "SIGTERM")
	// The command killed from outside.
	p, _ = startReady(t, withInit(sh(root, `echo ready; exec sleep 100`)))
	syscall.Kill(childOf(t, p.Pid()), syscall.SIGKILL)
	wait(p, 137, "SIGKILL of the command")
	// The reaper killed: everything goes.
	p, _ = startReady(t, withInit(sh(root, `echo ready; exec sleep 100`)))
	child := childOf(t, p.Pid())
	p.Signal(syscall.SIGKILL)
	wait(p, 137, "SIGKILL of the reaper")
	for i := 0; alive(child); i++ {
		if i > 500 {
			t.Fatalf("the command %d outlived the reaper", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGWINCH:
		return "SIGWINCH"
	}
	return strconv.Itoa(int(s))
}

// stateVariant is a change to a spec under which a command's starting
// state is compared between two ways of starting it.
type stateVariant struct {
	name  string
	users bool
	edit  func(*specs.Spec)
}

// securityVariants are the seccomp and no_new_privs combinations, which
// each init orders differently around the user switch, and the user and
// capability changes.
func securityVariants(t testing.TB) []stateVariant {
	return []stateVariant{
		{"default", false, func(*specs.Spec) {}},
		{"seccomp-nnp", false, func(s *specs.Spec) {
			s.Process.NoNewPrivileges = true
			s.Linux.Seccomp = defaultSeccomp(t, defaultCaps)
		}},
		{"seccomp", false, func(s *specs.Spec) { s.Linux.Seccomp = defaultSeccomp(t, defaultCaps) }},
		{"no-caps-object", false, func(s *specs.Spec) { s.Process.Capabilities = nil }},
		{"user", true, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 100}}
			s.Linux.Seccomp = defaultSeccomp(t, defaultCaps)
		}},
		{"user-ambient", true, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Capabilities.Inheritable = []string{"CAP_NET_BIND_SERVICE"}
			s.Process.Capabilities.Ambient = []string{"CAP_NET_BIND_SERVICE"}
			s.Process.NoNewPrivileges = true
		}},
	}
}

// TestContainerInitSameState: the command starts from exactly the state it
// gets without --init.
func TestContainerInitSameState(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	const script = `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status; ulimit -n; ulimit -Hn; ulimit -s; umask; pwd; id`
	for _, v := range append(securityVariants(t), []stateVariant{
		{"rlimits-cwd", false, func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
			s.Process.Cwd = "/tmp"
		}},
	}...) {
		t.Run(v.name, func(t *testing.T) {
			if v.users {
				needUsers(t)
			}
			plain := sh(root, script)
			v.edit(plain)
			reaped := withInit(sh(root, script))
			v.edit(reaped)
			a, b := run(t, plain), run(t, reaped)
			wantCode(t, a, 0)
			wantCode(t, b, 0)
			if a.stdout != b.stdout {
				t.Errorf("the command's state differs with --init:\nwithout:\n%s\nwith:\n%s", a.stdout, b.stdout)
			}
		})
	}
}

// TestContainerInitReaperState checks what PID 1 keeps once the command
// runs: on every one of its threads, nothing beyond CAP_KILL and a
// bounding set no larger than the container's; the container's filter;
// no descriptor but stdio and the Go runtime's own. And that the container
// cannot reach it.
func TestContainerInitReaperState(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	for _, user := range []uint32{0, 1000} {
		t.Run(fmt.Sprintf("uid=%d", user), func(t *testing.T) {
			if user != 0 {
				needUsers(t)
			}
			s := withInit(sh(root, `cat /proc/1/environ >/dev/null 2>&1 && echo ENVIRON-READABLE; (: >> /proc/1/exe) 2>&1; readlink /proc/1/fd/1 >/dev/null 2>&1 && echo FD-READABLE; readlink /proc/1/cwd >/dev/null 2>&1 && echo CWD-READABLE; echo ready; exec sleep 100`))
			s.Process.User = specs.User{UID: user, GID: user}
			s.Linux.Seccomp = defaultSeccomp(t, defaultCaps)
			p, out := startReady(t, s)
			pid := p.Pid()
			// CAP_KILL for a root command, nothing for a non-root one
			// (which has no capability either).
			kill := uint64(1) << 5
			if user != 0 {
				kill = 0
			}
			const bounding = uint64(0x800405fb)
			// The reaper drops to that right after starting the command:
			// give it a moment.
			var problems []string
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				problems = reaperProblems(t, pid, user, kill, bounding)
				if len(problems) == 0 || time.Now().After(deadline) {
					break
				}
			}
			for _, p := range problems {
				t.Error(p)
			}
			fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				n, _ := strconv.Atoi(fd.Name())
				target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
				if n > 2 && !strings.HasPrefix(target, "anon_inode:") {
					t.Errorf("PID 1 holds descriptor %d: %s", n, target)
				}
			}
			o := out.String()
			if strings.Contains(o, "READABLE") {
				t.Errorf("the container can reach into PID 1:\n%s", o)
			}
			if !strings.Contains(o, "/proc/1/exe: Permission denied") {
				t.Errorf("opening /proc/1/exe for writing: want EACCES (PID 1 is not dumpable):\n%s", o)
			}
		})
	}
}

// TestContainerInitExeProtection: even a container allowed to ptrace, which
// gets past PID 1's non-dumpable flag, cannot open the cove binary for
// writing through /proc/1/exe.
func TestContainerInitExeProtection(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	all := append([]string{"CAP_SYS_PTRACE"}, defaultCaps...)
	s := withInit(sh(root, `ls -l /proc/1/exe >/dev/null && echo exe-visible; (: >> /proc/1/exe) 2>&1; echo done`))
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	r := run(t, s)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "exe-visible") {
		t.Fatalf("with CAP_SYS_PTRACE the container should see /proc/1/exe:\n%s", r.out())
	}
	if !strings.Contains(r.stdout, "Read-only file system") && !strings.Contains(r.stdout, "Text file busy") {
		t.Errorf("opening /proc/1/exe for writing: want EROFS or ETXTBSY:\n%s", r.out())
	}
}

func TestContainerInitTerminal(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	// Fields 5 and 8 of /proc/PID/stat: process group and the terminal's
	// foreground group. The command's group must be the foreground one.
	s := withInit(sh(root, `set -- $(cat /proc/$$/stat); echo "pgrp=$5 tpgid=$8 pid=$1"; tty; stty size; exit 5`))
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	p, err := corert.Start(context.Background(), corert.Options{Spec: s})
	if err != nil {
		t.Fatal(err)
	}
	con := p.Console()
	defer con.Close()
	outc := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := con.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				outc <- b.String()
				return
			}
		}
	}()
	code, err := p.Wait()
	if err != nil || code != 5 {
		t.Fatalf("exit code %d (%v), want 5", code, err)
	}
	var out string
	select {
	case out = <-outc:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not reach EOF")
	}
	var pgrp, tpgid, pid int
	if i := strings.Index(out, "pgrp="); i < 0 {
		t.Fatalf("no output: %q", out)
	} else {
		fmt.Sscanf(out[i:], "pgrp=%d tpgid=%d pid=%d", &pgrp, &tpgid, &pid)
	}
	if pgrp != pid || tpgid != pgrp || pid == 1 {
		t.Errorf("want the command (pid %d) leading the terminal's foreground group: pgrp %d, tpgid %d", pid, pgrp, tpgid)
	}
	for _, want := range []string{"/dev/pts/0\r\n", "24 80\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
}

func TestContainerInitNoPidNamespace(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	// Without a pid namespace the reaper is a child subreaper: the orphans
	// still come to it.
	// (/proc shows the host's processes here: look at the reaper's
	// children only.)
	s := withInit(sh(root, `(sleep 0.3 & echo $! >/tmp/orphan); for i in 1 2 3; do (sleep 0.05 &); done
		sleep 0.1; grep '^PPid:' /proc/$(cat /tmp/orphan)/status | grep -qw $PPID && echo adopted
		sleep 0.5; for c in $(cat /proc/$PPID/task/*/children); do grep -q '^State:.*zombie' /proc/$c/status && echo zombie; done; echo done`))
	s.Linux.Namespaces = without(s.Linux.Namespaces, specs.PIDNamespace)
	r := run(t, s)
	wantCode(t, r, 0)
	if r.stdout != "adopted\ndone\n" {
		t.Errorf("want the orphan adopted by the reaper and no zombie: %q", r.out())
	}
}

func TestContainerInitBadSpec(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	s := withInit(newSpec(root, "true"))
	s.Annotations[corert.AnnotationInit] = "maybe"
	if err := startErr(t, s); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad annotation value: %v", err)
	}
	s = withInit(newSpec(root, "true"))
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination != "/proc" {
			mounts = append(mounts, m)
		}
	}
	s.Mounts = mounts
	if err := startErr(t, s); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "/proc") {
		t.Errorf("--init without /proc: %v", err)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestContainerDevices: a device goes where the spec says, bound from the
// host's node with that number wherever it is on the host.
func TestContainerDevices(t *testing.T) {
	needRoot(t)
	root := newRootfs(t)
	s := sh(root, `ls -l /dev/mynull /dev/null; echo x > /dev/mynull && echo written`)
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3}}
	r := run(t, s)
	wantCode(t, r, 0)
	if strings.Count(r.stdout, " 1,   3 ") != 2 || !strings.Contains(r.stdout, "written") {
		t.Errorf("/dev/mynull:\n%s", r.out())
	}
	// No such device on the host: an error before anything starts.
	s = newSpec(root, "true")
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/nothing", Type: "c", Major: 240, Minor: 254}}
	if err := startErr(t, s); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "240:254") {
		t.Errorf("missing device: %v", err)
	}
}

// TestContainerInitLatency logs what --init costs over a plain start.
func TestContainerInitLatency(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("timing only")
	}
	root := newRootfs(t)
	med := func(init bool) time.Duration {
		var d []time.Duration
		for i := 0; i < 11; i++ {
			s := newSpec(root, "true")
			if init {
				withInit(s)
			}
			t0 := time.Now()
			r := run(t, s)
			wantCode(t, r, 0)
			d = append(d, time.Since(t0))
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	plain, reaped := med(false), med(true)
	t.Logf("Start+Wait of `true`: median %v without --init, %v with", plain, reaped)
}

// reaperProblems lists what the threads of the reaper pid hold beyond what
// they may.
func reaperProblems(t *testing.T, pid int, user uint32, kill, bounding uint64) []string {
	var problems []string
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread has exited
		}
		st := string(b)
		for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"} {
			v, err := strconv.ParseUint(statusField(t, st, k), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			max := kill
			switch k {
			case "CapBnd":
				max = bounding
			case "CapInh", "CapAmb":
				max = 0
			}
			if v&^max != 0 {
				problems = append(problems, fmt.Sprintf("thread %s of PID 1: %s = %016x, more than %016x", task.Name(), k, v, max))
			}
		}
		if got := statusField(t, st, "Seccomp"); got != "2" {
			problems = append(problems, fmt.Sprintf("thread %s of PID 1: Seccomp = %s, want the container's filter", task.Name(), got))
		}
		if got := strings.Fields(statusField(t, st, "Uid"))[0]; got != strconv.Itoa(int(user)) {
			problems = append(problems, fmt.Sprintf("thread %s of PID 1: uid %s, want %d", task.Name(), got, user))
		}
	}
	return problems
}
