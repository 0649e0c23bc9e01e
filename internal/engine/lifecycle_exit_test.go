package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/state"
)

// TestTakeExitFromFileCases: stop records the exit its monitor wrote for a
// run whose process is gone, keeping the MonitorPid the launcher
// recognises as its own; without the file, or while the process lives,
// nothing is recorded.
func TestTakeExitFromFileCases(t *testing.T) {
	stores, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	for i, tt := range []struct {
		pid      int
		exitFile string
		want     bool
	}{
		{dead, "", false},
		{dead, strconv.Itoa(dead) + " exited 3 1700000000.5", true},
		{dead, strconv.Itoa(dead) + " signaled 9 1700000000", true},
		{dead, strconv.Itoa(dead+1) + " exited 3 1700000000", false}, // another run's
		{os.Getpid(), strconv.Itoa(os.Getpid()) + " exited 3 1700000000", false},
	} {
		id := newContainerID()
		c := &state.Container{ID: id, Name: "c" + strconv.Itoa(i), Created: time.Now(), Config: []byte("{}"),
			State: state.State{Status: state.Running, Pid: tt.pid, PidStart: pidStartTime(tt.pid), MonitorPid: 4242}}
		if err := stores.Create(c); err != nil {
			t.Fatal(err)
		}
		if tt.exitFile != "" {
			if err := os.WriteFile(filepath.Join(stores.Dir(id), exitFileName), []byte(tt.exitFile), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got := takeExitFromFile(stores, id); got != tt.want {
			t.Errorf("case %d: recorded %v, want %v", i, got, tt.want)
		}
		after, err := stores.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tt.want && (after.State.Status != state.Exited || after.State.Pid != 0 || after.State.MonitorPid != 4242 || after.State.ExitCode == 0):
			t.Errorf("case %d: state after the record: %+v", i, after.State)
		case !tt.want && after.State.Status != state.Running:
			t.Errorf("case %d: state changed without a record: %+v", i, after.State)
		}
	}
}
