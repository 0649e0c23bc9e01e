//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	waitFor(t, 15*time.Second, "output "+want, func() bool { return strings.Contains(out.String(), want) })
}

// waitExit waits for cmd (started) and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, what string) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(err)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s did not end", what)
		return -1
	}
}

// attachPiped starts cove ARGS with its stdin a pipe and its output
// collected.
func attachPiped(t *testing.T, h *Harness, args ...string) (*exec.Cmd, io.WriteCloser, *syncBuffer) {
	t.Helper()
	cmd := h.Cmd(args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, in, out
}

const ctrlP, ctrlQ = "\x10", "\x11"

// TestAttachNonTTY: attach to a detached -i container without a terminal:
// input reaches it, output comes back, the detach keys leave it running
// (exit 0, nothing printed), a second attach sees it exit with its code.
func TestAttachNonTTY(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "-i", "--name", "echoer", "cove-test/busybox", "sh", "-c",
		`while read l; do [ "$l" = quit ] && exit 5; echo got:$l; echo err:$l >&2; done`)
	defer h.Run(0, "rm", "-f", "echoer")

	cmd, in, out := attachPiped(t, h, "attach", "echoer")
	io.WriteString(in, "one\n")
	waitOutput(t, out, "got:one")
	waitOutput(t, out, "err:one")
	io.WriteString(in, "tw"+ctrlP+"o\n") // a broken-off sequence is input
	waitOutput(t, out, "got:tw"+ctrlP+"o")
	io.WriteString(in, ctrlP+ctrlQ)
	if code := waitExit(t, cmd, "attach after the detach keys"); code != 0 {
		t.Fatalf("attach exit %d after detaching, want 0; output %q", code, out.String())
	}
	if strings.Contains(out.String(), "rror") {
		t.Errorf("detach printed %q", out.String())
	}
	if st := monInspect(t, h, "echoer", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after detaching the container is %s", st)
	}
	// The log has what the container printed while attached.
	if logs := h.Run(0, "logs", "echoer"); !strings.Contains(logs.Stdout, "got:one") || !strings.Contains(logs.Stderr, "err:one") {
		t.Errorf("logs: %q %q", logs.Stdout, logs.Stderr)
	}

	// --detach-keys: ctrl-p ctrl-q is input now, ctrl-x,x detaches.
	cmd, in, out = attachPiped(t, h, "attach", "--detach-keys", "ctrl-x,x", "echoer")
	io.WriteString(in, "a"+ctrlP+ctrlQ+"b\n")
	waitOutput(t, out, "got:a"+ctrlP+ctrlQ+"b")
	io.WriteString(in, "\x18x")
	if code := waitExit(t, cmd, "attach --detach-keys"); code != 0 {
		t.Fatalf("attach --detach-keys exit %d", code)
	}

	cmd, in, out = attachPiped(t, h, "attach", "echoer")
	io.WriteString(in, "quit\n")
	if code := waitExit(t, cmd, "attach to an exiting container"); code != 5 {
		t.Fatalf("attach exit %d when the container exits 5; output %q", code, out.String())
	}
	monWaitDone(t, h, "echoer")
}

// TestAttachTTY: attach to a -t container from a terminal: raw mode, the
// terminal's size, the detach keys; start -ai detaches the same way; the
// detach_keys key of cove.toml applies.
func TestAttachTTY(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "-it", "--name", "tty", "cove-test/busybox", "sh")
	defer h.Run(0, "rm", "-f", "tty")

	ttyDetach(t, h, "tty", "attach", "tty")

	// The same container again, then it exits: the attach ends with its
	// code.
	cmd, m, _, out, _ := ttyCove(t, h, "attach", "tty")
	time.Sleep(300 * time.Millisecond)
	m.Write([]byte("exit 6\r"))
	if code := waitExit(t, cmd, "attach -t to an exiting container"); code != 6 {
		t.Fatalf("attach exit %d, want 6; output %q", code, out.String())
	}
	monWaitDone(t, h, "tty")

	// start -ai detaches too, with cove.toml's detach_keys.
	writeCoveToml(t, h, "[engine]\ndetach_keys = \"ctrl-a,d\"\n")
	cmd, m, sl, out, before := ttyCove(t, h, "start", "-ai", "tty")
	time.Sleep(300 * time.Millisecond)
	m.Write([]byte("echo again$((1+1))\r"))
	waitOutput(t, out, "again2")
	m.Write([]byte("\x01d"))
	if code := waitExit(t, cmd, "start -ai after the detach keys"); code != 0 {
		t.Fatalf("start -ai exit %d after detaching; output %q", code, out.String())
	}
	termRestored(t, sl, before)
	if st := monInspect(t, h, "tty", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after detaching start -ai the container is %s", st)
	}
}

// ttyDetach runs cove ARGS (attached to the -t container name) from a
// terminal, checks the container's terminal has the terminal's size and
// works, types the default detach keys, and checks that cove exits 0 with
// the terminal restored while the container runs on.
func ttyDetach(t *testing.T, h *Harness, name string, args ...string) {
	t.Helper()
	cmd, m, sl, out, before := ttyCove(t, h, args...)
	time.Sleep(300 * time.Millisecond)
	m.Write([]byte("stty size; echo mark$((6*7))\r"))
	waitOutput(t, out, "mark42")
	if !strings.Contains(out.String(), "33 101") {
		t.Errorf("%q: the container's terminal did not get the terminal's size: %q", args, out.String())
	}
	m.Write([]byte(ctrlP + ctrlQ))
	if code := waitExit(t, cmd, strings.Join(args, " ")+" after the detach keys"); code != 0 {
		t.Fatalf("%q: exit %d after detaching; output %q", args, code, out.String())
	}
	termRestored(t, sl, before)
	if st := monInspect(t, h, name, "{{.State.Status}}"); st != "running" {
		t.Fatalf("%q: after detaching the container is %s", args, st)
	}
}

// writeCoveToml writes the harness user's cove.toml.
func writeCoveToml(t *testing.T, h *Harness, content string) {
	t.Helper()
	dir := filepath.Join(h.Dir, "config", "cove")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cove.toml"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Chown(dir)
	h.Chown(filepath.Join(dir, "cove.toml"))
}

// TestRunITDetach: `run -it` detaches with the keys as in Docker (the
// container runs under its monitor, this cove attached to it): exit 0,
// the container keeps running and can be attached again; kill -9 of an
// attached run -it leaves it running too; run --rm -it removes it at its
// exit.
func TestRunITDetach(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	defer h.Run(0, "rm", "-f", "it")
	ttyDetach(t, h, "it", "run", "-it", "--name", "it", "cove-test/busybox", "sh")
	cmd, m, _, out, _ := ttyCove(t, h, "attach", "it")
	time.Sleep(300 * time.Millisecond)
	m.Write([]byte("echo back$((2+2))\r"))
	waitOutput(t, out, "back4")
	cmd.Process.Signal(syscall.SIGKILL)
	waitExit(t, cmd, "killed attach")
	time.Sleep(200 * time.Millisecond)
	if st := monInspect(t, h, "it", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after kill -9 of the attached cove the container is %s", st)
	}

	cmd, m, _, out, _ = ttyCove(t, h, "run", "--rm", "-it", "--name", "gone", "cove-test/busybox", "sh")
	time.Sleep(300 * time.Millisecond)
	m.Write([]byte("exit 3\r"))
	if code := waitExit(t, cmd, "run --rm -it"); code != 3 {
		t.Fatalf("run --rm -it exit %d, want 3; output %q", code, out.String())
	}
	if names := psNames(t, h); len(names) != 1 || names[0] != "it" {
		t.Errorf("after run --rm -it: ps -a lists %q", names)
	}
	// A bad --detach-keys creates nothing.
	h.Run(125, "run", "-it", "--detach-keys", "ctrl-", "--name", "never", "cove-test/busybox", "true")
	if names := psNames(t, h); len(names) != 1 {
		t.Errorf("a refused run left %q", names)
	}
}

// TestAttachSigProxy: without a terminal, signals to attach reach the
// container (--sig-proxy, the default); with --sig-proxy=false they end
// only the attach.
func TestAttachSigProxy(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "--name", "sig", "-u", "1000", "cove-test/busybox", "sh", "-c",
		`trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done`)
	defer h.Run(0, "rm", "-f", "sig")

	cmd, _, out := attachPiped(t, h, "attach", "--no-stdin", "--sig-proxy=false", "sig")
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, "attach --sig-proxy=false")
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("attach --sig-proxy=false ended with %v after SIGTERM, want killed by it; output %q", cmd.ProcessState, out.String())
	}
	if st := monInspect(t, h, "sig", "{{.State.Status}}"); st != "running" {
		t.Fatalf("--sig-proxy=false: the container is %s", st)
	}

	cmd, _, out = attachPiped(t, h, "attach", "sig")
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, "attach with sig-proxy"); code != 9 {
		t.Errorf("attach exit %d after a relayed SIGTERM, want the container's 9; output %q", code, out.String())
	}
	if !strings.Contains(out.String(), "got-term") {
		t.Errorf("the container did not report the relayed signal: %q", out.String())
	}
}

// TestAttachErrors: what cannot be attached is refused with 125 and a
// reason; bad detach keys name the value, from the flag or cove.toml.
func TestAttachErrors(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	if r := h.Run(125, "attach", "nosuch"); !strings.Contains(r.Stderr, "nosuch") {
		t.Errorf("attach nosuch: %q", r.Stderr)
	}
	h.Run(0, "create", "--name", "made", "cove-test/busybox", "true")
	if r := h.Run(125, "attach", "made"); !strings.Contains(r.Stderr, "start it first") {
		t.Errorf("attach to a created container: %q", r.Stderr)
	}
	monRunDetached(t, h, "--name", "up", "cove-test/busybox", "sleep", "1000")
	defer h.Run(0, "rm", "-f", "up")
	for _, bad := range []string{"ctrl-", "ctrl-P", "ab", ""} {
		r := h.Run(125, "attach", "--detach-keys", bad, "up")
		if !strings.Contains(r.Stderr, "--detach-keys") {
			t.Errorf("attach --detach-keys %q: %q", bad, r.Stderr)
		}
	}
	h.Run(125, "start", "-a", "--detach-keys", "ctrl-", "made")
	if st := monInspect(t, h, "made", "{{.State.Status}}"); st != "created" {
		t.Errorf("bad detach keys started the container: %s", st)
	}
	// A foreground container belongs to its terminal.
	fg := h.Cmd("run", "--name", "fg", "cove-test/busybox", "sleep", "1000")
	startKillable(t, fg)
	waitFor(t, 15*time.Second, "fg to run", func() bool {
		return run(h.Cmd("inspect", "-f", "{{.State.Status}}", "fg")).Stdout == "running\n"
	})
	if r := h.Run(125, "attach", "fg"); !strings.Contains(r.Stderr, "foreground") {
		t.Errorf("attach to a foreground container: %q", r.Stderr)
	}
	h.Run(0, "rm", "-f", "fg")

	writeCoveToml(t, h, "[engine]\ndetach_keys = \"ctrl-?\"\n")
	if r := h.Run(125, "attach", "up"); !strings.Contains(r.Stderr, "detach_keys") || !strings.Contains(r.Stderr, "ctrl-?") {
		t.Errorf("bad detach_keys in cove.toml: %q", r.Stderr)
	}
}

// TestStartAttachKeepsEarlyOutput: start -a misses nothing a container
// prints before the attach connects, and returns its exit code.
func TestStartAttachKeepsEarlyOutput(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "create", "--name", "early", "cove-test/busybox", "sh", "-c", "echo first; echo second >&2; exit 4")
	for i := 0; i < 3; i++ {
		r := h.Run(4, "start", "-a", "early")
		if r.Stdout != "first\n" || r.Stderr != "second\n" {
			t.Fatalf("start -a #%d: stdout %q stderr %q", i, r.Stdout, r.Stderr)
		}
	}
	h.Run(0, "rm", "early")
}

// TestAttachMonitorKilled: kill -9 of the monitor ends an attach with the
// exit the state records (137: the container went with its monitor), and
// the container can be started and attached again.
func TestAttachMonitorKilled(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	id := monRunDetached(t, h, "-i", "--name", "victim", "cove-test/busybox", "sh", "-c", "while read l; do echo got:$l; done")
	defer h.Run(0, "rm", "-f", "victim")
	cmd, in, out := attachPiped(t, h, "attach", "victim")
	io.WriteString(in, "x\n")
	waitOutput(t, out, "got:x")
	if err := syscall.Kill(monState(t, h, id).MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, "attach after kill -9 of the monitor"); code != 137 {
		t.Errorf("attach exit %d after kill -9 of the monitor, want 137; output %q", code, out.String())
	}
	if st := monInspect(t, h, "victim", "{{.State.Status}}"); st != "exited" {
		t.Fatalf("after kill -9 of its monitor the container is %s", st)
	}
	h.Run(0, "start", "victim")
	cmd, in, out = attachPiped(t, h, "attach", "victim")
	io.WriteString(in, "y\n")
	waitOutput(t, out, "got:y")
	in.Close()
	h.Run(0, "stop", "-t", "1", "victim")
	if code := waitExit(t, cmd, "attach to a stopped container"); code != 143 && code != 137 {
		t.Errorf("attach exit %d when the container is stopped", code)
	}
}

// TestAttachManyClients: every attached client gets the output (up to 8
// at once); one more is told so and refused with 125.
func TestAttachManyClients(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	monRunDetached(t, h, "-i", "--name", "shared", "cove-test/busybox", "sh", "-c", "while read l; do echo got:$l; done")
	defer h.Run(0, "rm", "-f", "shared")
	var ins []io.WriteCloser
	var outs []*syncBuffer
	for i := 0; i < 8; i++ {
		_, in, out := attachPiped(t, h, "attach", "shared")
		ins, outs = append(ins, in), append(outs, out)
	}
	// All eight are connected once each has seen its own line.
	for i, in := range ins {
		io.WriteString(in, "hello"+string(rune('a'+i))+"\n")
		waitOutput(t, outs[i], "got:hello"+string(rune('a'+i)))
	}
	for _, out := range outs {
		waitOutput(t, out, "got:helloh")
	}
	r := h.Run(125, "attach", "--no-stdin", "shared")
	if !strings.Contains(r.Stderr, "too many clients") {
		t.Errorf("a ninth attach: %q", r.Stderr)
	}
}

// slowLines is a container command that prints n lines of "0123456789"
// (11 bytes each, megabytes: far more than every buffer between the
// container and the client), then FINISHED on stderr, and exits 4.
func slowLines(n int) []string {
	return []string{"cove-test/busybox", "sh", "-c", fmt.Sprintf("yes 0123456789 | head -n %d; echo FINISHED >&2; exit 4", n)}
}

// startUnread starts cove ARGS with its stdout a pipe that nobody reads
// for the time given; it returns the pipe and the collected stderr.
func startUnread(t *testing.T, h *Harness, unread time.Duration, args ...string) (*exec.Cmd, io.Reader, *syncBuffer) {
	t.Helper()
	cmd := h.Cmd(args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	time.Sleep(unread)
	return cmd, stdout, stderr
}

// TestAttachSlowReader: an attached client that does not read for a while
// still gets every byte, and then the exit code: the monitor stops
// reading the container's output until the client catches up (Docker's
// backpressure), instead of disconnecting it.
func TestAttachSlowReader(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	const lines = 300000
	h.Run(0, append([]string{"create", "--name", "slow"}, slowLines(lines)...)...)
	defer h.Run(0, "rm", "-f", "slow")
	cmd, stdout, stderr := startUnread(t, h, 3*time.Second, "start", "-a", "slow")
	got, err := io.ReadAll(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, "start -a with a slow reader"); code != 4 {
		t.Fatalf("start -a exit %d, want 4; got %d bytes; stderr %q", code, len(got), stderr.String())
	}
	if want := bytes.Repeat([]byte("0123456789\n"), lines); !bytes.Equal(got, want) {
		t.Errorf("a slow reader got %d bytes (%d lines), want %d", len(got), bytes.Count(got, []byte("\n")), len(want))
	}
	if stderr.String() != "FINISHED\n" {
		t.Errorf("stderr %q, want FINISHED", stderr.String())
	}
	// The log has it all too.
	if logs := h.Run(0, "logs", "slow"); strings.Count(logs.Stdout, "0123456789\n") != lines {
		t.Errorf("logs: %d lines, want %d", strings.Count(logs.Stdout, "0123456789\n"), lines)
	}
}

// TestRunITSlowReader: the same through a terminal (run -it), whose user
// reads nothing for a while: every byte, then the exit code.
func TestRunITSlowReader(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	const lines = 300000
	m, s := openPty(t)
	t.Cleanup(func() { m.Close(); s.Close() })
	if h.user != nil {
		os.Chown(s.Name(), h.user.uid, h.user.gid)
	}
	cmd := h.Cmd(append([]string{"run", "--rm", "-it"}, slowLines(lines)...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	time.Sleep(3 * time.Second) // the terminal is not read
	out := &syncBuffer{}
	go io.Copy(out, m)
	if code := waitExit(t, cmd, "run -it with a slow terminal"); code != 4 {
		t.Fatalf("run -it exit %d, want 4; output %d bytes", code, len(out.String()))
	}
	waitOutput(t, out, "FINISHED")
	// The container's terminal turns each newline into CR LF.
	if n := strings.Count(out.String(), "0123456789\r\n"); n != lines {
		t.Errorf("a terminal read late got %d of %d lines (%d bytes)", n, lines, len(out.String()))
	}
}

// TestAttachStalledReader: a client that reads nothing at all is
// disconnected after the safety valve's time (shortened here with
// COVE_ATTACH_STALL_MS), says so with 125 rather than report an exit, and
// the container runs on.
func TestAttachStalledReader(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Setenv("COVE_ATTACH_STALL_MS", "1500") // read by the monitor run -d starts
	monRunDetached(t, h, "--name", "flood", "cove-test/busybox", "yes")
	h.Unsetenv("COVE_ATTACH_STALL_MS")
	defer h.Run(0, "rm", "-f", "flood")
	// It reads nothing, for well past the valve's time.
	cmd, stdout, stderr := startUnread(t, h, 4*time.Second, "attach", "flood")
	go io.Copy(io.Discard, stdout)
	if code := waitExit(t, cmd, "a stalled attach"); code != 125 {
		t.Fatalf("stalled attach exit %d, want 125; stderr %q", code, stderr.String())
	}
	if e := stderr.String(); !strings.Contains(e, "disconnected") || !strings.Contains(e, "still running") {
		t.Errorf("stalled attach said %q", e)
	}
	if st := monInspect(t, h, "flood", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after the stalled client the container is %s", st)
	}
	// The container writes again, and a new client reads it.
	cmd, _, out := attachPiped(t, h, "attach", "--no-stdin", "flood")
	waitOutput(t, out, "y\ny\n")
	cmd.Process.Kill()
}

// TestAttachStdinEOF: `echo piped | cove start -ai C` ends with C's exit,
// as in Docker (whose `create -i` sets StdinOnce): the end of the client's
// input is the end of the container's. Not for `attach` to a `run -di`
// container (no StdinOnce in Docker): its input stays open.
func TestAttachStdinEOF(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "create", "-i", "--name", "sai", "cove-test/busybox", "sh", "-c", "cat; echo end; exit 3")
	defer h.Run(0, "rm", "-f", "sai")
	for i := 0; i < 2; i++ {
		cmd := h.Cmd("start", "-ai", "sai")
		cmd.Stdin = strings.NewReader("piped\n")
		var out, errb syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if code := waitExit(t, cmd, "echo piped | start -ai"); code != 3 {
			t.Fatalf("start -ai #%d exit %d, want 3; stdout %q stderr %q", i, code, out.String(), errb.String())
		}
		if out.String() != "piped\nend\n" {
			t.Errorf("start -ai #%d: stdout %q", i, out.String())
		}
	}
	// An empty input ends it at once.
	if r := h.RunIn([]byte{}, 3, "start", "-ai", "sai"); r.Stdout != "end\n" {
		t.Errorf("start -ai </dev/null: %q", r.Stdout)
	}

	monRunDetached(t, h, "-i", "--name", "cat", "cove-test/busybox", "sh", "-c", "cat; exit 6")
	defer h.Run(0, "rm", "-f", "cat")
	cmd, out := inputStaysOpen(t, h, "cat", "once", "attach", "cat")
	// Like Docker's, the attach relays output until the container ends.
	h.Run(0, "stop", "-t", "1", "cat")
	if code := waitExit(t, cmd, "attach to a stopped container"); code != 143 && code != 137 {
		t.Errorf("attach exit %d when the container is stopped; output %q", code, out.String())
	}
}

// TestAttachStdinOnce: a container records Docker's StdinOnce (create -i,
// a foreground run -i; not run -di), inspect shows it with Docker's
// Attach* fields, and the end of an attached client's input ends the
// container's for `attach` as for `start -ai` when it is set, and for
// neither when it is not.
func TestAttachStdinOnce(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	const cfg = "{{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}"
	h.Run(0, "create", "-i", "--name", "ci", bb, "sh", "-c", "cat; echo end; exit 3")
	defer h.Run(0, "rm", "-f", "ci")
	if got := monInspect(t, h, "ci", cfg); got != "true true true true true" {
		t.Errorf("create -i: %s", got)
	}
	h.Run(0, "create", "--name", "cn", bb, "true")
	if got := monInspect(t, h, "cn", cfg); got != "false false false true true" {
		t.Errorf("create: %s", got)
	}
	h.Run(0, "rm", "cn")
	h.Run(0, "run", "-d", "--name", "rd", bb, "true")
	if got := monInspect(t, h, "rd", cfg); got != "false false false false false" {
		t.Errorf("run -d: %s", got)
	}
	h.Run(0, "rm", "-f", "rd")
	r := h.RunIn([]byte("fg\n"), 0, "run", "-i", "--name", "ri", bb, "cat")
	if r.Stdout != "fg\n" {
		t.Errorf("run -i: %q", r.Stdout)
	}
	if got := monInspect(t, h, "ri", cfg); got != "true true true true true" {
		t.Errorf("run -i: %s", got)
	}
	h.Run(0, "rm", "ri")

	// `echo hi | cove attach ci`: the container's cat sees the end.
	h.Run(0, "start", "ci")
	cmd := h.Cmd("attach", "ci")
	cmd.Stdin = strings.NewReader("hi\n")
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, "echo hi | attach of a create -i container"); code != 3 {
		t.Fatalf("attach exit %d, want 3; stdout %q stderr %q", code, out.String(), errb.String())
	}
	if out.String() != "hi\nend\n" {
		t.Errorf("attach: stdout %q", out.String())
	}
	if st := monInspect(t, h, "ci", "{{.State.Status}} {{.State.ExitCode}}"); st != "exited 3" {
		t.Errorf("after the attach: %s", st)
	}

	// run -di has no StdinOnce: start -ai's input ending leaves the
	// container's open, as in Docker.
	monRunDetached(t, h, "-i", "--name", "di", bb, "sh", "-c", "cat; exit 6")
	defer h.Run(0, "rm", "-f", "di")
	h.Run(0, "stop", "-t", "0", "di")
	sai, _ := inputStaysOpen(t, h, "di", "still", "start", "-ai", "di")
	h.Run(0, "stop", "-t", "1", "di")
	waitExit(t, sai, "start -ai of a stopped container")
}

// inputStaysOpen runs cove ARGS (an attach to container ctr, a `run -di`
// one whose command is cat), sends it a line and ends its input, and
// checks that the container still runs: no StdinOnce, its input is open.
func inputStaysOpen(t *testing.T, h *Harness, ctr, line string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd, in, out := attachPiped(t, h, args...)
	io.WriteString(in, line+"\n")
	in.Close()
	waitOutput(t, out, line)
	time.Sleep(500 * time.Millisecond)
	if st := monInspect(t, h, ctr, "{{.State.Status}}"); st != "running" {
		t.Fatalf("after cove %s's input ended, the run -di container is %s", strings.Join(args, " "), st)
	}
	return cmd, out
}
