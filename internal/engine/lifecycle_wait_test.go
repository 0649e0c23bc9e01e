package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/state"
)

// TestWaitPidfd: stop returns as soon as the container's process exits,
// not at the next tick of a poll, and gives up at the timeout.
func TestWaitPidfd(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Wait()
	s := &state.State{Pid: cmd.Process.Pid, PidStart: pidStartTime(cmd.Process.Pid)}
	if s.PidStart == 0 {
		t.Fatal("no start time for a live child")
	}
	if waitPidfd(context.Background(), s, 50*time.Millisecond) {
		t.Fatal("a live process reported gone before the timeout")
	}
	begin := time.Now()
	if !waitPidfd(context.Background(), s, 5*time.Second) {
		t.Fatal("the exit was not seen")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if alive(s) {
		t.Error("alive after the pidfd said it exited")
	}
	// A PID that is not the container's any more: gone at once.
	if !waitPidfd(context.Background(), &state.State{Pid: cmd.Process.Pid, PidStart: s.PidStart + 1}, time.Second) {
		t.Error("a reused PID was waited for")
	}
}

// TestTakeExitFromFile: a stop takes the exit from the monitor's exit file
// once the process is gone, instead of waiting for the launcher; never
// while the process lives, never from a file of another run.
func TestTakeExitFromFile(t *testing.T) {
	stores, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%064x", 7)
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	running := state.State{Status: state.Running, Pid: pid, PidStart: pidStartTime(pid), MonitorPid: 4242}
	if err := stores.Create(&state.Container{ID: id, Name: "x", State: running}); err != nil {
		t.Fatal(err)
	}
	exitFile := filepath.Join(stores.Dir(id), exitFileName)
	write := func(line string) {
		if err := os.WriteFile(exitFile, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("%d signaled 9 1700000000.000000000\n", pid))
	if takeExitFromFile(stores, id) {
		t.Fatal("took an exit while the process is alive")
	}
	cmd.Process.Kill()
	cmd.Wait()
	write(fmt.Sprintf("%d exited 3 1700000000.000000000\n", pid+100000))
	if takeExitFromFile(stores, id) {
		t.Fatal("took the exit of another run's process")
	}
	write(fmt.Sprintf("%d signaled 9 1700000000.000000000\n", pid))
	if !takeExitFromFile(stores, id) {
		t.Fatal("did not take the exit of a gone process")
	}
	c, err := stores.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != state.Exited || c.State.ExitCode != 137 || c.State.Pid != 0 {
		t.Fatalf("state %s exit %d pid %d, want exited 137 pid 0", c.State.Status, c.State.ExitCode, c.State.Pid)
	}
	// The launcher recognises the exit as its own by the monitor's PID.
	if c.State.MonitorPid != 4242 {
		t.Errorf("MonitorPid = %d, want the monitor's 4242 kept", c.State.MonitorPid)
	}
	if takeExitFromFile(stores, id) {
		t.Error("took the exit twice")
	}
}

// TestMonitorWillRecordForeground: a live supervisor that is not a
// cove-monitor (the foreground cove run) is recognised by its recorded
// start time, so that its container's exit is not called a disappearance
// before it records it; a recycled PID is not.
func TestMonitorWillRecordForeground(t *testing.T) {
	me := os.Getpid()
	s := &state.State{Status: state.Running, MonitorPid: me, MonitorStart: pidStartTime(me)}
	if !monitorWillRecord(fmt.Sprintf("%064x", 9), s) {
		t.Error("a live foreground supervisor was not recognised")
	}
	s.MonitorStart++
	if monitorWillRecord(fmt.Sprintf("%064x", 9), s) {
		t.Error("a PID with another start time was taken for the supervisor")
	}
}
