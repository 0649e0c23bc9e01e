//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLogsDetached(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "talk", "cove-test/busybox", "sh", "-c",
		"echo out1; echo err1 >&2; sleep 2; echo out2; echo err2 >&2; sleep 2; echo out3; printf 'no newline'")
	waitFor(t, 10*time.Second, "the first lines", func() bool { return h.Run(0, "logs", "talk").Stdout == "out1\n" })
	mid := time.Now()
	r := h.Run(0, "logs", "talk")
	if r.Stdout != "out1\n" || r.Stderr != "err1\n" {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}

	// -f prints what is there, follows, and ends when the container has
	// exited and its log is drained.
	start := time.Now()
	r = h.Run(0, "logs", "-f", "talk")
	if r.Stdout != "out1\nout2\nout3\nno newline" || r.Stderr != "err1\nerr2\n" {
		t.Errorf("-f: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if d := time.Since(start); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("-f returned after %v: it should follow until the exit, about 4 s", d)
	}
	if got := monInspect(t, h, "talk", "{{.State.Status}}"); got != "exited" {
		t.Errorf("-f ended with the container %s", got)
	}
	// -f of a stopped container returns at once.
	h.Run(0, "logs", "-f", "talk")

	// --tail counts lines of both streams, from the end.
	r = h.Run(0, "logs", "--tail", "2", "talk")
	if r.Stdout != "out3\nno newline" || r.Stderr != "" {
		t.Errorf("--tail 2: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.Run(0, "logs", "-n", "0", "talk")
	if r.Stdout != "" || r.Stderr != "" {
		t.Errorf("--tail 0: %q %q", r.Stdout, r.Stderr)
	}
	// --since and --until: RFC 3339, Unix times, durations.
	r = h.Run(0, "logs", "--since", mid.UTC().Format(time.RFC3339Nano), "talk")
	if r.Stdout != "out2\nout3\nno newline" || r.Stderr != "err2\n" {
		t.Errorf("--since: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.Run(0, "logs", "--until", fmt.Sprintf("%d.%09d", mid.Unix(), mid.Nanosecond()), "talk")
	if r.Stdout != "out1\n" || r.Stderr != "err1\n" {
		t.Errorf("--until: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.Run(0, "logs", "--since", "1h", "talk")
	if !strings.HasPrefix(r.Stdout, "out1\n") {
		t.Errorf("--since 1h: %q", r.Stdout)
	}
	h.Run(125, "logs", "--since", "someday", "talk")
	h.Run(125, "logs", "--tail", "some", "talk")
	// -t: Docker's fixed-width RFC 3339 time before each line.
	r = h.Run(0, "logs", "-t", "talk")
	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1$`)
	if first, _, _ := strings.Cut(r.Stdout, "\n"); !ts.MatchString(first) {
		t.Errorf("-t: %q", r.Stdout)
	}
	h.Run(125, "logs", "no-such-container")
}

func TestLogsFollowRunning(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "ticker", "cove-test/busybox", "sh", "-c", "i=0; while [ $i -lt 6 ]; do echo tick $i; i=$((i+1)); sleep 0.5; done")
	cmd := h.Cmd("logs", "-f", "--tail", "1", "ticker")
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// New lines appear while the container runs.
	waitFor(t, 10*time.Second, "tick 4 followed", func() bool { return strings.Contains(out.String(), "tick 4\n") })
	if code := exitCode(cmd.Wait()); code != 0 {
		t.Errorf("logs -f exited %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[len(lines)-1] != "tick 5" || len(lines) > 6 {
		t.Errorf("logs -f --tail 1: %q", out.String())
	}
}

func TestLogsForeground(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	r := h.Run(3, "run", "--name", "fg", "cove-test/busybox", "sh", "-c", "echo fo; echo fe >&2; printf partial; exit 3")
	if r.Stdout != "fo\npartial" || r.Stderr != "fe\n" {
		t.Errorf("run: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = h.Run(0, "logs", "fg")
	if r.Stdout != "fo\npartial" || r.Stderr != "fe\n" {
		t.Errorf("logs: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// Streams not attached are logged all the same; start -a appends.
	h.Run(0, "run", "--name", "quiet", "-a", "stderr", "cove-test/busybox", "sh", "-c", "echo hidden; echo shown >&2")
	h.Run(0, "start", "-a", "quiet")
	r = h.Run(0, "logs", "quiet")
	if r.Stdout != "hidden\nhidden\n" || r.Stderr != "shown\nshown\n" {
		t.Errorf("logs after run -a stderr and start -a: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// A foreground container's log is the same json-file as a detached one's.
	id := strings.TrimSpace(h.Run(0, "inspect", "-f", "{{.Id}}", "fg").Stdout)
	monCheckJSONFile(t, filepath.Join(monContainerDir(h, id), "container.log"), 3)
}

// monCheckJSONFile checks every line of a json-file log.
func monCheckJSONFile(t *testing.T, path string, want int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d %q: %v", n, sc.Text(), err)
		}
		if len(m) != 3 {
			t.Errorf("line %d has keys %v, want log, stream, time", n, m)
		}
		if s, _ := m["stream"].(string); s != "stdout" && s != "stderr" {
			t.Errorf("line %d: stream %v", n, m["stream"])
		}
		if _, ok := m["log"].(string); !ok {
			t.Errorf("line %d: log %v", n, m["log"])
		}
		ts, _ := m["time"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("line %d: time %q: %v", n, ts, err)
		}
	}
	if n != want {
		t.Errorf("%d entries, want %d:\n%s", n, want, b)
	}
}

func TestLogsJSONFileOnDisk(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "j", "cove-test/busybox", "sh", "-c", `echo 'quote " back \ <tag> & tab	end'; echo err >&2`)
	monWaitDone(t, h, "j")
	path := filepath.Join(monContainerDir(h, id), "container.log")
	monCheckJSONFile(t, path, 2)
	b, _ := os.ReadFile(path)
	// Docker's exact shape: {"log":"...","stream":"...","time":"..."}.
	re := regexp.MustCompile(`^\{"log":"quote \\" back \\\\ \\u003ctag\\u003e \\u0026 tab\\tend\\n","stream":"stdout","time":"[^"]+"\}$`)
	if first, _, _ := strings.Cut(string(b), "\n"); !re.MatchString(first) {
		t.Errorf("first entry %s", first)
	}
	r := h.Run(0, "logs", "j")
	if r.Stdout != "quote \" back \\ <tag> & tab\tend\n" || r.Stderr != "err\n" {
		t.Errorf("logs: %q %q", r.Stdout, r.Stderr)
	}
}

func TestLogsK8sFile(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "k", "--log-driver", "k8s-file", "cove-test/busybox", "sh", "-c", "echo one two; echo err >&2; printf end")
	monWaitDone(t, h, "k")
	b, err := os.ReadFile(filepath.Join(monContainerDir(h, id), "container.log"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$`)
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("k8s-file line %q", l)
		}
		got = append(got, m[1]+" "+m[2]+" "+m[3])
	}
	want := map[string]bool{"stdout F one two": true, "stderr F err": true, "stdout P end": true}
	if len(got) != 3 || !want[got[0]] || !want[got[1]] || !want[got[2]] {
		t.Errorf("entries %q", got)
	}
	r := h.Run(0, "logs", "k")
	if r.Stdout != "one two\nend" || r.Stderr != "err\n" {
		t.Errorf("logs: %q %q", r.Stdout, r.Stderr)
	}
	// The foreground writer writes the same format.
	h.Run(0, "run", "--name", "kf", "--log-driver", "k8s-file", "cove-test/busybox", "echo", "fg")
	if r := h.Run(0, "logs", "kf"); r.Stdout != "fg\n" {
		t.Errorf("foreground k8s-file: %q", r.Stdout)
	}
}

func TestLogsNone(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "silent", "--log-driver", "none", "cove-test/busybox", "sh", "-c", "echo lost; sleep 0.2")
	monWaitDone(t, h, "silent")
	r := h.Run(125, "logs", "silent")
	if !strings.Contains(r.Stderr, "logs are not available with the none log driver") {
		t.Errorf("logs of none: %q", r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(monContainerDir(h, id), "container.log")); !os.IsNotExist(err) {
		t.Errorf("none wrote a log: %v", err)
	}
	// Foreground output still reaches the terminal.
	r = h.Run(0, "run", "--rm", "--log-driver", "none", "cove-test/busybox", "echo", "shown")
	if r.Stdout != "shown\n" {
		t.Errorf("foreground with none: %q", r.Stdout)
	}
}

func TestLogsRotation(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "cove-test/busybox", "sh", "-c",
		"i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done")
	monWaitDone(t, h, "rot")
	files, _ := filepath.Glob(filepath.Join(monContainerDir(h, id), "container.log*"))
	if len(files) != 2 {
		t.Errorf("log files %v, want container.log and container.log.1", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 1000 {
			t.Errorf("%s: %v bytes (max-size=1k is 1000)", f, fi.Size())
		}
	}
	r := h.Run(0, "logs", "rot")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if lines[len(lines)-1] != "line 299" || len(lines) < 10 || len(lines) >= 300 {
		t.Errorf("after rotation logs has %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for i := 1; i < len(lines); i++ {
		a, _ := strconv.Atoi(strings.TrimPrefix(lines[i-1], "line "))
		b, _ := strconv.Atoi(strings.TrimPrefix(lines[i], "line "))
		if b != a+1 {
			t.Fatalf("lines out of order or missing: %q then %q", lines[i-1], lines[i])
		}
	}
	if r := h.Run(0, "logs", "--tail", "1", "rot"); r.Stdout != "line 299\n" {
		t.Errorf("--tail 1: %q", r.Stdout)
	}
}

func TestLogsBadOptions(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	for _, args := range [][]string{
		{"--log-driver", "syslog"},
		{"--log-opt", "max-file=3"},
		{"--log-opt", "max-size=0"},
		{"--log-opt", "compress=true"},
		{"--log-opt", "max-size"},
		{"--log-driver", "none", "--log-opt", "max-size=1m"},
	} {
		r := h.Run(125, append(append([]string{"run", "-d"}, args...), "cove-test/busybox", "true")...)
		if r.Stdout != "" || !strings.Contains(r.Stderr, "--log-") {
			t.Errorf("%v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
		}
	}
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("bad log options created containers: %q", r.Stdout)
	}
}
