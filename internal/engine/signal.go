package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
)

// The signal relay.
//
// Every cove command runs in a user namespace of its own. A container's
// processes live in the namespace of the cove that started them, and one
// that runs as a non-root user of the container (-u 1000) has a
// subordinate ID on the host: a cove command in another namespace has no
// right to signal it. Its monitor, though, runs as the namespace's root,
// which is the invoking user's own host ID, the same as every cove
// command's: that one we may signal. So a command asks the monitor:
//
//  1. create DIR/relay/SIG-PID-NONCE, an empty file whose name is the
//     request (SIG the decimal signal number; PID and NONCE, the
//     requester's PID and random hex, make it unique);
//  2. send RelaySignal (40, SIGRTMIN+6) to the monitor;
//  3. wait for the file to disappear: the monitor unlinks it after
//     kill(2) of the container's first process. It unlinks without
//     sending once the container has exited, and removes stale requests
//     before each start, so that a request never reaches a later run.
//
// Every file present is pending, so coalesced or lost wakeups are served
// by the next scan. The monitor of a foreground container is the cove run
// process itself (ServeRelay), of a detached one the C monitor
// (internal/monitor).

// RelaySignal (relay.go) wakes a monitor to serve DIR/relay; it is
// RELAY_SIGNAL in internal/monitor/monitor_linux.c.

const (
	relayDirName = "relay"
	// relayFileName is the single-request form (relay.go's requester):
	// DIR/relay.sig holds the decimal signal number.
	relayFileName = "relay.sig"
)

// How long a requester waits for the monitor's acknowledgement.
var relayTimeout = 5 * time.Second

// SignalContainer sends sig to the container's first process: through its
// monitor when the monitor is alive and the process's parent, otherwise
// directly (which a non-root container process refuses to a cove in
// another user namespace). A container that is not running is an
// ErrInvalidState error.
func (e *Engine) SignalContainer(ref string, sig syscall.Signal) error {
	stores, err := e.States()
	if err != nil {
		return err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return err
	}
	c, err := e.reconciled(id)
	if err != nil {
		return err
	}
	notRunning := fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	if c.State.Status != state.Running && c.State.Status != state.Paused {
		return notRunning
	}
	s := c.State
	if s.MonitorPid > 0 && parentPid(s.Pid) == s.MonitorPid {
		err := relay(stores.Dir(id), &s, sig)
		if err == nil || !errors.Is(err, errMonitorGone) {
			if errors.Is(err, errProcessGone) {
				return notRunning
			}
			return err
		}
	}
	if !alive(&s) {
		return notRunning
	}
	switch err := unix.Kill(s.Pid, sig); {
	case err == nil:
		return nil
	case errors.Is(err, unix.ESRCH):
		return notRunning
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("signalling container %s: permission denied: its process runs as a user of the container, which only its monitor may signal, and its monitor is gone", c.Name)
	default:
		return fmt.Errorf("signalling container %s: %w", c.Name, err)
	}
}

var (
	errMonitorGone = errors.New("the monitor is gone")
	errProcessGone = errors.New("the container's process is gone")
)

// relay asks the monitor of the container in dir to send sig, and waits
// for its acknowledgement.
func relay(dir string, s *state.State, sig syscall.Signal) error {
	rd := filepath.Join(dir, relayDirName)
	if err := os.MkdirAll(rd, 0o700); err != nil {
		return err
	}
	var nonce [6]byte
	rand.Read(nonce[:])
	req := filepath.Join(rd, fmt.Sprintf("%d-%d-%s", int(sig), os.Getpid(), hex.EncodeToString(nonce[:])))
	f, err := os.OpenFile(req, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if err := unix.Kill(s.MonitorPid, RelaySignal); err != nil {
		os.Remove(req)
		if errors.Is(err, unix.ESRCH) {
			return errMonitorGone
		}
		return fmt.Errorf("waking the container's monitor (PID %d): %w", s.MonitorPid, err)
	}
	deadline := time.Now().Add(relayTimeout)
	pause := 500 * time.Microsecond
	for {
		if _, err := os.Lstat(req); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		gone := !alive(s)
		if gone || time.Now().After(deadline) {
			// Withdraw the request; if it is already gone, the monitor
			// took it after all.
			if err := os.Remove(req); err != nil && errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if gone {
				return errProcessGone
			}
			return fmt.Errorf("the container's monitor (PID %d) did not take the signal within %s", s.MonitorPid, relayTimeout)
		}
		time.Sleep(pause)
		pause = min(pause*2, 20*time.Millisecond)
	}
}

// ServeRelay serves the relay requests of container id with send: the
// foreground `cove run` process calls it when it receives RelaySignal,
// being that container's monitor.
func (e *Engine) ServeRelay(id string, send func(syscall.Signal) error) {
	stores, err := e.States()
	if err != nil {
		return
	}
	serveRelay(stores.Dir(id), send)
}

// serveRelay is monitor_linux.c's relay_requests in Go.
func serveRelay(dir string, send func(syscall.Signal) error) {
	// The single-request form (relay.go): DIR/relay.sig, claimed by a
	// rename so that one renamed into place meanwhile is not lost.
	taken := filepath.Join(dir, ".relay.sig.taken")
	if os.Rename(filepath.Join(dir, relayFileName), taken) == nil {
		b, _ := os.ReadFile(taken)
		os.Remove(taken)
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 1 && n <= 64 && send != nil {
			send(syscall.Signal(n))
		}
	}
	rd := filepath.Join(dir, relayDirName)
	for pass := 0; pass < 8; pass++ {
		ents, err := os.ReadDir(rd)
		if err != nil {
			return
		}
		served := 0
		for _, ent := range ents {
			name := ent.Name()
			num, _, ok := strings.Cut(name, "-")
			if !ok || name[0] < '0' || name[0] > '9' {
				continue
			}
			if n, err := strconv.Atoi(num); err == nil && n >= 1 && n <= 64 && send != nil {
				send(syscall.Signal(n))
			}
			os.Remove(filepath.Join(rd, name))
			served++
		}
		if served == 0 {
			return
		}
	}
}

// RecordMonitor records pid as the monitor of running container id (the
// foreground `cove run` process), and clears old relay requests.
func (e *Engine) RecordMonitor(id string, pid int) error {
	stores, err := e.States()
	if err != nil {
		return err
	}
	rd := filepath.Join(stores.Dir(id), relayDirName)
	os.RemoveAll(rd)
	os.Mkdir(rd, 0o700)
	os.Remove(filepath.Join(stores.Dir(id), relayFileName))
	return stores.SetState(id, func(s *state.State) error {
		if s.Status == state.Running {
			s.MonitorPid = pid
			s.MonitorStart = pidStartTime(pid)
		}
		return nil
	})
}

// parentPid returns pid's parent from /proc/PID/status, 0 if unknown.
func parentPid(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
