package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cove-run/cove/internal/state"
)

// The exit file: the monitor writes DIR/exit as soon as the container's
// first process has been reaped, before it execs the Go launcher that
// records the exit in the state (and removes the file). If that launcher
// never runs (the execve failed, it crashed, the machine went down), the
// next cove command that finds the process gone takes the exit from the
// file instead of guessing. One line:
//
//	PID exited CODE SEC.NSEC     the process exited with CODE
//	PID signaled SIG SEC.NSEC    a signal killed it (exit code 128+SIG)
//
// SEC.NSEC is when it was reaped (Unix time). PID ties the file to one run:
// a file for another PID is stale and ignored.
const exitFileName = "exit"

type exitRecord struct {
	pid      int
	code     int
	finished time.Time
}

func readExitFile(dir string) (exitRecord, bool) {
	b, err := os.ReadFile(filepath.Join(dir, exitFileName))
	if err != nil {
		return exitRecord{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 4 {
		return exitRecord{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || pid <= 0 {
		return exitRecord{}, false
	}
	x := exitRecord{pid: pid, code: n, finished: parseUnixTime(f[3])}
	switch f[1] {
	case "exited":
	case "signaled":
		x.code = 128 + n
	default:
		return exitRecord{}, false
	}
	return x, true
}

// ReadExitFile returns the exit the monitor recorded for the container
// process pid in the container directory dir, if it did.
func ReadExitFile(dir string, pid int) (code int, finished time.Time, ok bool) {
	x, ok := readExitFile(dir)
	if !ok || x.pid != pid {
		return 0, time.Time{}, false
	}
	return x.code, x.finished, true
}

// takeExitFromFile records the exit the monitor wrote to the exit file,
// when the recorded process is gone and the file is its. The monitor
// writes the file once the container's log is complete, then execs the Go
// launcher to record the exit (a Go start: ~10 ms of every stop); a stop
// waiting for the state takes it from the file instead. The launcher then
// records the same exit again (afterExit: an exit already recorded while
// the monitor is still named is its own), applies the restart policy,
// stops the network helper and removes the file. Reports whether the state
// was changed.
func takeExitFromFile(stores *state.Store, id string) bool {
	dir := stores.Dir(id)
	if _, ok := readExitFile(dir); !ok {
		return false
	}
	taken := false
	stores.SetState(id, func(s *state.State) error {
		if (s.Status != state.Running && s.Status != state.Paused) || alive(s) || !exitFromFile(dir, s) {
			return nil
		}
		s.Status = state.Exited
		s.Pid, s.PidStart = 0, 0
		healthOnExit(s)
		taken = true
		return nil
	})
	return taken
}

// MonitorAlive reports whether pid is the launcher or the monitor of
// container id (argv[0] cove-launch or cove-monitor, and the ID on its
// command line); a recycled PID is some other program.
func MonitorAlive(pid int, id string) bool {
	if pid <= 0 || id == "" {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	// Empty while the process is in the middle of an execve (the launcher
	// becoming the monitor and back: the new memory is in place before
	// its argument area is), and for kernel threads: look again, briefly.
	for i := 0; err == nil && len(b) == 0 && i < 50; i++ {
		time.Sleep(time.Millisecond)
		b, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	}
	if err != nil || len(b) == 0 {
		return false
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if args[0] != LaunchRole && args[0] != MonitorRole {
		return false
	}
	for _, a := range args[1:] {
		if a == id {
			return true
		}
	}
	return false
}

// Helpers for reconciled (start.go), which corrects the state of a
// container whose process is gone:
//
//	case (running or paused) and !alive(s):
//		if monitorWillRecord(id, s) { leave it: the monitor is finishing
//			the log and its launcher records the exit in a moment }
//		else if !exitFromFile(dir, s) { exit code 137, "disappeared" }
//	case restarting and !MonitorAlive(s.MonitorPid, id):
//		exited (the launcher waiting out the back-off is gone)

// monitorWillRecord reports whether the container's monitor (or launcher)
// is alive and will record the exit of the process s.Pid itself.
//
// A supervisor that is not (yet) a cove-monitor, the foreground `cove run`
// or `run -d` before its execve, is recognised by its recorded start time:
// between the container's exit (a zombie, so not alive) and its reaping
// and record, a concurrent `wait` or `ps` must not call the exit a
// disappearance (137), as TestLifecycleWaitBlocks once saw.
func monitorWillRecord(id string, s *state.State) bool {
	if MonitorAlive(s.MonitorPid, id) {
		return true
	}
	return s.MonitorPid > 0 && s.MonitorStart != 0 && (s.BootID == "" || s.BootID == bootID()) &&
		pidStartTime(s.MonitorPid) == s.MonitorStart && !isZombie(s.MonitorPid)
}

// exitFromFile fills in the exit of the run s describes from the
// monitor's exit file; false if the monitor did not record it.
func exitFromFile(dir string, s *state.State) bool {
	code, at, ok := ReadExitFile(dir, s.Pid)
	if !ok {
		return false
	}
	s.ExitCode, s.FinishedAt, s.Error = code, at, ""
	return true
}
