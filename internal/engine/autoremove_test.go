package engine

import (
	"os/exec"
	"testing"

	"github.com/cove-run/cove/internal/state"
)

// TestOrphanedAutoRemove: only a --rm container that is not running and
// whose remover is gone (or is another process under a reused PID) is an
// orphan.
func TestOrphanedAutoRemove(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := &state.Process{Pid: cmd.Process.Pid, Start: 1}
	self := selfProcess()
	reused := &state.Process{Pid: self.Pid, Start: self.Start + 1}
	if !processAlive(self) || processAlive(dead) || processAlive(reused) {
		t.Fatalf("processAlive: self %v, dead %v, reused %v", processAlive(self), processAlive(dead), processAlive(reused))
	}
	for _, tt := range []struct {
		status  state.Status
		remover *state.Process
		want    bool
	}{
		{state.Created, nil, false},
		{state.Created, self, false},
		{state.Created, dead, true},
		{state.Created, reused, true},
		{state.Exited, dead, true},
		{state.Removing, dead, true},
		{state.Running, dead, false},
		{state.Paused, dead, false},
		{state.Exited, self, false},
	} {
		c := &state.Container{State: state.State{Status: tt.status, Remover: tt.remover}}
		if got := orphanedAutoRemove(c); got != tt.want {
			t.Errorf("%s with remover %+v: orphan %v, want %v", tt.status, tt.remover, got, tt.want)
		}
	}
}
