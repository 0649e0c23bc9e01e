//go:build e2e

// Package e2e drives the built bin/cove as an unprivileged user with
// subordinate ID ranges, each test with its own XDG directories and store.
// When the test runner is root (CI), cove is spawned with the test user's
// credentials. Every assertion checks the exit code first, then output.
package e2e

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/userns"
	"github.com/cove-run/cove/pkg/procstat"
)

var (
	coveBinary = flag.String("cove.binary", "", "path to the cove binary under test")
	// env holds /var/cache/cove-test/env, written by hack/setup-test-env.sh.
	env     = map[string]string{}
	baseDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *coveBinary == "" {
		fmt.Fprintln(os.Stderr, "e2e: -cove.binary is required (make test-e2e passes it)")
		os.Exit(2)
	}
	if f, err := os.Open("/var/cache/cove-test/env"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				env[k] = strings.Trim(v, `"'`)
			}
		}
		f.Close()
	}
	var err error
	baseDir, err = os.MkdirTemp("", "cove-e2e-")
	if err != nil {
		panic(err)
	}
	// The test users must traverse the base to reach their own dirs.
	os.Chmod(baseDir, 0o755)
	code := m.Run()
	os.RemoveAll(baseDir)
	os.Exit(code)
}

// testUser is who runs cove.
type testUser struct {
	name     string
	uid, gid int
	groups   []uint32
}

func lookupUser(t *testing.T, name string) testUser {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("test user %q does not exist (run hack/setup-test-env.sh on a test machine): %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return testUser{name: name, uid: uid, gid: gid}
}

// Harness is one test's cove: its user, directories and environment.
type Harness struct {
	t    *testing.T
	user *testUser // nil: run as the current (non-root) user
	Dir  string
	Home string
	Env  []string
	// Binary, when set, replaces -cove.binary for this test's commands.
	Binary string

	keeper      int // the user namespace keeper's PID at clean-up
	keeperStart uint64
}

// newHarness returns a harness running cove as the default test user.
func newHarness(t *testing.T) *Harness {
	t.Helper()
	if os.Geteuid() != 0 {
		return newHarnessFor(t, nil)
	}
	name := env["COVE_TEST_USER"]
	if name == "" {
		name = "covetest"
	}
	u := lookupUser(t, name)
	return newHarnessFor(t, &u)
}

// newHarnessAs runs cove as the named user (root only).
func newHarnessAs(t *testing.T, name string) *Harness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs a root test runner")
	}
	u := lookupUser(t, name)
	return newHarnessFor(t, &u)
}

func newHarnessFor(t *testing.T, u *testUser) *Harness {
	t.Helper()
	dir, err := os.MkdirTemp(baseDir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	h := &Harness{t: t, user: u, Dir: dir, Home: filepath.Join(dir, "home")}
	for _, d := range []string{"home", "data", "config", "run", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if u != nil {
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error {
			return os.Lchown(p, u.uid, u.gid)
		})
	}
	h.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + h.Home,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"LANG=C",
	}
	t.Cleanup(h.cleanup)
	return h
}

// cleanup removes the test's files. Files owned by subordinate IDs can only
// be removed from inside the user namespace, so cove unshare goes first.
func (h *Harness) cleanup() {
	h.killLeftovers()
	if h.keeper = h.Keeper(); h.keeper != 0 {
		h.keeperStart = procStartTime(h.keeper)
	}
	cmd := h.Cmd("unshare", "rm", "-rf", filepath.Join(h.Dir, "data"), filepath.Join(h.Dir, "run"))
	// A namespace of its own: no keeper is left by a test that had none.
	cmd.Env = append(cmd.Env, "_COVE_USERNS_NO_KEEPER=1")
	cmd.Run()
	// Each test has its own runtime directory, so its own keeper of the
	// shared user namespace: stop it (the run root with its record was
	// removed just above, hence the PID saved before).
	h.stopKeeper()
	if err := os.RemoveAll(h.Dir); err != nil {
		h.t.Logf("cleanup %s: %v", h.Dir, err)
	}
}

// Keeper returns the PID of the test's user namespace keeper, 0 if none.
func (h *Harness) Keeper() int {
	return keeperIn(filepath.Join(h.Dir, "run", "cove"))
}

// keeperIn returns the PID of the live keeper recorded in dir, 0 if none.
func keeperIn(dir string) int { return userns.Keeper(dir) }

// procStartTime is the process's start time, 0 for a zombie or no process.
func procStartTime(pid int) uint64 {
	if st, ok := procstat.Read(pid); ok && !st.IsZombie() {
		return st.StartTime
	}
	return 0
}

func (h *Harness) stopKeeper() {
	if h.keeper != 0 && procStartTime(h.keeper) == h.keeperStart {
		syscall.Kill(h.keeper, syscall.SIGKILL)
	}
	// Keepers whose record is gone (tests that simulate a reboot wipe the
	// run root): found by the runtime directory in their environment.
	for _, pid := range h.liveKeepers() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// killLeftovers kills what a test that failed half-way leaves running:
// its containers' monitors and its cove-netd name the test's directory on
// their command lines (the containers and helpers die with them).
func (h *Harness) killLeftovers() {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); strings.Contains(string(cmdline), h.Dir+"/") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// liveKeepers lists the live cove-userns processes of this test, found by
// the runtime directory in their environment (recorded or not).
func (h *Harness) liveKeepers() []int {
	want := "XDG_RUNTIME_DIR=" + filepath.Join(h.Dir, "run")
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); strings.TrimSpace(string(comm)) != "cove-userns" || procStartTime(pid) == 0 {
			continue
		}
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		for _, v := range strings.Split(string(environ), "\x00") {
			if v == want {
				out = append(out, pid)
			}
		}
	}
	return out
}

// Setenv adds or replaces an environment variable for later commands.
func (h *Harness) Setenv(k, v string) {
	out := h.Env[:0]
	for _, e := range h.Env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	h.Env = append(out, k+"="+v)
}

// Unsetenv removes an environment variable for later commands.
func (h *Harness) Unsetenv(k string) {
	out := h.Env[:0]
	for _, e := range h.Env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	h.Env = out
}

// Cmd prepares cove with the harness's user and environment.
func (h *Harness) Cmd(args ...string) *exec.Cmd {
	bin := *coveBinary
	if h.Binary != "" {
		bin = h.Binary
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = h.Env
	cmd.Dir = filepath.Join(h.Dir, "work")
	if h.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(h.user.uid), Gid: uint32(h.user.gid), Groups: []uint32{},
		}}
	}
	return cmd
}

// Result is a finished command.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs cove and fails the test unless it exits with wantExit.
func (h *Harness) Run(wantExit int, args ...string) Result {
	h.t.Helper()
	return h.RunIn(nil, wantExit, args...)
}

// RunIn is Run with standard input.
func (h *Harness) RunIn(stdin []byte, wantExit int, args ...string) Result {
	h.t.Helper()
	cmd := h.Cmd(args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	r := run(cmd)
	if r.Code != wantExit {
		h.t.Fatalf("cove %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, wantExit, r.Stdout, r.Stderr)
	}
	return r
}

// RunParallel runs n cove commands at once, the i-th with args(i), and
// returns their results in that order (the caller asserts each exit code).
func (h *Harness) RunParallel(n int, args func(i int) []string) []Result {
	results := make([]Result, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = run(h.Cmd(args(i)...))
		}(i)
	}
	wg.Wait()
	return results
}

func run(cmd *exec.Cmd) Result {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.Code = 128 + int(ws.Signal())
			}
		} else {
			r.Code = -1
			r.Stderr += "\n(exec failed: " + err.Error() + ")"
		}
	}
	return r
}

// Chown gives a path created by the test runner to the harness's user.
func (h *Harness) Chown(path string) {
	if h.user != nil {
		os.Lchown(path, h.user.uid, h.user.gid)
	}
}

// WriteFile writes a file the harness's user owns.
func (h *Harness) WriteFile(rel string, data []byte) string {
	h.t.Helper()
	p := filepath.Join(h.Dir, "work", rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.Chown(filepath.Dir(p))
	h.Chown(p)
	return p
}

// Fixture returns the path of a test image archive built by hack/, e.g.
// Fixture("busybox", "docker") for busybox.docker.tar.
func Fixture(t *testing.T, name, kind string) string {
	t.Helper()
	dir := env["COVE_TEST_IMAGES"]
	if dir == "" {
		dir = "/var/cache/cove-test/images"
	}
	p := filepath.Join(dir, name+"."+kind+".tar")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s missing (run hack/setup-test-env.sh): %v", p, err)
	}
	return p
}

// Registry returns the plain-HTTP test registry's address.
func Registry(t *testing.T) string {
	t.Helper()
	r := env["COVE_TEST_REGISTRY"]
	if r == "" {
		t.Skip("no test registry (run hack/setup-test-env.sh)")
	}
	return r
}

// waitFor polls cond until it is true or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
