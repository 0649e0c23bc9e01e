//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var monIDRE = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// monState reads a container's state.json as cove wrote it.
type monStateJSON struct {
	Status       string
	Pid          int
	MonitorPid   int
	ExitCode     int
	RestartCount int
}

func monContainerDir(h *Harness, id string) string {
	return filepath.Join(h.Dir, "data", "cove", "containers", id)
}

func monState(t *testing.T, h *Harness, id string) monStateJSON {
	t.Helper()
	var s monStateJSON
	b, err := os.ReadFile(filepath.Join(monContainerDir(h, id), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// monRunDetached runs `cove run -d ARGS` and returns the ID it printed.
func monRunDetached(t *testing.T, h *Harness, args ...string) string {
	t.Helper()
	r := h.Run(0, append([]string{"run", "-d"}, args...)...)
	if !monIDRE.MatchString(r.Stdout) {
		t.Fatalf("run -d printed %q, want a 64-hex ID", r.Stdout)
	}
	return strings.TrimSpace(r.Stdout)
}

// monWaitDone waits until the container has exited and its monitor (and
// launcher) are gone, so its log and state are final.
func monWaitDone(t *testing.T, h *Harness, ref string) {
	t.Helper()
	id := monInspect(t, h, ref, "{{.Id}}")
	waitFor(t, 15*time.Second, ref+" to exit", func() bool {
		return monInspect(t, h, ref, "{{.State.Status}}") == "exited" && len(monProcsMentioning(id)) == 0
	})
}

func monInspect(t *testing.T, h *Harness, ref, format string) string {
	t.Helper()
	return strings.TrimSpace(h.Run(0, "inspect", "-f", format, ref).Stdout)
}

// monProcsMentioning lists processes whose command line contains s.
func monProcsMentioning(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

func monArgv0(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	a, _, _ := strings.Cut(string(b), "\x00")
	return a
}

// monStatusKB reads the (first) number of a field of /proc/PID/status
// (kB for sizes).
func monStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func TestMonitorRunDetached(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "bg", "cove-test/busybox", "sleep", "1000")
	r := h.Run(0, "ps", "-q", "--no-trunc")
	if strings.TrimSpace(r.Stdout) != id {
		t.Errorf("ps -q: %q, want %s", r.Stdout, id)
	}
	r = h.Run(0, "ps")
	if !strings.Contains(r.Stdout, "Up ") || !strings.Contains(r.Stdout, "bg") {
		t.Errorf("ps:\n%s", r.Stdout)
	}
	if got := monInspect(t, h, "bg", "{{.State.Status}} {{.State.Running}}"); got != "running true" {
		t.Errorf("inspect: %q", got)
	}
	// One monitor, the container's parent, in C: no Go runtime, no
	// terminal, only the container's pipes, its log, a signalfd and the
	// attach socket open.
	s := monState(t, h, id)
	if s.MonitorPid <= 0 {
		t.Fatalf("no monitor recorded: %+v", s)
	}
	// The launcher reports the start before its execve into the monitor.
	waitFor(t, 5*time.Second, "the launcher's execve into cove-monitor", func() bool { return monArgv0(s.MonitorPid) == "cove-monitor" })
	if ppid := monStatusKB(t, s.Pid, "PPid"); ppid != s.MonitorPid {
		t.Errorf("the container's parent is %d, not the monitor %d", ppid, s.MonitorPid)
	}
	if th := monStatusKB(t, s.MonitorPid, "Threads"); th != 1 {
		t.Errorf("monitor has %d threads", th)
	}
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(s.MonitorPid) + "/fd")
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(s.MonitorPid) + "/fd/" + fd.Name())
		ok := target == "/dev/null" || strings.HasPrefix(target, "pipe:") || strings.HasPrefix(target, "anon_inode:[signalfd]") || strings.HasSuffix(target, "/container.log") || strings.HasPrefix(target, "socket:")
		if !ok {
			t.Errorf("monitor holds fd %s -> %s", fd.Name(), target)
		}
	}
	// start of a running container does nothing.
	r = h.Run(0, "start", "bg")
	if strings.TrimSpace(r.Stdout) != "bg" {
		t.Errorf("start of a running container: %q", r.Stdout)
	}
	h.Run(0, "rm", "-f", "bg")
	waitFor(t, 10*time.Second, "the monitor to exit", func() bool { return len(monProcsMentioning(id)) == 0 })
}

func TestMonitorCreateStart(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := strings.TrimSpace(h.Run(0, "create", "--name", "later", "cove-test/busybox", "sh", "-c", "echo started; sleep 1000").Stdout)
	r := h.Run(0, "start", "later")
	if strings.TrimSpace(r.Stdout) != "later" {
		t.Errorf("start printed %q", r.Stdout)
	}
	if got := monInspect(t, h, id, "{{.State.Status}}"); got != "running" {
		t.Errorf("after start: %q", got)
	}
	waitFor(t, 10*time.Second, "output", func() bool { return h.Run(0, "logs", "later").Stdout == "started\n" })
	h.Run(0, "rm", "-f", "later")
	// Bad commands fail start the same way.
	h.Run(0, "create", "--name", "bad", "cove-test/busybox", "no-such-command")
	r = h.Run(127, "start", "bad")
	if !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("start of a bad command: %q", r.Stderr)
	}
}

func TestMonitorStartFailures(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(127, "run", "-d", "--name", "missing", "cove-test/busybox", "no-such-command")
	if r.Stdout != "" || !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("127: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	h.Run(126, "run", "-d", "--name", "dir", "cove-test/busybox", "/etc")
	// Nothing runs: no container, no monitor.
	if r := h.Run(0, "ps", "-q"); r.Stdout != "" {
		t.Errorf("running after failed starts: %q", r.Stdout)
	}
	if got := monInspect(t, h, "missing", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 127" {
		t.Errorf("missing: %q", got)
	}
	for _, n := range []string{"missing", "dir"} {
		id := strings.TrimSpace(h.Run(0, "inspect", "-f", "{{.Id}}", n).Stdout)
		if p := monProcsMentioning(id); len(p) > 0 {
			t.Errorf("processes left for %s: %v", n, p)
		}
	}
	// With --rm, nothing is left at all.
	h.Run(127, "run", "-d", "--rm", "cove-test/busybox", "no-such-command")
	if r := h.Run(0, "ps", "-a", "-q"); len(strings.Fields(r.Stdout)) != 2 {
		t.Errorf("--rm left a container: %q", r.Stdout)
	}
	// Options that contradict each other.
	h.Run(125, "run", "-d", "-a", "stdout", "cove-test/busybox", "true")
	h.Run(125, "run", "-d", "--rm", "--restart", "always", "cove-test/busybox", "true")
	r = h.Run(125, "create", "--rm", "--restart", "on-failure", "cove-test/busybox", "true")
	if !strings.Contains(r.Stderr, "--restart on-failure and --rm") {
		t.Errorf("create --rm --restart: %q", r.Stderr)
	}
	if r := h.Run(0, "ps", "-a", "-q"); len(strings.Fields(r.Stdout)) != 2 {
		t.Errorf("a refused create left a container: %q", r.Stdout)
	}
}

func TestMonitorRunDetachedRm(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--rm", "cove-test/busybox", "sh", "-c", "sleep 0.5; exit 3")
	waitFor(t, 15*time.Second, "--rm to remove the container", func() bool {
		return strings.TrimSpace(h.Run(0, "ps", "-a", "-q").Stdout) == ""
	})
	if _, err := os.Stat(monContainerDir(h, id)); !os.IsNotExist(err) {
		t.Errorf("container directory remains: %v", err)
	}
	waitFor(t, 5*time.Second, "the launcher to exit", func() bool { return len(monProcsMentioning(id)) == 0 })
}

func TestMonitorRestartPolicies(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "fail2", "--restart", "on-failure:2", "cove-test/busybox", "sh", "-c", "echo run; exit 1")
	monRunDetached(t, h, "--name", "always", "--restart", "always", "cove-test/busybox", "sh", "-c", "echo run; exit 0")
	monRunDetached(t, h, "--name", "never", "--restart", "no", "cove-test/busybox", "sh", "-c", "echo run; exit 1")
	monRunDetached(t, h, "--name", "okonly", "--restart", "on-failure", "cove-test/busybox", "sh", "-c", "echo run; exit 0")

	// on-failure:2: the first run and two restarts, then exited (back-off
	// 100 ms, 200 ms).
	waitFor(t, 20*time.Second, "on-failure:2 to give up", func() bool {
		return monInspect(t, h, "fail2", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
	})
	monWaitDone(t, h, "fail2")
	if got := monInspect(t, h, "fail2", "{{.State.ExitCode}}"); got != "1" {
		t.Errorf("fail2 exit code %s", got)
	}
	if r := h.Run(0, "logs", "fail2"); r.Stdout != "run\nrun\nrun\n" {
		t.Errorf("fail2 ran: %q", r.Stdout)
	}
	// always: restarted after a clean exit, again and again.
	waitFor(t, 20*time.Second, "always to restart twice", func() bool {
		n, _ := strconv.Atoi(monInspect(t, h, "always", "{{.RestartCount}}"))
		return n >= 2
	})
	// no, and on-failure after success: never restarted.
	for _, n := range []string{"never", "okonly"} {
		if got := monInspect(t, h, n, "{{.State.Status}} {{.RestartCount}}"); got != "exited 0" {
			t.Errorf("%s: %q", n, got)
		}
		if r := h.Run(0, "logs", n); r.Stdout != "run\n" {
			t.Errorf("%s ran: %q", n, r.Stdout)
		}
	}
	// A user's stop ends an always policy for good.
	h.Run(0, "stop", "-t", "1", "always")
	waitFor(t, 10*time.Second, "always to stay stopped", func() bool {
		return monInspect(t, h, "always", "{{.State.Status}}") == "exited"
	})
	n1 := monInspect(t, h, "always", "{{.RestartCount}}")
	time.Sleep(2 * time.Second)
	if got := monInspect(t, h, "always", "{{.State.Status}} {{.RestartCount}}"); got != "exited "+n1 {
		t.Errorf("restarted after stop: %q (was %s)", got, n1)
	}
	id := strings.TrimSpace(h.Run(0, "inspect", "-f", "{{.Id}}", "always").Stdout)
	waitFor(t, 5*time.Second, "the launcher to exit", func() bool { return len(monProcsMentioning(id)) == 0 })
	h.Run(0, "rm", "-f", "fail2", "always", "never", "okonly")
}

func TestMonitorKilled(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "victim", "cove-test/busybox", "sleep", "1000")
	s := monState(t, h, id)
	if err := syscall.Kill(s.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The parent-death signal kills the container with its monitor, and
	// the next command sees it exited (once the zombie is reaped).
	waitFor(t, 15*time.Second, "ps -a to show the container exited", func() bool {
		return strings.Contains(h.Run(0, "ps", "-a").Stdout, "Exited (137)")
	})
	if r := h.Run(0, "ps", "-q"); r.Stdout != "" {
		t.Errorf("ps after kill -9 of the monitor: %q", r.Stdout)
	}
	// start works again, under a new monitor.
	h.Run(0, "start", "victim")
	if got := monInspect(t, h, "victim", "{{.State.Status}}"); got != "running" {
		t.Errorf("after start: %q", got)
	}
	s2 := monState(t, h, id)
	// start returns once the container runs; its launcher becomes the
	// monitor (execve, same PID) a moment later.
	waitFor(t, 5*time.Second, "the launcher to become the monitor", func() bool {
		return monArgv0(s2.MonitorPid) == "cove-monitor"
	})
	if s2.MonitorPid == s.MonitorPid {
		t.Errorf("new monitor %d, the same PID as the killed one", s2.MonitorPid)
	}
	// And rm works on a container whose monitor was killed.
	syscall.Kill(s2.MonitorPid, syscall.SIGKILL)
	waitFor(t, 15*time.Second, "exited again", func() bool {
		return monInspect(t, h, "victim", "{{.State.Status}}") == "exited"
	})
	h.Run(0, "rm", "victim")
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("after rm: %q", r.Stdout)
	}
}

// A container process running as a non-root user can only be signalled by
// its monitor: another cove command asks it through the relay.
func TestMonitorSignalRelay(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	script := `trap 'echo got USR1; exit 3' USR1; echo ready; while true; do sleep 0.1; done`
	id := monRunDetached(t, h, "--name", "u1000", "-u", "1000", "cove-test/busybox", "sh", "-c", script)
	waitFor(t, 10*time.Second, "ready", func() bool { return h.Run(0, "logs", "u1000").Stdout == "ready\n" })
	s := monState(t, h, id)
	if uid := monStatusKB(t, s.Pid, "Uid"); uid < 100000 {
		t.Skipf("the container's user has host uid %d: not a subordinate ID, nothing to prove", uid)
	}

	// The protocol itself: a request file, then the relay signal (40).
	rd := filepath.Join(monContainerDir(h, id), "relay")
	req := filepath.Join(rd, "10-1-test")
	if err := os.WriteFile(req, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.Chown(req)
	if err := syscall.Kill(s.MonitorPid, syscall.Signal(40)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the monitor to take the request", func() bool {
		_, err := os.Stat(req)
		return os.IsNotExist(err)
	})
	waitFor(t, 10*time.Second, "the container to exit 3", func() bool {
		return monInspect(t, h, "u1000", "{{.State.Status}} {{.State.ExitCode}}") == "exited 3"
	})
	if r := h.Run(0, "logs", "u1000"); r.Stdout != "ready\ngot USR1\n" {
		t.Errorf("logs: %q", r.Stdout)
	}

	// From another cove command (kill).
	monRunDetached(t, h, "--name", "u1000b", "-u", "1000", "cove-test/busybox", "sh", "-c", script)
	waitFor(t, 10*time.Second, "ready", func() bool { return h.Run(0, "logs", "u1000b").Stdout == "ready\n" })
	h.Run(0, "kill", "-s", "USR1", "u1000b")
	waitFor(t, 10*time.Second, "u1000b to exit 3", func() bool {
		return monInspect(t, h, "u1000b", "{{.State.Status}} {{.State.ExitCode}}") == "exited 3"
	})

	// A foreground cove run is its container's monitor too.
	cmd := h.Cmd("run", "--name", "fg1000", "-u", "1000", "cove-test/busybox", "sh", "-c", script)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "fg1000 ready", func() bool { return strings.Contains(out.String(), "ready") })
	h.Run(0, "kill", "-s", "USR1", "fg1000")
	if code := exitCode(cmd.Wait()); code != 3 {
		t.Errorf("foreground run exited %d after the relayed USR1, want 3; stdout %q", code, out.String())
	}
}

// Measures the monitor's memory (target: at most 5 MB resident each) and
// the latency of run -d.
func TestMonitorRSS(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	var lat []time.Duration
	var ids []string
	report := func(n int) {
		var rss, anon []int
		for _, id := range ids {
			s := monState(t, h, id)
			rss = append(rss, monStatusKB(t, s.MonitorPid, "VmRSS"))
			anon = append(anon, monStatusKB(t, s.MonitorPid, "RssAnon"))
		}
		sort.Ints(rss)
		sort.Ints(anon)
		t.Logf("%d containers: monitor VmRSS %d..%d kB, RssAnon %d..%d kB", n, rss[0], rss[len(rss)-1], anon[0], anon[len(anon)-1])
		if rss[len(rss)-1] > 5*1024 {
			t.Errorf("a monitor uses %d kB, more than 5 MB", rss[len(rss)-1])
		}
	}
	for i := 0; i < 10; i++ {
		start := time.Now()
		ids = append(ids, monRunDetached(t, h, "cove-test/busybox", "sh", "-c", "echo hello; sleep 1000"))
		lat = append(lat, time.Since(start))
		if i == 0 {
			time.Sleep(200 * time.Millisecond)
			report(1)
		}
	}
	time.Sleep(200 * time.Millisecond)
	report(10)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("run -d latency: min %v, median %v, max %v", lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	h.Run(0, append([]string{"rm", "-f"}, ids...)...)
}

func TestMonitorTTYAndStdin(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "-t", "--name", "tty", "cove-test/busybox", "sh", "-c", "tty; echo on a terminal")
	monWaitDone(t, h, "tty")
	r := h.Run(0, "logs", "tty")
	if r.Stdout != "/dev/pts/0\r\non a terminal\r\n" || r.Stderr != "" {
		t.Errorf("-t logs: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// -i keeps stdin open: cat waits instead of exiting at EOF.
	monRunDetached(t, h, "-i", "--name", "cat", "cove-test/busybox", "cat")
	time.Sleep(500 * time.Millisecond)
	if got := monInspect(t, h, "cat", "{{.State.Status}}"); got != "running" {
		t.Errorf("run -di cat: %q", got)
	}
	// Without -i, stdin is /dev/null.
	monRunDetached(t, h, "--name", "cat2", "cove-test/busybox", "cat")
	monWaitDone(t, h, "cat2")
	if got := monInspect(t, h, "cat2", "{{.State.ExitCode}}"); got != "0" {
		t.Errorf("cat2 exit code %s", got)
	}
	h.Run(0, "rm", "-f", "tty", "cat", "cat2")
}

// The container dies with its monitor also when it runs as another user:
// the user switch in the container's init clears the parent-death signal,
// which the init must restore.
func TestMonitorKilledNonRoot(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	for _, user := range []string{"1000", "0:1000"} {
		id := monRunDetached(t, h, "-u", user, "cove-test/busybox", "sleep", "1000")
		s := monState(t, h, id)
		syscall.Kill(s.MonitorPid, syscall.SIGKILL)
		dead := func() bool {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid) + "/stat")
			if err != nil {
				return true
			}
			i := strings.LastIndexByte(string(b), ')')
			return i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X')
		}
		deadline := time.Now().Add(5 * time.Second)
		for !dead() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !dead() {
			t.Errorf("-u %s: the container outlived its monitor (its parent-death signal was lost at the user switch)", user)
			syscall.Kill(s.Pid, syscall.SIGKILL)
		}
		h.Run(0, "rm", "-f", id)
	}
}

// TestRunDetachedInPlace: run -d starts its container itself and becomes
// its monitor in place, rather than starting a launcher process: it
// returns once the ID is printed, with the caller's streams let go (a
// shell's $(...) reads until every holder of its pipe is gone; Run waits
// for that too), and the container is supervised as ever.
func TestRunDetachedInPlace(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Setenv("COVE_TIMING", "1")
	r := h.Run(0, "run", "-d", "--name", "inplace", "cove-test/busybox", "sh", "-c", "echo from-inplace; exec sleep 30")
	if !strings.Contains(r.Stderr, "launching in place") {
		t.Errorf("run -d did not launch in place: %q", r.Stderr)
	}
	id := strings.TrimSpace(r.Stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex ID", r.Stdout)
	}
	s := monState(t, h, id)
	waitFor(t, 5*time.Second, "the execve into cove-monitor", func() bool { return monArgv0(s.MonitorPid) == "cove-monitor" })
	if ppid := monStatusKB(t, s.Pid, "PPid"); ppid != s.MonitorPid {
		t.Errorf("the container's parent is %d, not the monitor %d", ppid, s.MonitorPid)
	}
	// Out of the caller's session, so that the terminal's signals and
	// hang-up leave it alone.
	if sid := monStatField(t, s.MonitorPid, 6); sid != s.MonitorPid {
		t.Errorf("the monitor's session is %d, want its own (%d)", sid, s.MonitorPid)
	}
	waitFor(t, 5*time.Second, "the container's output in its log", func() bool {
		return strings.Contains(h.Run(0, "logs", id).Stdout, "from-inplace")
	})
	h.Run(0, "stop", "-t", "0", id)
	if got := monInspect(t, h, id, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("after stop: %q, want exited 137", got)
	}
	// A caller that stops reading at once (`cove run -d ... | true`): the
	// ID's write fails, and neither run -d nor its container may die of it.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	cmd := h.Cmd("run", "-d", "--name", "closedout", "cove-test/busybox", "sleep", "30")
	cmd.Stdout = pw
	err = cmd.Run()
	pw.Close()
	if err != nil {
		t.Logf("run -d with its stdout closed: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := monInspect(t, h, "closedout", "{{.State.Status}}"); got != "running" {
		t.Errorf("run -d with its stdout closed left the container %q, want running", got)
	}
	// A descriptor the caller left open (a shell's 7>&1, bats's fd 3)
	// must not reach the helpers that outlive run -d (the network helper
	// is started with exec): the caller's read must end with run -d.
	xr, xw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = h.Cmd("run", "-d", "--name", "extrafd", "cove-test/busybox", "sleep", "30")
	// Descriptor 7: the helpers' own extra descriptors (3, 4) would
	// cover a lower one.
	cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, xw}
	if err := cmd.Run(); err != nil {
		t.Fatalf("run -d with an extra descriptor: %v", err)
	}
	xw.Close()
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, xr); close(eof) }()
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Errorf("the caller's descriptor 7 is still open 5 s after run -d returned: a helper inherited it")
	}
	xr.Close()
	// A command that cannot start still fails the run itself.
	r = h.Run(127, "run", "-d", "cove-test/busybox", "no-such-command")
	if !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("missing command: %q", r.Stderr)
	}
}

// monStatField returns field n (1-based, after the command name) of
// /proc/PID/stat.
func monStatField(t *testing.T, pid, n int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("reading the stat of %d: %v", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	v, _ := strconv.Atoi(f[n-3])
	return v
}

// TestWaitRmContainer: `wait` on a --rm container gives its exit code, as
// Docker's does, in the foreground and detached: the remover keeps the
// record until the waiter has read the exit.
func TestWaitRmContainer(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	for i, args := range [][]string{
		{"run", "--rm", "--name", "fgrm", "cove-test/busybox", "sh", "-c", "sleep 1; exit 5"},
		{"run", "-d", "--rm", "--name", "bgrm", "cove-test/busybox", "sh", "-c", "sleep 1; exit 5"},
	} {
		name := ""
		for j, a := range args {
			if a == "--name" {
				name = args[j+1]
			}
		}
		cmd := h.Cmd(args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, name+" running", func() bool {
			return run(h.Cmd("inspect", "-f", "{{.State.Status}}", name)).Stdout == "running\n"
		})
		r := h.Run(0, "wait", name)
		if got := strings.TrimSpace(r.Stdout); got != "5" {
			t.Errorf("case %d: wait printed %q, want the exit code 5", i, got)
		}
		cmd.Wait()
		waitFor(t, 10*time.Second, name+" removed", func() bool {
			return run(h.Cmd("inspect", name)).Code != 0
		})
	}
}
