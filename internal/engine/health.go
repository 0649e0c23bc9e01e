package engine

// Healthchecks without a daemon and without systemd.
//
// Who runs the probes:
//
//	detached container   its C monitor keeps the schedule (interval, start
//	                     period, start interval) and, when a probe is due,
//	                     forks and executes this binary as "cove-health ID
//	                     PID" (HealthMain): a short-lived Go process that runs
//	                     the probe through the exec path (cove-exec joins the
//	                     container), enforces the timeout, records the result
//	                     and exits with the new status, from which the monitor
//	                     picks the next delay. The monitor stays small (no Go
//	                     runtime in it); the Go cost is paid per probe, as
//	                     Podman pays a whole `podman healthcheck run` per
//	                     systemd timer tick.
//	foreground `cove run` the CLI is the supervisor: Running.RunHealthchecks,
//	                     a goroutine with the same schedule and probe.
//	`cove healthcheck run` one probe now, on the host side like exec.
//
// Where results go: the container's state.json, under the container's
// lock, by read-modify-write (state.Store.SetState), like every other state
// change, so a probe never overwrites a concurrent stop or exit record. A
// result is recorded only while the container is still the run that was
// probed (same Pid, still running); a probe that loses that race is dropped.
//
// Docker's semantics: status "starting" until the first success
// ("healthy"); a failure increments FailingStreak (not during the start
// period while still starting), and at Retries consecutive failures the
// status is "unhealthy"; a success resets the streak. Log keeps the last 5
// probes, each with at most 4096 bytes of output; a probe that exceeds the
// timeout is a failure with exit code -1. When the container stops the
// status becomes "unhealthy" (Docker does so "for compatibility"); a start
// resets it to "starting" with a zero streak, keeping the log.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cove-run/cove/internal/config"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/image"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
)

// HealthRole is argv[0] of the per-probe helper the monitor starts.
const HealthRole = "cove-health"

// Health statuses, Docker's words.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	// HealthNone is ps --filter health=none: no healthcheck.
	HealthNone = "none"
)

const (
	// healthLogMax is how many probe results Log keeps (Docker's 5).
	healthLogMax = 5
	// healthOutputMax bounds a probe's recorded output (Docker's 4096).
	healthOutputMax = 4096
)

// Exit codes of the helper, read by the monitor (monitor_linux.c,
// health_done): the status after the probe, or "nothing recorded".
const (
	healthExitHealthy   = 0
	healthExitUnhealthy = 1
	healthExitStarting  = 2
	healthExitSkipped   = 3
)

// HealthOptions are the --health-* flags and --no-healthcheck as typed,
// kept raw in the container's record (spec.ParseHealthOptions parses them).
type HealthOptions struct {
	Cmd           string `json:"Cmd,omitempty"`
	Interval      string `json:"Interval,omitempty"`
	Timeout       string `json:"Timeout,omitempty"`
	StartPeriod   string `json:"StartPeriod,omitempty"`
	StartInterval string `json:"StartInterval,omitempty"`
	Retries       int    `json:"Retries,omitempty"`
	None          bool   `json:"None,omitempty"`
}

// mergeImageHealthcheck applies Docker's merge of the flags' healthcheck
// with the image's HEALTHCHECK at create. An image's healthcheck is input
// too: a malformed one is refused by name.
func mergeImageHealthcheck(ctr *spec.Healthcheck, img *image.HealthConfig) (*spec.Healthcheck, error) {
	var ih *spec.Healthcheck
	if img != nil {
		ih = &spec.Healthcheck{Test: img.Test, Interval: img.Interval, Timeout: img.Timeout, StartPeriod: img.StartPeriod, Retries: img.Retries}
		if err := spec.ValidateHealthcheck(ih, "the image's"); err != nil {
			return nil, err
		}
	}
	// Timing flags without --health-cmd on an image without a
	// HEALTHCHECK leave an empty test: recorded, nothing runs (Docker).
	return spec.MergeHealthcheck(ctr, ih), nil
}

// healthOnStart is the Health of a container that starts: "starting" with
// no failures, the previous runs' log kept (Docker's behaviour); nil
// without a healthcheck.
func healthOnStart(prev *state.Health, rec *containerRecord) *state.Health {
	if !rec.Parsed.Healthcheck.Enabled() {
		return nil
	}
	h := &state.Health{Status: HealthStarting, Log: []state.HealthLog{}}
	if prev != nil && prev.Log != nil {
		h.Log = prev.Log
	}
	return h
}

// healthOnExit marks a stopped container's health unhealthy, as Docker
// does when it stops probing.
func healthOnExit(s *state.State) {
	if s.Health != nil {
		s.Health.Status = HealthUnhealthy
	}
}

// applyHealthResult is Docker's handling of one probe result: the log, the
// failing streak and the status. startedAt is the container's start, for
// the start period.
func applyHealthResult(h *state.Health, hc *spec.Healthcheck, startedAt time.Time, r state.HealthLog) {
	_, _, startPeriod, _, retries := hc.Effective()
	h.Log = append(h.Log, r)
	if len(h.Log) > healthLogMax {
		h.Log = append([]state.HealthLog(nil), h.Log[len(h.Log)-healthLogMax:]...)
	}
	if r.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = HealthHealthy
		return
	}
	if h.Status == HealthStarting && r.Start.Sub(startedAt) < startPeriod {
		// Failures while the application starts up do not count.
		return
	}
	h.FailingStreak++
	if h.FailingStreak >= retries {
		h.Status = HealthUnhealthy
	}
}

// outputBuffer keeps the first healthOutputMax bytes written to it, from
// both of the probe's streams (two copying goroutines), and discards the
// rest so that the probe never blocks on a full pipe.
type outputBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := healthOutputMax - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// errProbeSkipped means the probe was not run or not recorded: the
// container is not running (or paused, or another run of it), or has no
// healthcheck.
var errProbeSkipped = fmt.Errorf("no healthcheck result recorded: %w", errdefs.ErrInvalidState)

// probe runs the healthcheck command once in the running container id and
// returns its result. An error means no probe ran (the container is not
// running or is paused); a command that cannot be started is a failed
// probe (exit code -1 and the reason, as Docker records it).
func (e *Engine) probe(ctx context.Context, id string, hc *spec.Healthcheck) (state.HealthLog, error) {
	args, err := hc.Args()
	if err != nil {
		return state.HealthLog{}, err
	}
	_, timeout, _, _, _ := hc.Effective()
	var out outputBuffer
	r := state.HealthLog{Start: time.Now().UTC()}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := e.Exec(tctx, id, ExecOptions{Cmd: args}, ExecIO{Stdout: &out, Stderr: &out})
	if err != nil {
		r.End = time.Now().UTC()
		switch {
		case errors.Is(err, errdefs.ErrInvalidState) || errors.Is(err, errdefs.ErrNotFound):
			return r, err
		case tctx.Err() != nil && ctx.Err() == nil:
			r.ExitCode, r.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		default:
			r.ExitCode, r.Output = -1, err.Error()
		}
		return r, nil
	}
	done := make(chan struct{})
	var code int
	go func() {
		code, _ = p.Wait()
		close(done)
	}()
	select {
	case <-done:
		r.ExitCode, r.Output = code, out.String()
	case <-tctx.Done():
		killProbe(p.Pid())
		p.Signal(syscall.SIGKILL)
		<-done
		r.ExitCode, r.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
	}
	r.End = time.Now().UTC()
	return r, nil
}

// killProbe kills the command of a timed-out probe: the children of the
// joining process (its waiter relays catchable signals only, and a probe
// may ignore SIGTERM). From the monitor's helper or a foreground run we are
// root of the container's user namespace and may; from the host side the
// kill may be refused for a non-root command, which then dies with the
// waiter's SIGKILL only if it reads a closed pipe. Best effort by design:
// the timeout is what counts, and is recorded either way.
func killProbe(waiter int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(waiter) + "/task/" + strconv.Itoa(waiter) + "/children")
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// healthcheckOnce probes container id if it is running as process pid (0:
// whatever run is current) and records the result; it returns the health
// after the probe. errProbeSkipped (wrapped) when nothing was recorded.
func (e *Engine) healthcheckOnce(ctx context.Context, id string, pid int) (*state.Health, error) {
	stores, c, rec, err := e.recordByID(id)
	if err != nil {
		return nil, err
	}
	hc := rec.Parsed.Healthcheck
	if !hc.Enabled() {
		return nil, fmt.Errorf("container %s has no healthcheck: %w", c.Name, errProbeSkipped)
	}
	if pid == 0 {
		pid = c.State.Pid
	}
	if c.State.Status != state.Running || c.State.Pid != pid {
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, errProbeSkipped)
	}
	r, err := e.probe(ctx, id, hc)
	if err != nil {
		return nil, err
	}
	var after *state.Health
	err = stores.SetState(id, func(s *state.State) error {
		if s.Status != state.Running || s.Pid != pid {
			return errProbeSkipped
		}
		if s.Health == nil {
			s.Health = &state.Health{Status: HealthStarting, Log: []state.HealthLog{}}
		}
		applyHealthResult(s.Health, hc, s.StartedAt, r)
		h := *s.Health
		after = &h
		return nil
	})
	if err != nil {
		if errors.Is(err, errProbeSkipped) {
			return nil, fmt.Errorf("container %s stopped during its healthcheck: %w", c.Name, errProbeSkipped)
		}
		return nil, err
	}
	return after, nil
}

// recordByID reads container id (a full ID) as it is recorded.
func (e *Engine) recordByID(id string) (*state.Store, *state.Container, *containerRecord, error) {
	stores, err := e.States()
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := stores.Get(id)
	if err != nil {
		return nil, nil, nil, err
	}
	rec, err := readRecord(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return stores, c, rec, nil
}

// RunHealthcheck runs a container's healthcheck once now (`cove
// healthcheck run`), records it as a scheduled probe would, and returns
// the status after it. Errors: ErrNotFound, ErrInvalidState for a
// container that is not running, InvalidArgument for one without a
// healthcheck.
func (e *Engine) RunHealthcheck(ctx context.Context, ref string) (string, error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return "", err
	}
	if !rec.Parsed.Healthcheck.Enabled() {
		return "", errdefs.InvalidArgument("container %s has no healthcheck", c.Name)
	}
	switch c.State.Status {
	case state.Running:
	case state.Paused:
		return "", fmt.Errorf("container %s is paused, unpause it before a healthcheck: %w", c.Name, errdefs.ErrInvalidState)
	default:
		return "", fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	}
	h, err := e.healthcheckOnce(ctx, c.ID, c.State.Pid)
	if err != nil {
		return "", err
	}
	return h.Status, nil
}

// healthSchedule is the monitor's part of a healthcheck: when to probe.
// The timeout is there for the monitor to kill a helper that outlives it.
func healthSchedule(hc *spec.Healthcheck) []string {
	if !hc.Enabled() {
		return nil
	}
	interval, timeout, startPeriod, startInterval, _ := hc.Effective()
	ms := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Millisecond), 10) }
	return []string{
		"--health-interval", ms(interval),
		"--health-timeout", ms(timeout),
		"--health-start-period", ms(startPeriod),
		"--health-start-interval", ms(startInterval),
	}
}

// nextProbeDelay is Docker's choice of the wait before the next probe:
// the start interval while the container is still starting within its
// start period, the interval otherwise. monitor_linux.c does the same.
func nextProbeDelay(hc *spec.Healthcheck, status string, sinceStart time.Duration) time.Duration {
	interval, _, startPeriod, startInterval, _ := hc.Effective()
	if status == HealthStarting && sinceStart < startPeriod {
		return startInterval
	}
	return interval
}

// RunHealthchecks probes a foreground container on its schedule until ctx
// is cancelled (the container exited); the CLI runs it in a goroutine.
func (r *Running) RunHealthchecks(ctx context.Context) {
	hc := r.health
	if !hc.Enabled() {
		return
	}
	pid := r.Pid()
	started := time.Now()
	status := HealthStarting
	for {
		t := time.NewTimer(nextProbeDelay(hc, status, time.Since(started)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if h, err := r.e.healthcheckOnce(ctx, r.ID, pid); err == nil {
			status = h.Status
		}
	}
}

// HealthMain is the entry point of the helper role: "cove-health ID PID",
// started by the container's monitor with the launcher's environment. It
// exits with the status after the probe (see healthExit*).
func HealthMain() int {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cove-health ID PID (started by a container's monitor)")
		return errdefs.ExitCove
	}
	id := os.Args[1]
	pid, err := strconv.Atoi(os.Args[2])
	if err != nil || pid <= 0 {
		return errdefs.ExitCove
	}
	var cfg config.Config
	if err := json.Unmarshal([]byte(os.Getenv(envLaunchConfig)), &cfg); err != nil {
		return errdefs.ExitCove
	}
	os.Chdir("/")
	h, err := New(&cfg).healthcheckOnce(context.Background(), id, pid)
	if err != nil {
		return healthExitSkipped
	}
	switch h.Status {
	case HealthHealthy:
		return healthExitHealthy
	case HealthUnhealthy:
		return healthExitUnhealthy
	}
	return healthExitStarting
}
