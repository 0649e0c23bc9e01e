//go:build e2e

package e2e

import (
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startForeground starts `cove run --name NAME ARGS... IMAGE sh -c SCRIPT`
// in the background (a foreground container whose cove process the test
// owns), where SCRIPT prints "ready" once the container is set up, and
// returns when it has. The container is killed at the end of the test.
func startForeground(t *testing.T, h *Harness, name string, runArgs []string, script string) *exec.Cmd {
	t.Helper()
	args := append([]string{"run", "--name", name}, runArgs...)
	args = append(args, "cove-test/busybox", "sh", "-c", script)
	cmd := h.Cmd(args...)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	exited := startKillable(t, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "ready") {
		select {
		case <-exited:
			t.Fatalf("container %s exited before it was ready: stdout %q stderr %q", name, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s not ready: stdout %q stderr %q", name, stdout.String(), stderr.String())
		}
	}
	killContainerAtEnd(t, h, name)
	return cmd
}

// killContainerAtEnd kills the container's first process when the test
// ends, in case it outlives its cove process (a foreground container
// whose user is not root does, at the time of writing).
func killContainerAtEnd(t *testing.T, h *Harness, name string) {
	t.Helper()
	r := h.Run(0, "inspect", "--format", "{{.State.Pid}}", name)
	pid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("pid of container %s: %q", name, r.Stdout)
	}
	// A pidfd, so that a PID reused meanwhile is never signalled.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd of container %s (%d): %v", name, pid, err)
	}
	t.Cleanup(func() {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		unix.Close(fd)
	})
}

// startKillable starts cmd in a process group of its own and kills the
// whole group (cove and what it started) at the end of the test. The
// returned channel is closed when cmd has exited.
func startKillable(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	// Do not wait for ever on output a leftover process still holds.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	return exited
}

// statusLines returns the named fields of a /proc/PID/status dump, one
// "Name:\tvalue" per field.
func statusLines(status string, names ...string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(status, "\n") {
		for _, n := range names {
			if strings.HasPrefix(l, n+":") {
				m[n] = strings.TrimSpace(strings.TrimPrefix(l, n+":"))
			}
		}
	}
	return m
}

func TestExecBasics(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	startForeground(t, h, "box", []string{"-h", "boxhost", "-e", "RUNVAR=fromrun", "-w", "/tmp"},
		"echo m > /marker; echo ready; exec sleep 600")

	r := h.Run(0, "exec", "box", "echo", "hello")
	if r.Stdout != "hello\n" || r.Stderr != "" {
		t.Errorf("exec echo: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// The command's exit code, and stdout and stderr apart.
	r = h.Run(3, "exec", "box", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// 127 and 126, as Docker, with a message naming the command.
	r = h.Run(127, "exec", "box", "no-such-command")
	if !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("127 error should name the command: %q", r.Stderr)
	}
	r = h.Run(126, "exec", "box", "/etc")
	if !strings.Contains(r.Stderr, "/etc") {
		t.Errorf("126 error should name the command: %q", r.Stderr)
	}
	h.Run(126, "exec", "box", "/etc/passwd")
	// Flags after the command are the command's.
	r = h.Run(0, "exec", "box", "echo", "a", "-u", "-w", "x")
	if r.Stdout != "a -u -w x\n" {
		t.Errorf("command flags: %q", r.Stdout)
	}

	// Environment: the container's (HOSTNAME, PATH, -e of run), plus -e
	// and --env-file of exec, which win.
	envFile := h.WriteFile("exec.env", []byte("# comment\nFROMFILE=file\nRUNVAR=overridden-by-e\n"))
	r = h.Run(0, "exec", "--env-file", envFile, "-e", "FOO=bar", "-e", "RUNVAR=fromexec", "box", "env")
	for _, want := range []string{"FOO=bar", "FROMFILE=file", "RUNVAR=fromexec", "HOSTNAME=boxhost", "PATH=/usr/local/sbin:", "HOME=/root"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("exec env lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = h.Run(0, "exec", "box", "sh", "-c", "echo $RUNVAR; echo ${TERM:-noterm}")
	if r.Stdout != "fromrun\nnoterm\n" {
		t.Errorf("container env in exec: %q", r.Stdout)
	}

	// Working directory: the container's, or -w, which must exist.
	r = h.Run(0, "exec", "box", "pwd")
	if r.Stdout != "/tmp\n" {
		t.Errorf("default working directory %q, want the container's /tmp", r.Stdout)
	}
	r = h.Run(0, "exec", "-w", "/etc", "box", "pwd")
	if r.Stdout != "/etc\n" {
		t.Errorf("-w /etc: %q", r.Stdout)
	}
	r = h.Run(127, "exec", "-w", "/no/such/dir", "box", "pwd")
	if !strings.Contains(r.Stderr, "chdir") || !strings.Contains(r.Stderr, "/no/such/dir") {
		t.Errorf("missing -w: %q", r.Stderr)
	}
	h.Run(0, "exec", "box", "test", "!", "-e", "/no/such/dir") // not created
	h.Run(125, "exec", "-w", "relative", "box", "pwd")

	// Users: -u 1000 (not in passwd), -u 0, a name, a missing name.
	r = h.Run(0, "exec", "-u", "1000", "box", "sh", "-c", "id -u; id -g; echo $HOME; grep ^CapEff: /proc/self/status")
	if r.Stdout != "1000\n0\n/\nCapEff:\t0000000000000000\n" {
		t.Errorf("-u 1000: %q", r.Stdout)
	}
	r = h.Run(0, "exec", "-u", "0", "box", "sh", "-c", "id -u; grep ^CapEff: /proc/self/status")
	if r.Stdout != "0\nCapEff:\t00000000800405fb\n" {
		t.Errorf("-u 0: %q", r.Stdout)
	}
	r = h.Run(0, "exec", "-u", "nobody:root", "box", "sh", "-c", "id; echo $HOME")
	if !strings.Contains(r.Stdout, "uid=65534(nobody) gid=0(root)") || !strings.Contains(r.Stdout, "/nonexistent") {
		t.Errorf("-u nobody:root: %q", r.Stdout)
	}
	r = h.Run(126, "exec", "-u", "no-such-user", "box", "true")
	if !strings.Contains(r.Stderr, "no-such-user") {
		t.Errorf("missing user: %q", r.Stderr)
	}

	// The container's filesystem, host name and pid namespace.
	r = h.Run(0, "exec", "box", "sh", "-c", "cat /marker; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args")
	lines := strings.Split(r.Stdout, "\n")
	if len(lines) < 4 || lines[0] != "m" || lines[1] != "boxhost" || lines[2] != "sleep 600 " {
		t.Errorf("exec does not see the container's files, host name and PID 1:\n%s", r.Stdout)
	}
	if strings.Count(r.Stdout, "\n") > 8 {
		t.Errorf("exec sees processes outside the container:\n%s", r.Stdout)
	}

	// The container's privileges: capabilities, seccomp, no_new_privs,
	// exactly as its own first process got them.
	r = h.Run(0, "exec", "box", "sh", "-c", "cat /proc/1/status; echo ====; cat /proc/self/status")
	init, self, _ := strings.Cut(r.Stdout, "====")
	fields := []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "Seccomp", "NoNewPrivs"}
	want, got := statusLines(init, fields...), statusLines(self, fields...)
	for _, f := range fields {
		if want[f] == "" || got[f] != want[f] {
			t.Errorf("%s: exec has %q, the container %q", f, got[f], want[f])
		}
	}
	if got["Seccomp"] != "2" {
		t.Errorf("exec should run under the default seccomp filter: Seccomp %q", got["Seccomp"])
	}
	// --privileged: every capability, no filter.
	r = h.Run(0, "exec", "--privileged", "box", "cat", "/proc/self/status")
	p := statusLines(r.Stdout, "CapEff", "CapBnd", "Seccomp")
	if p["Seccomp"] != "0" || p["CapEff"] != p["CapBnd"] || p["CapEff"] == want["CapEff"] {
		t.Errorf("--privileged: %v", p)
	}

	// -i passes stdin; without it stdin is empty.
	r = h.RunIn([]byte("from stdin\n"), 0, "exec", "-i", "box", "cat")
	if r.Stdout != "from stdin\n" {
		t.Errorf("-i: %q", r.Stdout)
	}
	r = h.RunIn([]byte("ignored\n"), 0, "exec", "box", "cat")
	if r.Stdout != "" {
		t.Errorf("without -i stdin should be empty: %q", r.Stdout)
	}

	// -d returns at once, prints nothing, and the command keeps running.
	start := time.Now()
	r = h.Run(0, "exec", "-d", "box", "sh", "-c", "sleep 1; echo done > /detached")
	if r.Stdout != "" || r.Stderr != "" {
		t.Errorf("-d printed: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("-d took %s: it waited for the command", d)
	}
	waitFor(t, 10*time.Second, "the detached command's file", func() bool {
		r := run(h.Cmd("exec", "box", "cat", "/detached"))
		return r.Code == 0 && r.Stdout == "done\n"
	})
	h.Run(127, "exec", "-d", "box", "no-such-command")

	// Containers that are not running, or do not exist: 125.
	r = h.Run(125, "exec", "no-such-container", "true")
	if !strings.Contains(r.Stderr, "no-such-container") {
		t.Errorf("missing container: %q", r.Stderr)
	}
	h.Run(0, "create", "--name", "idle", "cove-test/busybox", "true")
	r = h.Run(125, "exec", "idle", "true")
	if !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("exec into a created container: %q", r.Stderr)
	}
	h.Run(0, "run", "--name", "done", "cove-test/busybox", "true")
	r = h.Run(125, "exec", "done", "true")
	if !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("exec into an exited container: %q", r.Stderr)
	}
	h.Run(125, "exec", "box")
}

// TestExecSecurityOptions: exec follows the container's own settings, not
// the defaults.
func TestExecSecurityOptions(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	startForeground(t, h, "tight", []string{"--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--cap-add", "CHOWN", "--ulimit", "nofile=512:1024"},
		"echo ready; exec sleep 600")
	r := h.Run(0, "exec", "tight", "sh", "-c", "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; ulimit -n; ulimit -Hn")
	for _, want := range []string{"CapEff:\t0000000000000001", "CapBnd:\t0000000000000001", "NoNewPrivs:\t1", "Seccomp:\t2", "512\n1024\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("exec in a no-new-privileges, cap-drop ALL container lacks %q:\n%s", want, r.Stdout)
		}
	}
	startForeground(t, h, "loose", []string{"--security-opt", "seccomp=unconfined"}, "echo ready; exec sleep 600")
	r = h.Run(0, "exec", "loose", "grep", "^Seccomp:", "/proc/self/status")
	if r.Stdout != "Seccomp:\t0\n" {
		t.Errorf("exec in a seccomp=unconfined container: %q", r.Stdout)
	}
}

// TestExecUserContainer: the container runs as an unprivileged user; the
// test user (not root on the host) joins it. A cove process inside a user
// namespace of its own could not: it would be a sibling of the container's.
func TestExecUserContainer(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	startForeground(t, h, "userbox", []string{"-u", "1000"}, "echo ready; exec sleep 600")
	r := h.Run(0, "exec", "userbox", "sh", "-c", "id -u; cat /proc/1/status | grep ^Uid:")
	if !strings.HasPrefix(r.Stdout, "1000\nUid:\t1000") {
		t.Errorf("exec into a -u 1000 container: %q", r.Stdout)
	}
	r = h.Run(0, "exec", "-u", "0", "userbox", "id", "-u")
	if r.Stdout != "0\n" {
		t.Errorf("exec -u 0 into a -u 1000 container: %q", r.Stdout)
	}
}

// TestExecSignals: signals to cove exec reach the command, and a command
// killed by a signal gives 128+N.
func TestExecSignals(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	startForeground(t, h, "sig", nil, "echo ready; exec sleep 600")
	cmd := h.Cmd("exec", "sig", "sh", "-c", "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done")
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "exec ready", func() bool { return strings.Contains(stdout.String(), "ready") })
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(cmd.Wait()); code != 42 {
		t.Fatalf("cove exec exit %d after SIGTERM, want the command's 42", code)
	}
	h.Run(137, "exec", "sig", "sh", "-c", "kill -9 $$")
}

func TestExecTTY(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	startForeground(t, h, "ttybox", nil, "echo ready; exec sleep 600")
	cmd, m, s, out, before := ttyCove(t, h, "exec", "-it", "ttybox", "sh", "-c", "tty; stty size; echo TERM=$TERM; read line; echo got:$line; exit 7")
	waitFor(t, 20*time.Second, "the terminal's size", func() bool { return strings.Contains(out.String(), "33 101") })
	m.Write([]byte("hello\r"))
	if code := exitCode(cmd.Wait()); code != 7 {
		t.Fatalf("exec -it exit %d, want 7; output %q", code, out.String())
	}
	termRestored(t, s, before)
	// The output may still be on its way from the pty.
	waitFor(t, 2*time.Second, "got:hello", func() bool { return strings.Contains(out.String(), "got:hello") })
	o := out.String()
	// The terminal is the container's own (its devpts), not the host's.
	if !regexp.MustCompile(`/dev/pts/\d+`).MatchString(o) {
		t.Errorf("tty output lacks the container's pts: %q", o)
	}
	for _, want := range []string{"33 101", "TERM=xterm", "got:hello"} {
		if !strings.Contains(o, want) {
			t.Errorf("tty output lacks %q: %q", want, o)
		}
	}
	// -t without -i and without a terminal: output through the pty.
	r := h.Run(0, "exec", "-t", "ttybox", "sh", "-c", "tty")
	if !strings.HasPrefix(r.Stdout, "/dev/pts/") || !strings.HasSuffix(r.Stdout, "\r\n") {
		t.Errorf("exec -t: %q", r.Stdout)
	}
}

// loaderBinds returns -v options that make the dynamic loader and C
// library of binary (the cove under test) available in a busybox
// container, so that the container can execute it; none for a static
// binary.
func loaderBinds(t *testing.T, binary string) []string {
	t.Helper()
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		return nil
	}
	real, err := filepath.EvalSymlinks(interp)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{filepath.Dir(interp): filepath.Dir(interp), filepath.Dir(real): filepath.Dir(real)}
	// Merged /usr: the loader also searches /lib/<triplet>.
	if rest, ok := strings.CutPrefix(filepath.Dir(real), "/usr/lib/"); ok {
		dirs["/lib/"+rest] = filepath.Dir(real)
	}
	dsts := make([]string, 0, len(dirs))
	for dst := range dirs {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	var binds []string
	for _, dst := range dsts {
		binds = append(binds, "-v", dirs[dst]+":"+dst+":ro")
	}
	return binds
}

// TestExecBinaryNotWritable is CVE-2019-5736 against cove exec: the
// command is a script whose interpreter is "/proc/self/exe", so the kernel
// executes, inside the container, whatever binary the joining process runs
// from. A process of the container then opens that process's
// /proc/PID/exe and, once cove is gone, tries to open it for writing. The
// cove binary used for exec is a copy owned by the test user, that is by
// the container's root: only the read-only view keeps it safe.
func TestExecBinaryNotWritable(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	bin, err := os.ReadFile(*coveBinary)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(h.Dir, "work", "cove-copy")
	if err := os.WriteFile(copyPath, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	h.Chown(copyPath)
	dir := filepath.Join(h.Dir, "work", "probe")
	os.MkdirAll(dir, 0o755)
	h.Chown(dir)
	writeOwned := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
		h.Chown(p)
	}
	writeOwned("evil", "#!/proc/self/exe\n")
	// The probe: for every process but itself whose executable is not
	// busybox, hold a descriptor of /proc/PID/exe, try to open it for
	// writing while the process runs, then again once it has exited
	// (ETXTBSY only protects a binary while something executes it; the
	// cove CLI on the host may take a moment to exit).
	writeOwned("probe.sh", `echo ready
while :; do
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = 1 ] && continue
    { command exec 3</proc/$p/exe; } 2>/dev/null || continue
    if [ /proc/self/fd/3 -ef /bin/busybox ]; then exec 3<&-; continue; fi
    if { printf '' >> /proc/$p/exe; } 2>/dev/null; then echo "WRITABLE-RUNNING $p"; fi
    while [ -e /proc/$p ]; do :; done
    i=0
    while [ $i -lt 100 ]; do
      if { printf '' >> /proc/self/fd/3; } 2>/tmp/err; then echo "WRITABLE $p" > /tmp/err; break; fi
      grep -q busy /tmp/err || break
      sleep 0.1; i=$((i+1))
    done
    echo "caught $p: $(cat /tmp/err)"
    exec 3<&-
  done
done
`)
	runArgs := append(loaderBinds(t, *coveBinary), "-v", dir+":/p:ro")
	// The container's own cove process runs the original binary, so that
	// the copy is executed only by cove exec.
	cmd := h.Cmd(append([]string{"run", "--name", "victim"}, append(runArgs, "cove-test/busybox", "sh", "/p/probe.sh")...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	startKillable(t, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("probe container not ready: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	killContainerAtEnd(t, h, "victim")

	execCopy := func(args ...string) Result {
		c := h.Cmd(args...)
		c.Path = copyPath
		c.Args[0] = copyPath
		return run(c)
	}
	// The probe may miss a run (the cove process in the container lives
	// for some milliseconds); a few catches are enough.
	caught := 0
	for i := 0; i < 20 && caught < 3; i++ {
		r := execCopy("exec", "victim", "/p/evil")
		// The cove binary did run in the container: as a CLI, it does
		// not know the command "/p/evil".
		if !strings.Contains(r.Stderr, "unknown command") {
			t.Fatalf("the script's interpreter did not run cove in the container (exit %d): %q", r.Code, r.Stderr)
		}
		// cove has exited on both sides: the verdict follows at once
		// when the probe got hold of it.
		for j := 0; j < 60 && strings.Count(out.String(), "caught ") == caught; j++ {
			time.Sleep(50 * time.Millisecond)
		}
		caught = strings.Count(out.String(), "caught ")
	}
	time.Sleep(500 * time.Millisecond)
	o := out.String()
	t.Logf("probe:\n%s", o)
	if strings.Contains(o, "WRITABLE") {
		t.Fatalf("a container process could open the cove binary for writing:\n%s", o)
	}
	if caught == 0 {
		t.Fatalf("the probe never got hold of the cove process (nothing was tested):\n%s", o)
	}
	for _, l := range strings.Split(o, "\n") {
		if strings.HasPrefix(l, "caught ") && !strings.Contains(l, "Read-only file system") {
			t.Errorf("unexpected verdict (want EROFS from the read-only view): %s", l)
		}
	}
	// And the binary is intact.
	now, err := os.ReadFile(copyPath)
	if err != nil || !bytes.Equal(now, bin) {
		t.Errorf("the cove binary changed")
	}
}

// TestExecLatency reports the median of 20 `cove exec CTR true`.
func TestExecLatency(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	startForeground(t, h, "lat", nil, "echo ready; exec sleep 600")
	var ds []time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		h.Run(0, "exec", "lat", "true")
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	t.Logf("cove exec CTR true: median %s, min %s, max %s (20 runs)", ds[10], ds[0], ds[19])
}
