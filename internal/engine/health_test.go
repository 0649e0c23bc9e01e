package engine

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
)

// TestHealthStateMachine walks Docker's healthcheck status transitions:
// starting -> healthy on a success, failures counted outside the start
// period, unhealthy at Retries, a success resetting the streak, the log
// capped at 5, stop -> unhealthy, start -> starting with the log kept.
func TestHealthStateMachine(t *testing.T) {
	hc := &spec.Healthcheck{Test: []string{"CMD-SHELL", "x"}, Retries: 2, StartPeriod: 10 * time.Second}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	probe := func(h *state.Health, at time.Duration, code int) {
		t.Helper()
		applyHealthResult(h, hc, start, state.HealthLog{Start: start.Add(at), End: start.Add(at + time.Millisecond), ExitCode: code, Output: strconv.Itoa(int(at / time.Second))})
	}
	rec := &containerRecord{}
	rec.Parsed.Healthcheck = hc
	h := healthOnStart(nil, rec)
	if h == nil || h.Status != HealthStarting || h.FailingStreak != 0 || h.Log == nil {
		t.Fatalf("on start: %+v", h)
	}
	// Failures within the start period do not count while starting.
	probe(h, 1*time.Second, 1)
	probe(h, 2*time.Second, 1)
	probe(h, 3*time.Second, 1)
	if h.Status != HealthStarting || h.FailingStreak != 0 {
		t.Fatalf("failures in the start period: %+v", h)
	}
	// After it they do, and Retries of them make it unhealthy.
	probe(h, 11*time.Second, 1)
	if h.Status != HealthStarting || h.FailingStreak != 1 {
		t.Fatalf("first counted failure: status %s streak %d", h.Status, h.FailingStreak)
	}
	probe(h, 12*time.Second, -1) // a timeout is a failure too
	if h.Status != HealthUnhealthy || h.FailingStreak != 2 {
		t.Fatalf("at Retries failures: status %s streak %d", h.Status, h.FailingStreak)
	}
	if len(h.Log) != 5 || h.Log[0].Output != "1" || h.Log[4].Output != "12" {
		t.Fatalf("log after 5 probes: %+v", h.Log)
	}
	probe(h, 13*time.Second, 0)
	if h.Status != HealthHealthy || h.FailingStreak != 0 {
		t.Fatalf("after a success: status %s streak %d", h.Status, h.FailingStreak)
	}
	if len(h.Log) != 5 || h.Log[0].Output != "2" || h.Log[4].Output != "13" {
		t.Fatalf("log keeps the last 5: %+v", h.Log)
	}
	// A healthy container stays healthy until Retries failures.
	probe(h, 14*time.Second, 3)
	if h.Status != HealthHealthy || h.FailingStreak != 1 {
		t.Fatalf("one failure when healthy: status %s streak %d", h.Status, h.FailingStreak)
	}
	// Even within the start period, a success makes it healthy.
	h2 := healthOnStart(nil, rec)
	probe(h2, time.Second, 0)
	if h2.Status != HealthHealthy {
		t.Fatalf("success in the start period: %+v", h2)
	}

	s := &state.State{Health: h}
	healthOnExit(s)
	if s.Health.Status != HealthUnhealthy {
		t.Fatalf("stopped: %s", s.Health.Status)
	}
	again := healthOnStart(s.Health, rec)
	if again.Status != HealthStarting || again.FailingStreak != 0 || len(again.Log) != 5 {
		t.Fatalf("restarted: %+v", again)
	}
	healthOnExit(&state.State{}) // no healthcheck: nothing to do, no panic

	for _, none := range []*spec.Healthcheck{nil, {Test: []string{"NONE"}}, {Interval: time.Second}} {
		r := &containerRecord{}
		r.Parsed.Healthcheck = none
		if got := healthOnStart(&state.Health{Status: HealthHealthy}, r); got != nil {
			t.Fatalf("%+v: health on start %+v, want none", none, got)
		}
	}
}

func TestNextProbeDelay(t *testing.T) {
	hc := &spec.Healthcheck{Test: []string{"CMD", "x"}, Interval: time.Minute, StartPeriod: 30 * time.Second, StartInterval: 2 * time.Second}
	if d := nextProbeDelay(hc, HealthStarting, 10*time.Second); d != 2*time.Second {
		t.Fatalf("starting in the start period: %v", d)
	}
	if d := nextProbeDelay(hc, HealthStarting, 40*time.Second); d != time.Minute {
		t.Fatalf("starting after the start period: %v", d)
	}
	if d := nextProbeDelay(hc, HealthHealthy, time.Second); d != time.Minute {
		t.Fatalf("healthy in the start period: %v", d)
	}
	if d := nextProbeDelay(&spec.Healthcheck{Test: []string{"CMD", "x"}}, HealthStarting, 0); d != 30*time.Second {
		t.Fatalf("defaults: %v", d)
	}
}

func TestHealthScheduleArgs(t *testing.T) {
	if a := healthSchedule(nil); a != nil {
		t.Fatalf("no healthcheck: %q", a)
	}
	a := strings.Join(healthSchedule(&spec.Healthcheck{Test: []string{"CMD", "x"}, Interval: 1500 * time.Millisecond}), " ")
	want := "--health-interval 1500 --health-timeout 30000 --health-start-period 0 --health-start-interval 5000"
	if a != want {
		t.Fatalf("got %q, want %q", a, want)
	}
}

func TestOutputBufferCaps(t *testing.T) {
	var b outputBuffer
	chunk := strings.Repeat("x", 3000)
	for i := 0; i < 3; i++ {
		if n, err := b.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("write: %d %v", n, err)
		}
	}
	if len(b.String()) != healthOutputMax {
		t.Fatalf("kept %d bytes, want %d", len(b.String()), healthOutputMax)
	}
}
