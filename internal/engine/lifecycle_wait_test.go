package engine

import (
	"context"
	"os/exec"
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
