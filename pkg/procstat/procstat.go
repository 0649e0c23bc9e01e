// Package procstat reads the fields of /proc/PID/stat that cove uses to
// recognise a process it recorded earlier: its start time (which tells it
// from a process that reused the PID), its parent and whether it is a
// zombie.
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// Stat is a process's /proc/PID/stat, the fields cove needs.
type Stat struct {
	State     byte   // R, S, D, Z, X, ...
	PPid      int    // field 4
	StartTime uint64 // field 22, clock ticks since boot
}

// Read reads /proc/PID/stat; ok is false if there is no such process.
func Read(pid int) (Stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	// The command name (field 2) may contain spaces and parentheses:
	// count fields after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Stat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, false
	}
	st := Stat{State: f[0][0]}
	st.PPid, _ = strconv.Atoi(f[1])
	st.StartTime, _ = strconv.ParseUint(f[19], 10, 64)
	return st, true
}

// StartTime is the process's start time, 0 if it does not exist.
func StartTime(pid int) uint64 {
	st, _ := Read(pid)
	return st.StartTime
}

// IsZombie reports whether the process has exited and waits to be reaped.
func (s Stat) IsZombie() bool { return s.State == 'Z' || s.State == 'X' }

// NamedOwnerGone reports whether a name of the form PREFIX-PID-... (a
// temporary directory a process named after itself) belongs to a process
// that no longer exists, so that what it left may be removed. A name of
// another form, or of a live process, is not gone. Every cove process
// sees the host's PIDs.
func NamedOwnerGone(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return false
	}
	pidStr, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	_, err = os.Stat("/proc/" + strconv.Itoa(pid))
	return os.IsNotExist(err)
}
