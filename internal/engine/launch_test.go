package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
)

func TestShouldRestart(t *testing.T) {
	p := func(s string) spec.RestartPolicy {
		r, err := spec.ParseRestart(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		policy  string
		code    int
		count   int
		stopped bool
		want    bool
	}{
		{"no", 1, 0, false, false},
		{"", 1, 0, false, false},
		{"always", 0, 5, false, true},
		{"always", 1, 0, true, false},
		{"unless-stopped", 0, 0, false, true},
		{"unless-stopped", 0, 0, true, false},
		{"on-failure", 0, 0, false, false},
		{"on-failure", 1, 100, false, true},
		{"on-failure:2", 1, 1, false, true},
		{"on-failure:2", 1, 2, false, false},
		{"on-failure:2", 137, 0, false, true},
	}
	for _, c := range cases {
		s := &state.State{RestartCount: c.count, StoppedByUser: c.stopped}
		if got := shouldRestart(p(c.policy), c.code, s); got != c.want {
			t.Errorf("%+v: %v", c, got)
		}
	}
}

func TestNextBackoff(t *testing.T) {
	d := time.Duration(0)
	var seq []time.Duration
	for i := 0; i < 12; i++ {
		d = nextBackoff(d, time.Second)
		seq = append(seq, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i := range want {
		if seq[i] != want[i]*time.Millisecond {
			t.Fatalf("back-off sequence %v", seq)
		}
	}
	if got := nextBackoff(time.Minute, 10*time.Second); got != 100*time.Millisecond {
		t.Errorf("after a 10 s run: %v", got)
	}
}

func TestExitFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok := ReadExitFile(dir, 1); ok {
		t.Error("no file, yet ok")
	}
	os.WriteFile(filepath.Join(dir, exitFileName), []byte("1234 signaled 9 1714557600.000000042\n"), 0o600)
	code, at, ok := ReadExitFile(dir, 1234)
	if !ok || code != 137 || !at.Equal(time.Unix(1714557600, 42)) {
		t.Errorf("signaled: %d %v %v", code, at, ok)
	}
	if _, _, ok := ReadExitFile(dir, 99); ok {
		t.Error("another PID's exit accepted")
	}
	os.WriteFile(filepath.Join(dir, exitFileName), []byte("1234 exited 3 1714557600.5\n"), 0o600)
	if code, _, ok := ReadExitFile(dir, 1234); !ok || code != 3 {
		t.Errorf("exited: %d %v", code, ok)
	}
	os.WriteFile(filepath.Join(dir, exitFileName), []byte("garbage"), 0o600)
	if _, _, ok := ReadExitFile(dir, 1234); ok {
		t.Error("garbage accepted")
	}
}

func TestServeRelay(t *testing.T) {
	dir := t.TempDir()
	rd := filepath.Join(dir, relayDirName)
	os.Mkdir(rd, 0o700)
	for _, n := range []string{"15-1-aa", "10-2-bb", ".tmp-x", "99-3-cc", "x-4"} {
		os.WriteFile(filepath.Join(rd, n), nil, 0o600)
	}
	os.WriteFile(filepath.Join(dir, "relay.sig"), []byte("2"), 0o600)
	var got []int
	serveRelay(dir, func(s syscall.Signal) error { got = append(got, int(s)); return nil })
	if len(got) != 3 || got[0] != 2 {
		t.Errorf("delivered %v, want [2 10 15] in some order after 2", got)
	}
	left, _ := os.ReadDir(rd)
	if len(left) != 2 { // .tmp-x and x-4 are not requests
		t.Errorf("left %v", left)
	}
}

func TestMonitorAlive(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 5; true", "x", "abc")
	cmd.Args[0] = MonitorRole
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	// Right after Start the child may not have called execve yet, and
	// until it has, its cmdline is the test binary's: poll for the exec.
	alive := false
	for deadline := time.Now().Add(5 * time.Second); !alive && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		alive = MonitorAlive(pid, "abc")
	}
	if !alive {
		t.Error("a cove-monitor of abc is not alive")
	}
	if MonitorAlive(pid, "abd") || MonitorAlive(os.Getpid(), "abc") || MonitorAlive(0, "abc") {
		t.Error("false positive")
	}
}
