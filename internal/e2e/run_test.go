//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loadBusybox gives the harness's store the busybox fixture.
func loadBusybox(t *testing.T, h *Harness) {
	t.Helper()
	h.Run(0, "load", "-i", Fixture(t, "busybox", "docker"))
}

func loadMulti(t *testing.T, h *Harness) {
	t.Helper()
	h.Run(0, "load", "-i", Fixture(t, "multi", "docker"))
}

func TestRunExitCodes(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "cove-test/busybox", "echo", "hello")
	if r.Stdout != "hello\n" {
		t.Errorf("stdout = %q", r.Stdout)
	}
	h.Run(42, "run", "--rm", "cove-test/busybox", "sh", "-c", "exit 42")
	r = h.Run(127, "run", "--rm", "cove-test/busybox", "no-such-command")
	if !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("127 error should name the command: %q", r.Stderr)
	}
	h.Run(126, "run", "--rm", "cove-test/busybox", "/etc")
	h.Run(126, "run", "--rm", "cove-test/busybox", "/etc/passwd")
	r = h.Run(125, "run", "--rm", "no-such-image-here")
	if !strings.Contains(r.Stderr, "no-such-image-here") {
		t.Errorf("missing image error: %q", r.Stderr)
	}
	// --rm left nothing behind.
	r = h.Run(0, "ps", "-a", "-q")
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("--rm containers remain: %q", r.Stdout)
	}
}

func TestRunStdoutStderrApart(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(3, "run", "--rm", "cove-test/busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.RunIn([]byte("from stdin\n"), 0, "run", "--rm", "-i", "cove-test/busybox", "cat")
	if r.Stdout != "from stdin\n" {
		t.Errorf("-i: stdout %q", r.Stdout)
	}
	// Without -i the container's stdin is empty.
	r = h.RunIn([]byte("ignored\n"), 0, "run", "--rm", "cove-test/busybox", "cat")
	if r.Stdout != "" {
		t.Errorf("without -i stdin should be closed: %q", r.Stdout)
	}
}

func TestRunImageConfigMerge(t *testing.T) {
	h := newHarness(t)
	loadMulti(t, h)
	// Entrypoint + Cmd, WorkingDir, User and Env come from the image.
	r := h.Run(0, "run", "--rm", "cove-test/multi")
	if !strings.Contains(r.Stdout, "hello from multi") {
		t.Errorf("image entrypoint/cmd: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "cove-test/multi", "sh", "-c", "pwd; id -u; echo $COVE_TEST")
	if r.Stdout != "entry: sh -c pwd; id -u; echo $COVE_TEST\n/app\n1000\nmulti\n" {
		t.Errorf("merged config: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--entrypoint", "", "-u", "0", "-w", "/new/dir", "-e", "COVE_TEST=over", "-e", "EXTRA=1", "cove-test/multi", "sh", "-c", "pwd; id -u; echo $COVE_TEST $EXTRA")
	if r.Stdout != "/new/dir\n0\nover 1\n" {
		t.Errorf("overrides: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--entrypoint", "/bin/echo", "cove-test/multi", "a", "b")
	if r.Stdout != "a b\n" {
		t.Errorf("--entrypoint: %q", r.Stdout)
	}
}

func TestRunEnvFile(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	f := h.WriteFile("env.list", []byte("# comment\n\nA=1\nB=\"quoted\"\nC= spaced \nHOSTVAR\n"))
	h.Setenv("HOSTVAR", "fromhost")
	r := h.Run(0, "run", "--rm", "--env-file", f, "cove-test/busybox", "sh", "-c", `printf '%s|%s|%s|%s' "$A" "$B" "$C" "$HOSTVAR"`)
	if r.Stdout != `1|"quoted"| spaced |fromhost` {
		t.Errorf("env-file: %q", r.Stdout)
	}
	r = h.Run(125, "run", "--rm", "--env-file", filepath.Join(h.Dir, "missing.env"), "cove-test/busybox", "true")
	if !strings.Contains(r.Stderr, "missing.env") {
		t.Errorf("missing env-file should be named: %q", r.Stderr)
	}
}

func TestRunBadInputCreatesNothing(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	bad := [][]string{
		{"-v", "rel/ative:/x"}, // neither a path nor a volume name
		{"-v", "/tmp:relative"},
		{"--mount", "type=bogus,target=/x"},
		{"-e", "=novalue"},
		{"--ulimit", "nofile=10:5"},
		{"--ulimit", "nosuch=1"},
		{"--tmpfs", "/x:size=lots"},
		{"--device", "relative"},
		{"-u", "a:b:c"},
		{"--cap-add", "NOT_A_CAP"},
		{"--security-opt", "bogus"},
		{"--sysctl", "kernel.panic=1"},
		{"--name", "bad name"},
		{"--shm-size", "huge"},
		{"--stop-signal", "SIGNOPE"},
		{"--pull", "sometimes"},
	}
	for _, b := range bad {
		args := append(append([]string{"run", "--rm"}, b...), "cove-test/busybox", "true")
		r := h.Run(125, args...)
		if !strings.Contains(r.Stderr, strings.Trim(b[1], "=")) && !strings.Contains(r.Stderr, b[1]) {
			t.Errorf("%v: error does not name the value: %q", b, r.Stderr)
		}
	}
	r := h.Run(0, "ps", "-a", "-q")
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("bad input created containers: %q", r.Stdout)
	}
}

func TestRunNamePsInspect(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(3, "run", "--name", "first", "--label", "k=v", "cove-test/busybox", "sh", "-c", "exit 3")
	r := h.Run(125, "run", "--name", "first", "cove-test/busybox", "true")
	if !strings.Contains(r.Stderr, "already in use") {
		t.Errorf("name clash: %q", r.Stderr)
	}
	r = h.Run(0, "ps", "-a")
	for _, want := range []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "Exited (3)", "first", "cove-test/busybox"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("ps -a lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = h.Run(0, "ps")
	if strings.Contains(r.Stdout, "first") {
		t.Errorf("ps without -a shows an exited container:\n%s", r.Stdout)
	}
	r = h.Run(0, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.Name}} {{index .Config.Labels \"k\"}}", "first")
	if strings.TrimSpace(r.Stdout) != "exited 3 false /first v" {
		t.Errorf("inspect: %q", r.Stdout)
	}
	r = h.Run(0, "inspect", "first")
	var arr []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &arr); err != nil || len(arr) != 1 {
		t.Fatalf("inspect json: %v", err)
	}
	for _, k := range []string{"Id", "State", "Config", "HostConfig", "Mounts", "Name", "Image"} {
		if _, ok := arr[0][k]; !ok {
			t.Errorf("inspect lacks %s", k)
		}
	}
	r = h.Run(0, "ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}")
	if !strings.HasPrefix(r.Stdout, "first Exited (3)") {
		t.Errorf("ps --format: %q", r.Stdout)
	}
	h.Run(0, "rm", "first")
	h.Run(1, "rm", "first")
}

func TestCreateStartAttach(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "create", "--name", "c1", "cove-test/busybox", "sh", "-c", "echo started; exit 5")
	id := strings.TrimSpace(r.Stdout)
	if len(id) != 64 {
		t.Fatalf("create should print the 64-hex ID, got %q", r.Stdout)
	}
	r = h.Run(0, "ps", "-a", "--format", "{{.Status}}")
	if strings.TrimSpace(r.Stdout) != "Created" {
		t.Errorf("created status: %q", r.Stdout)
	}
	r = h.Run(5, "start", "-a", "c1")
	if r.Stdout != "started\n" {
		t.Errorf("start -a output %q", r.Stdout)
	}
	h.Run(5, "start", "-a", id[:12])
	h.Run(0, "rm", "c1")
}

func TestRunSecurityDefaults(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "cove-test/busybox", "sh", "-c",
		`grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; ps -o pid | wc -l; cat /proc/keys /proc/timer_list 2>/dev/null | wc -c; (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sysrw || echo sysro; (touch /sys/x) 2>/dev/null && echo sysfsrw || echo sysfsro; (mkdir -p /m && mount -t tmpfs t /m) 2>/dev/null && echo mounted || echo nomount`)
	out := r.Stdout
	for _, want := range []string{"CapEff:\t00000000800405fb", "CapBnd:\t00000000800405fb", "Seccomp:\t2", "sysro", "sysfsro", "nomount"} {
		if !strings.Contains(out, want) {
			t.Errorf("security probe lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// ps header + sh + ps (+ wc): no host processes.
	for _, l := range lines {
		if strings.TrimSpace(l) == "0" {
			// masked files read empty
			goto masked
		}
	}
	t.Errorf("masked paths should read empty:\n%s", out)
masked:
	r = h.Run(0, "run", "--rm", "cove-test/busybox", "sh", "-c", "echo /proc/[0-9]*")
	if strings.TrimSpace(r.Stdout) != "/proc/1" {
		t.Errorf("container sees processes %q, want only its own PID 1", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--cap-add", "CHOWN", "cove-test/busybox", "grep", "-E", "^(CapEff|NoNewPrivs):", "/proc/self/status")
	if !strings.Contains(r.Stdout, "CapEff:\t0000000000000001") || !strings.Contains(r.Stdout, "NoNewPrivs:\t1") {
		t.Errorf("cap-drop ALL + cap-add CHOWN + nnp: %q", r.Stdout)
	}
	r = h.Run(0, "run", "--rm", "--security-opt", "seccomp=unconfined", "cove-test/busybox", "grep", "^Seccomp:", "/proc/self/status")
	if !strings.Contains(r.Stdout, "Seccomp:\t0") {
		t.Errorf("seccomp=unconfined: %q", r.Stdout)
	}
}

func TestRunBindMountOwnership(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	dir := filepath.Join(h.Dir, "work", "shared")
	os.MkdirAll(dir, 0o755)
	h.Chown(dir)
	h.Run(0, "run", "--rm", "-v", dir+":/data", "cove-test/busybox", "sh", "-c", "echo hi > /data/file")
	st, err := os.Stat(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	if h.user != nil && statUID(st) != h.user.uid {
		t.Errorf("file written by container root belongs to uid %d, want the user's %d", statUID(st), h.user.uid)
	}
	r := h.Run(1, "run", "--rm", "-v", dir+":/data:ro", "cove-test/busybox", "sh", "-c", "echo x > /data/other")
	_ = r
	if _, err := os.Stat(filepath.Join(dir, "other")); err == nil {
		t.Error(":ro bind mount was writable")
	}
	// -v creates a missing host directory, as Docker does.
	missing := filepath.Join(h.Dir, "work", "created-by-v")
	h.Run(0, "run", "--rm", "-v", missing+":/x", "cove-test/busybox", "true")
	if st, err := os.Stat(missing); err != nil || !st.IsDir() {
		t.Errorf("-v should create %s: %v", missing, err)
	}
	r = h.Run(0, "run", "--rm", "--tmpfs", "/scratch:size=1m", "--read-only", "cove-test/busybox", "sh", "-c", "echo ok > /scratch/f && cat /scratch/f; touch /rootfile 2>/dev/null || echo rofs")
	if r.Stdout != "ok\nrofs\n" {
		t.Errorf("tmpfs + read-only: %q", r.Stdout)
	}
}

func TestRunHostnameAndEtcFiles(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(0, "run", "--rm", "--hostname", "box1", "cove-test/busybox", "sh", "-c", "hostname; cat /etc/hostname; grep -c localhost /etc/hosts; test -s /etc/resolv.conf && echo resolv")
	if r.Stdout != "box1\nbox1\n2\nresolv\n" {
		t.Errorf("hostname/etc files: %q", r.Stdout)
	}
}

// TestRunSignals: signals sent to cove run reach the container, and a
// container killed by a signal exits 128+N.
func TestRunSignals(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	cmd := h.Cmd("run", "--name", "trapper", "cove-test/busybox", "sh", "-c", "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done")
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "container ready", func() bool { return strings.Contains(stdout.String(), "ready") })
	r := h.Run(0, "ps", "--format", "{{.Names}} {{.State}}")
	if !strings.Contains(r.Stdout, "trapper running") {
		t.Errorf("running container not visible from another invocation: %q", r.Stdout)
	}
	r = h.Run(0, "inspect", "--format", "{{.State.Running}} {{.State.Pid}}", "trapper")
	if !strings.HasPrefix(r.Stdout, "true ") || strings.HasSuffix(strings.TrimSpace(r.Stdout), " 0") {
		t.Errorf("inspect of a running container: %q", r.Stdout)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if code := exitCode(err); code != 42 {
		t.Fatalf("cove run exit %d after SIGTERM, want the container's 42", code)
	}
	r = h.Run(0, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "trapper")
	if strings.TrimSpace(r.Stdout) != "exited 42" {
		t.Errorf("state after exit: %q", r.Stdout)
	}

	// A signal outside the usual set (subscribed in the background, see
	// startAttached) is proxied too, as Docker proxies every signal.
	cmd = h.Cmd("run", "--rm", "cove-test/busybox", "sh", "-c", "trap 'exit 43' ALRM; echo ready; while true; do sleep 0.1; done")
	stdout = &syncBuffer{}
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "ALRM trapper ready", func() bool { return strings.Contains(stdout.String(), "ready") })
	cmd.Process.Signal(syscall.SIGALRM)
	if code := exitCode(cmd.Wait()); code != 43 {
		t.Fatalf("cove run exit %d after SIGALRM, want the container's 43", code)
	}

	// SIGKILL of the container's process from outside: 137.
	cmd = h.Cmd("run", "--name", "victim", "cove-test/busybox", "sh", "-c", "echo ready; sleep 60")
	stdout = &syncBuffer{}
	cmd.Stdout = stdout
	cmd.Start()
	waitFor(t, 20*time.Second, "victim ready", func() bool { return strings.Contains(stdout.String(), "ready") })
	r = h.Run(0, "inspect", "--format", "{{.State.Pid}}", "victim")
	pid, _ := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if pid <= 0 {
		t.Fatalf("no pid: %q", r.Stdout)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if code := exitCode(cmd.Wait()); code != 137 {
		t.Errorf("killed container: cove run exit %d, want 137", code)
	}
}

// TestRunCLIKilled: kill -9 of the cove process takes the container with it
// and the next command sees it exited, not running forever.
func TestRunCLIKilled(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	cmd := h.Cmd("run", "--name", "orphan", "cove-test/busybox", "sh", "-c", "echo ready; sleep 60")
	cmd.SysProcAttr.Setpgid = true
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	cmd.Start()
	waitFor(t, 20*time.Second, "ready", func() bool { return strings.Contains(stdout.String(), "ready") })
	// The container can print before its cove recorded it as running;
	// killing cove in that window leaves it "created", which is true but
	// not what this test is about.
	waitFor(t, 10*time.Second, "recorded as running", func() bool {
		r := h.Run(0, "ps", "--format", "{{.Names}} {{.State}}")
		return strings.Contains(r.Stdout, "orphan running")
	})
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	waitFor(t, 10*time.Second, "container to be seen as exited", func() bool {
		r := h.Run(0, "ps", "-a", "--format", "{{.Names}} {{.State}}")
		return strings.Contains(r.Stdout, "orphan exited")
	})
	h.Run(0, "rm", "orphan")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestRunResetsIgnoredSignals: a cove started with SIGINT ignored (a
// background job of a script) must not pass that on: Docker's containers
// start with default signal dispositions.
func TestRunResetsIgnoredSignals(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	cmd := exec.Command("/bin/sh", "-c", `trap "" INT QUIT; exec "$0" "$@"`, *coveBinary, "run", "--rm", "cove-test/busybox", "grep", "SigIgn", "/proc/self/status")
	cmd.Env = h.Env
	cmd.Dir = h.Dir
	cmd.SysProcAttr = h.Cmd().SysProcAttr
	r := run(cmd)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "SigIgn:\t0000000000000000") {
		t.Errorf("container inherited ignored signals: %q", r.Stdout)
	}
}

func TestRunBindSingleFile(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	f := h.WriteFile("conf.txt", []byte("from host\n"))
	r := h.Run(0, "run", "--rm", "-v", f+":/etc/app.conf:ro", "cove-test/busybox", "cat", "/etc/app.conf")
	if r.Stdout != "from host\n" {
		t.Errorf("single-file bind: %q", r.Stdout)
	}
}
