//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// healthJSON is .State.Health as inspect prints it.
type healthJSON struct {
	Status        string
	FailingStreak int
	Log           []struct {
		Start, End time.Time
		ExitCode   int
		Output     string
	}
}

func healthOf(t *testing.T, h *Harness, ref string) *healthJSON {
	t.Helper()
	out := monInspect(t, h, ref, "{{json .State.Health}}")
	if out == "null" || out == "" {
		return nil
	}
	var hj healthJSON
	if err := json.Unmarshal([]byte(out), &hj); err != nil {
		t.Fatalf("inspect .State.Health of %s: %q: %v", ref, out, err)
	}
	return &hj
}

// sameJSON compares two JSON texts as values (inspect's templates print
// maps with sorted keys).
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

func waitHealth(t *testing.T, h *Harness, ref, status string, timeout time.Duration) *healthJSON {
	t.Helper()
	var last *healthJSON
	waitFor(t, timeout, ref+" to be "+status, func() bool {
		last = healthOf(t, h, ref)
		return last != nil && last.Status == status
	})
	return last
}

// psStatus returns the STATUS column of ps -a for the container name.
func psStatus(t *testing.T, h *Harness, name string) string {
	t.Helper()
	for _, l := range strings.Split(h.Run(0, "ps", "-a", "--format", "{{.Names}}\t{{.Status}}").Stdout, "\n") {
		if n, st, ok := strings.Cut(l, "\t"); ok && n == name {
			return st
		}
	}
	t.Fatalf("%s not in ps -a", name)
	return ""
}

func psNames(t *testing.T, h *Harness, args ...string) []string {
	t.Helper()
	out := strings.TrimSpace(h.Run(0, append([]string{"ps", "-a", "--format", "{{.Names}}"}, args...)...).Stdout)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// TestHealthDetached: a detached container's monitor probes on schedule;
// status starting -> unhealthy after Retries failures -> healthy after a
// success; ps shows it and filters on it; healthcheck run probes at once;
// stop makes it unhealthy and start resets it to starting.
func TestHealthDetached(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "hc", "--health-cmd", "cat /tmp/ok", "--health-interval", "300ms", "--health-retries", "2",
		"cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "hc")
	monRunDetached(t, h, "--name", "plain", "cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "plain")

	if got := monInspect(t, h, "hc", "{{json .Config.Healthcheck}}"); !sameJSON(got, `{"Test":["CMD-SHELL","cat /tmp/ok"],"Interval":300000000,"Retries":2}`) {
		t.Errorf(".Config.Healthcheck = %s", got)
	}
	if st := healthOf(t, h, "hc"); st == nil || (st.Status != "starting" && st.Status != "unhealthy") {
		t.Fatalf("right after run -d: %+v", st)
	}
	uh := waitHealth(t, h, "hc", "unhealthy", 15*time.Second)
	if uh.FailingStreak < 2 || len(uh.Log) < 2 {
		t.Errorf("unhealthy with streak %d and %d results", uh.FailingStreak, len(uh.Log))
	}
	for _, l := range uh.Log {
		if l.ExitCode != 1 || !strings.Contains(l.Output, "/tmp/ok") || l.End.Before(l.Start) {
			t.Errorf("failed probe recorded as %+v", l)
		}
	}
	if st := psStatus(t, h, "hc"); !strings.HasPrefix(st, "Up ") || !strings.HasSuffix(st, " (unhealthy)") {
		t.Errorf("ps STATUS %q, want Up ... (unhealthy)", st)
	}
	if got := psNames(t, h, "--filter", "health=unhealthy"); len(got) != 1 || got[0] != "hc" {
		t.Errorf("ps --filter health=unhealthy: %q", got)
	}
	if got := psNames(t, h, "--filter", "health=none"); len(got) != 1 || got[0] != "plain" {
		t.Errorf("ps --filter health=none: %q", got)
	}
	// healthcheck run: exit 1 and the status while the check fails.
	r := h.Run(1, "healthcheck", "run", "hc")
	if strings.TrimSpace(r.Stdout) != "unhealthy" {
		t.Errorf("healthcheck run (failing) printed %q", r.Stdout)
	}

	h.Run(0, "exec", "hc", "sh", "-c", "echo fine > /tmp/ok")
	r = h.Run(0, "healthcheck", "run", "hc")
	if r.Stdout != "" {
		t.Errorf("healthcheck run (healthy) printed %q", r.Stdout)
	}
	hj := healthOf(t, h, "hc")
	if hj.Status != "healthy" || hj.FailingStreak != 0 {
		t.Fatalf("after a passing healthcheck run: %+v", hj)
	}
	if last := hj.Log[len(hj.Log)-1]; last.ExitCode != 0 || last.Output != "fine\n" {
		t.Errorf("last result %+v, want exit 0 and output fine", last)
	}
	// The schedule goes on: the log fills up to Docker's 5 and no more.
	waitFor(t, 10*time.Second, "5 results", func() bool { return len(healthOf(t, h, "hc").Log) == 5 })
	time.Sleep(700 * time.Millisecond)
	hj = healthOf(t, h, "hc")
	if len(hj.Log) != 5 || hj.Status != "healthy" {
		t.Errorf("after more probes: status %s, %d results", hj.Status, len(hj.Log))
	}
	if st := psStatus(t, h, "hc"); !strings.HasSuffix(st, " (healthy)") {
		t.Errorf("ps STATUS %q, want ... (healthy)", st)
	}
	if got := psNames(t, h, "--filter", "health=healthy"); len(got) != 1 || got[0] != "hc" {
		t.Errorf("ps --filter health=healthy: %q", got)
	}

	h.Run(0, "stop", "-t", "1", "hc")
	monWaitDone(t, h, "hc")
	if hj := healthOf(t, h, "hc"); hj == nil || hj.Status != "unhealthy" {
		t.Errorf("stopped container's health: %+v, want unhealthy (Docker)", hj)
	}
	h.Run(125, "healthcheck", "run", "hc")
	// A new start: starting again, the log kept; /tmp/ok is still in the
	// container's layer, so it becomes healthy.
	h.Run(0, "start", "hc")
	if hj := healthOf(t, h, "hc"); hj == nil || hj.Status != "starting" || hj.FailingStreak != 0 || len(hj.Log) != 5 {
		t.Errorf("restarted container's health: %+v", hj)
	}
	if st := psStatus(t, h, "hc"); !strings.HasSuffix(st, " (health: starting)") {
		t.Errorf("ps STATUS %q, want ... (health: starting)", st)
	}
	waitHealth(t, h, "hc", "healthy", 15*time.Second)
}

// TestHealthTimeout: a probe over its timeout fails with exit code -1 and
// Docker's message, and its command is killed.
func TestHealthTimeout(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "slow", "--health-cmd", "sleep 37", "--health-timeout", "300ms", "--health-interval", "200ms", "--health-retries", "1",
		"cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "slow")
	hj := waitHealth(t, h, "slow", "unhealthy", 15*time.Second)
	l := hj.Log[0]
	if l.ExitCode != -1 || l.Output != "Health check exceeded timeout (300ms)" {
		t.Errorf("timed-out probe recorded as %+v", l)
	}
	if d := l.End.Sub(l.Start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed-out probe took %v", d)
	}
	// The probes' commands do not pile up in the container.
	time.Sleep(time.Second)
	ps := h.Run(0, "exec", "slow", "ps", "-o", "args").Stdout
	if n := strings.Count(ps, "sleep 37"); n > 1 {
		t.Errorf("%d timed-out probe commands still run:\n%s", n, ps)
	}
}

// TestHealthStartPeriod: failures during the start period do not count
// while the container is starting; --health-start-interval probes more
// often meanwhile.
func TestHealthStartPeriod(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "sp", "--health-cmd", "false", "--health-interval", "1h", "--health-start-period", "1h",
		"--health-start-interval", "200ms", "--health-retries", "1", "cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "sp")
	waitFor(t, 15*time.Second, "3 probes in the start period", func() bool { return len(healthOf(t, h, "sp").Log) >= 3 })
	hj := healthOf(t, h, "sp")
	if hj.Status != "starting" || hj.FailingStreak != 0 {
		t.Errorf("failures in the start period: %+v, want starting with no streak", hj)
	}
	if got := psNames(t, h, "--filter", "health=starting"); len(got) != 1 || got[0] != "sp" {
		t.Errorf("ps --filter health=starting: %q", got)
	}
	// healthcheck run of a failing probe in the start period: still
	// starting, which is not healthy (exit 1, the status printed).
	if r := h.Run(1, "healthcheck", "run", "sp"); strings.TrimSpace(r.Stdout) != "starting" {
		t.Errorf("healthcheck run in the start period printed %q", r.Stdout)
	}
	// A paused container is not probed; unpaused, it is again.
	h.Run(0, "pause", "sp")
	time.Sleep(300 * time.Millisecond) // a probe under way finishes
	paused := healthOf(t, h, "sp").Log
	time.Sleep(800 * time.Millisecond)
	if got := healthOf(t, h, "sp").Log; !got[len(got)-1].Start.Equal(paused[len(paused)-1].Start) {
		t.Errorf("probed while paused: last probe at %v, then %v", paused[len(paused)-1].Start, got[len(got)-1].Start)
	}
	h.Run(125, "healthcheck", "run", "sp")
	h.Run(0, "unpause", "sp")
	last := healthOf(t, h, "sp").Log
	waitFor(t, 10*time.Second, "a probe after unpause", func() bool {
		l := healthOf(t, h, "sp").Log
		return !l[len(l)-1].Start.Equal(last[len(last)-1].Start)
	})
}

// TestHealthForeground: a foreground `cove run` probes too.
func TestHealthForeground(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	cmd := h.Cmd("run", "--name", "fg", "--health-cmd", "echo ok", "--health-interval", "200ms", "cove-test/busybox", "sleep", "1000")
	done := startKillable(t, cmd)
	waitFor(t, 15*time.Second, "fg to run", func() bool {
		return run(h.Cmd("inspect", "-f", "{{.State.Status}}", "fg")).Stdout == "running\n"
	})
	hj := waitHealth(t, h, "fg", "healthy", 15*time.Second)
	if hj.Log[0].Output != "ok\n" {
		t.Errorf("foreground probe output %q", hj.Log[0].Output)
	}
	h.Run(0, "stop", "-t", "1", "fg")
	<-done
	if hj := healthOf(t, h, "fg"); hj.Status != "unhealthy" {
		t.Errorf("stopped foreground container: %s", hj.Status)
	}
	h.Run(0, "rm", "fg")
}

// TestHealthBadInput: bad --health-* values and filters are refused with
// 125, naming the value, and create nothing.
func TestHealthBadInput(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-interval", "10"}, `--health-interval "10"`},
		{[]string{"--health-timeout", "-1s"}, `--health-timeout "-1s"`},
		{[]string{"--health-start-period", "soon"}, `--health-start-period "soon"`},
		{[]string{"--health-start-interval", "1ns"}, `--health-start-interval "1ns"`},
		{[]string{"--health-retries", "-2"}, `--health-retries -2`},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts"},
	} {
		for _, verb := range []string{"create", "run"} {
			r := h.Run(125, append(append([]string{verb}, c.args...), "cove-test/busybox", "true")...)
			if !strings.Contains(r.Stderr, c.want) {
				t.Errorf("%s %q: stderr %q does not name %s", verb, c.args, r.Stderr, c.want)
			}
		}
	}
	if got := psNames(t, h); got != nil {
		t.Errorf("bad input left containers: %q", got)
	}
	r := h.Run(125, "ps", "--filter", "health=great")
	if !strings.Contains(r.Stderr, "health=great") {
		t.Errorf("ps --filter health=great: %q", r.Stderr)
	}
	// healthcheck run: no such container, none defined, not running.
	h.Run(125, "healthcheck", "run", "nosuch")
	monRunDetached(t, h, "--name", "nohc", "--no-healthcheck", "cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "nohc")
	if r := h.Run(125, "healthcheck", "run", "nohc"); !strings.Contains(r.Stderr, "no healthcheck") {
		t.Errorf("healthcheck run without one: %q", r.Stderr)
	}
	if hj := healthOf(t, h, "nohc"); hj != nil {
		t.Errorf("--no-healthcheck container has health %+v", hj)
	}
	h.Run(0, "create", "--name", "created", "--health-cmd", "true", "cove-test/busybox", "true")
	if r := h.Run(125, "healthcheck", "run", "created"); !strings.Contains(r.Stderr, "not running") {
		t.Errorf("healthcheck run of a created container: %q", r.Stderr)
	}
	h.Run(0, "rm", "created")
	h.Run(0, "healthcheck", "--help")
}

// healthImage writes a docker-archive of the busybox fixture whose config
// has HEALTHCHECK test (and an interval), tagged cove-test/health.
func healthImage(t *testing.T, h *Harness, test []string, interval time.Duration) string {
	t.Helper()
	src, err := os.Open(Fixture(t, "busybox", "docker"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	files := map[string][]byte{}
	var order []string
	tr := tar.NewReader(src)
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hd.Typeflag != tar.TypeReg {
			continue
		}
		b, _ := io.ReadAll(tr)
		files[hd.Name] = b
		order = append(order, hd.Name)
	}
	var manifest []map[string]any
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	cfgName := manifest[0]["Config"].(string)
	var cfg map[string]any
	if err := json.Unmarshal(files[cfgName], &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["config"].(map[string]any)["Healthcheck"] = map[string]any{"Test": test, "Interval": int64(interval)}
	newCfg, _ := json.Marshal(cfg)
	sum := sha256.Sum256(newCfg)
	newName := hex.EncodeToString(sum[:]) + ".json"
	manifest[0]["Config"] = newName
	manifest[0]["RepoTags"] = []string{"cove-test/health:latest"}
	files[newName] = newCfg
	delete(files, cfgName)
	files["manifest.json"], _ = json.Marshal(manifest)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range append(order, newName) {
		b, ok := files[n]
		if !ok {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	return h.WriteFile(fmt.Sprintf("health-%x.tar", sum[:4]), buf.Bytes())
}

// TestHealthImage: the image's HEALTHCHECK applies (CMD form executed
// directly), --health-* flags override parts of it, --no-healthcheck
// disables it, and a malformed one is refused at create.
func TestHealthImage(t *testing.T) {
	h := newHarness(t)
	h.Run(0, "load", "-i", healthImage(t, h, []string{"CMD", "/bin/echo", "from-image"}, 200*time.Millisecond))
	if got := strings.TrimSpace(h.Run(0, "image", "inspect", "-f", "{{json .Config.Healthcheck.Test}}", "cove-test/health").Stdout); got != `["CMD","/bin/echo","from-image"]` {
		t.Errorf("image inspect .Config.Healthcheck.Test = %s", got)
	}
	monRunDetached(t, h, "--name", "img", "cove-test/health", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "img")
	hj := waitHealth(t, h, "img", "healthy", 15*time.Second)
	if hj.Log[0].Output != "from-image\n" {
		t.Errorf("image healthcheck output %q", hj.Log[0].Output)
	}
	// Flags take precedence field by field; the image's test stays.
	h.Run(0, "create", "--name", "merged", "--health-retries", "9", "cove-test/health")
	if got := monInspect(t, h, "merged", "{{json .Config.Healthcheck}}"); !sameJSON(got, `{"Test":["CMD","/bin/echo","from-image"],"Interval":200000000,"Retries":9}`) {
		t.Errorf("merged healthcheck %s", got)
	}
	h.Run(0, "create", "--name", "off", "--no-healthcheck", "cove-test/health")
	if got := monInspect(t, h, "off", "{{json .Config.Healthcheck.Test}}"); got != `["NONE"]` {
		t.Errorf("--no-healthcheck over the image's: %s", got)
	}
	h.Run(0, "rm", "merged", "off")

	h.Run(0, "load", "-i", healthImage(t, h, []string{"PING", "x"}, 0))
	r := h.Run(125, "create", "cove-test/health")
	if !strings.Contains(r.Stderr, `unknown type "PING"`) {
		t.Errorf("malformed image healthcheck: %q", r.Stderr)
	}
	if got := psNames(t, h); len(got) != 1 {
		t.Errorf("containers after the refused create: %q", got)
	}
}

// TestHealthConcurrentAndKilled: manual probes racing scheduled ones keep
// a well-formed record (at most 5 results); kill -9 of the monitor while
// probes run leaves a usable store: the container is exited and unhealthy,
// and no probe helper is left behind.
func TestHealthConcurrentAndKilled(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "busy", "--health-cmd", "true", "--health-interval", "100ms", "cove-test/busybox", "sleep", "1000")
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	t0 := time.Now()
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- run(h.Cmd("healthcheck", "run", "busy")).Code
		}()
	}
	wg.Wait()
	close(codes)
	t.Logf("8 concurrent healthcheck runs: %v", time.Since(t0).Round(time.Millisecond))
	for c := range codes {
		if c != 0 {
			t.Errorf("concurrent healthcheck run exited %d", c)
		}
	}
	hj := healthOf(t, h, "busy")
	if hj.Status != "healthy" || len(hj.Log) != 5 {
		t.Errorf("after concurrent probes: %+v", hj)
	}
	mon := monState(t, h, id).MonitorPid
	time.Sleep(250 * time.Millisecond)
	t0 = time.Now()
	if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "busy to be exited", func() bool {
		return monInspect(t, h, "busy", "{{.State.Status}}") == "exited"
	})
	waitFor(t, 5*time.Second, "no process of busy", func() bool { return len(monProcsMentioning(id)) == 0 })
	t.Logf("exited and no process left %v after kill -9 of the monitor", time.Since(t0).Round(time.Millisecond))
	if hj := healthOf(t, h, "busy"); hj == nil || hj.Status != "unhealthy" {
		t.Errorf("after kill -9 of the monitor: %+v", hj)
	}
	// Usable: it starts again and becomes healthy.
	h.Run(0, "start", "busy")
	waitHealth(t, h, "busy", "healthy", 15*time.Second)
	h.Run(0, "rm", "-f", "busy")
	if _, err := os.Stat(filepath.Join(monContainerDir(h, id))); !os.IsNotExist(err) {
		t.Errorf("container directory after rm -f: %v", err)
	}
}

// TestHealthMonitorRSS: the monitor of a container probed every 100 ms
// stays small (target at most 5 MB resident), the Go helpers being
// separate, short-lived processes.
func TestHealthMonitorRSS(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "rss", "--health-cmd", "true", "--health-interval", "100ms", "cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "rss")
	waitFor(t, 15*time.Second, "5 probes", func() bool { return len(healthOf(t, h, "rss").Log) == 5 })
	time.Sleep(time.Second)
	mon := monState(t, h, id).MonitorPid
	rss, anon := monStatusKB(t, mon, "VmRSS"), monStatusKB(t, mon, "RssAnon")
	t.Logf("monitor with a 100 ms healthcheck: VmRSS %d kB, RssAnon %d kB", rss, anon)
	if rss > 5*1024 {
		t.Errorf("monitor uses %d kB, more than 5 MB", rss)
	}
	hj := healthOf(t, h, "rss")
	var total time.Duration
	for _, l := range hj.Log {
		total += l.End.Sub(l.Start)
	}
	t.Logf("probe (exec of true) duration: mean %v", (total / time.Duration(len(hj.Log))).Round(time.Millisecond))
}

// TestHealthRestartPolicy: a container restarted by its policy probes
// again under the new monitor, and keeps the earlier runs' results.
func TestHealthRestartPolicy(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "again", "--restart", "always", "--health-cmd", "echo ok", "--health-interval", "150ms",
		"cove-test/busybox", "sh", "-c", "sleep 1; exit 1")
	defer h.Run(0, "rm", "-f", "again")
	waitHealth(t, h, "again", "healthy", 15*time.Second)
	waitFor(t, 20*time.Second, "a restart and a probe after it", func() bool {
		if monInspect(t, h, "again", "{{.RestartCount}} {{.State.Status}}") == "0 running" {
			return false
		}
		started, err := time.Parse(time.RFC3339Nano, monInspect(t, h, "again", "{{.State.StartedAt}}"))
		hj := healthOf(t, h, "again")
		if err != nil || hj == nil || len(hj.Log) == 0 {
			return false
		}
		return hj.Status == "healthy" && hj.Log[len(hj.Log)-1].Start.After(started) && hj.Log[0].Start.Before(started)
	})
	// The attach socket follows the restarts too (container attach is
	// Docker's other name for it).
	// Between runs (restarting) there is nothing to attach to: 125.
	code := 125
	for i := 0; i < 5 && code == 125; i++ {
		code = run(h.Cmd("container", "attach", "--no-stdin", "again")).Code
	}
	if code != 1 {
		t.Errorf("container attach ended with %d, want the run's exit code 1", code)
	}
}
