//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func userNS(t *testing.T, h *Harness) string {
	t.Helper()
	r := h.Run(0, "unshare", "readlink", "/proc/self/ns/user")
	return strings.TrimSpace(r.Stdout)
}

// Every rootless command joins one user namespace per user, kept by a
// process that holds nothing of the command that created it.
func TestKeeperSharedNamespace(t *testing.T) {
	h := newHarness(t)
	first := userNS(t, h)
	if !strings.HasPrefix(first, "user:[") {
		t.Fatalf("readlink of the namespace: %q", first)
	}
	if second := userNS(t, h); second != first {
		t.Fatalf("two commands in different user namespaces: %s and %s", first, second)
	}
	k := h.Keeper()
	if k == 0 {
		t.Fatal("no keeper recorded in the run root")
	}
	if ns, _ := os.Readlink(filepathJoin("/proc", k, "ns/user")); ns != first {
		t.Errorf("keeper %d is in %s, commands in %s", k, ns, first)
	}
	cmdline, _ := os.ReadFile(filepathJoin("/proc", k, "cmdline"))
	if !strings.HasPrefix(string(cmdline), "cove-userns") {
		t.Errorf("keeper's command line %q", cmdline)
	}
	// No descriptor of its creator (a pipe would make callers wait).
	fds, _ := os.ReadDir(filepathJoin("/proc", k, "fd"))
	for _, fd := range fds {
		if l, _ := os.Readlink(filepathJoin("/proc", k, "fd/"+fd.Name())); l != "/dev/null" {
			t.Errorf("keeper holds fd %s -> %s", fd.Name(), l)
		}
	}
	if cwd, _ := os.Readlink(filepathJoin("/proc", k, "cwd")); cwd != "/" {
		t.Errorf("keeper's working directory %q", cwd)
	}
	// Containers started by different commands share it, so that one
	// can join another's namespaces.
	bb := h.imgLoad("busybox")
	h.Run(0, "run", "-d", "--name", "a", bb, "sleep", "60")
	h.Run(0, "run", "-d", "--name", "b", bb, "sleep", "60")
	a := strings.TrimSpace(h.Run(0, "exec", "a", "readlink", "/proc/self/ns/user").Stdout)
	b := strings.TrimSpace(h.Run(0, "exec", "b", "readlink", "/proc/self/ns/user").Stdout)
	if a != first || b != first {
		t.Errorf("containers in %s and %s, commands in %s", a, b, first)
	}
	h.Run(0, "rm", "-f", "a", "b")
}

// Commands racing to create the keeper end up in one namespace.
func TestKeeperConcurrentCreation(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	got := make([]Result, 8)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i] = run(h.Cmd("unshare", "readlink", "/proc/self/ns/user"))
		}(i)
	}
	wg.Wait()
	for i, r := range got {
		if r.Code != 0 {
			t.Fatalf("command %d: exit %d\n%s", i, r.Code, r.Stderr)
		}
		if r.Stdout != got[0].Stdout {
			t.Errorf("command %d in %s, command 0 in %s", i, r.Stdout, got[0].Stdout)
		}
	}
	if k := h.Keeper(); k == 0 {
		t.Error("no keeper recorded")
	}
}

// A killed keeper is replaced; containers of the old namespace go on and
// can still be reached, and `system migrate` retires the keeper.
func TestKeeperKilledAndMigrate(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	h.Run(0, "run", "-d", "--name", "old", bb, "sleep", "60")
	oldNS := userNS(t, h)
	k := h.Keeper()
	if k == 0 {
		t.Fatal("no keeper")
	}
	if err := syscall.Kill(k, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// kill(2) returns before the process is gone.
	for i := 0; procStartTime(k) != 0; i++ {
		if i == 500 {
			t.Fatalf("keeper %d still alive 5 s after SIGKILL", k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	newNS := userNS(t, h)
	if newNS == oldNS {
		t.Fatalf("still in %s after the keeper was killed", oldNS)
	}
	if k2 := h.Keeper(); k2 == 0 || k2 == k {
		t.Fatalf("keeper after the kill: %d (was %d)", k2, k)
	}
	r := h.Run(0, "exec", "old", "readlink", "/proc/self/ns/user")
	if strings.TrimSpace(r.Stdout) != oldNS {
		t.Errorf("the old container moved: %q, want %s", r.Stdout, oldNS)
	}
	h.Run(0, "stop", "-t", "0", "old")
	h.Run(0, "rm", "old")

	k2 := h.Keeper()
	r = h.Run(0, "system", "migrate")
	if !strings.Contains(r.Stderr, "stopped the user namespace keeper") {
		t.Errorf("migrate should say what it did: %q", r.Stderr)
	}
	if procStartTime(k2) != 0 {
		t.Errorf("keeper %d still alive after system migrate", k2)
	}
	if got := userNS(t, h); got == newNS {
		t.Errorf("still in %s after system migrate", got)
	}
	// Nothing to stop is not an error.
	h.Run(0, "system", "migrate")
	h.Run(0, "system", "migrate")
}

func filepathJoin(a string, pid int, b string) string {
	return filepath.Join(a, strconv.Itoa(pid), b)
}

// kill -9 of the command that is creating the keeper, at any moment:
// never a keeper nobody knows of, and the next command has one.
func TestKeeperCreationKilled(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 12; i++ {
		// A fresh start: no keeper.
		for _, pid := range h.liveKeepers() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		waitFor(t, 5*time.Second, "no keeper", func() bool { return len(h.liveKeepers()) == 0 })
		cmd := h.Cmd("unshare", "true")
		imgSetpgid(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i) * 400 * time.Microsecond)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		// A keeper that was not told to live exits at its pipe's EOF.
		waitFor(t, 5*time.Second, "at most the recorded keeper", func() bool {
			live := h.liveKeepers()
			return len(live) == 0 || len(live) == 1 && live[0] == h.Keeper()
		})
		h.Run(0, "unshare", "true")
		if live, rec := h.liveKeepers(), h.Keeper(); len(live) != 1 || live[0] != rec {
			t.Fatalf("round %d: live keepers %v, recorded %d", i, live, rec)
		}
	}
}

// kill -9 of a command right after the constructor forked it into the
// keeper's namespace: the forked command dies too, and does not go on
// unseen behind the user's next commands. It used to when the parent was
// killed before the child had armed its parent-death signal (a network
// create or a container create finishing after the user saw it killed,
// TestUserNetworkKilledHalfway's flake). That window is microseconds
// wide, so the kill is aimed at it: as soon as the parent has a child.
// A command that went on would print to its stdout pipe, which Wait
// drains to the end.
func TestKilledCommandDoesNotGoOn(t *testing.T) {
	h := newHarness(t)
	h.Run(0, "unshare", "true") // the keeper, so that every kill lands in join_keeper
	wentOn, aimed := 0, 0
	const rounds = 200
	for i := 0; i < rounds; i++ {
		cmd := h.Cmd("unshare", "sh", "-c", "sleep 0.05; echo went-on")
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children := fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			if b, err := os.ReadFile(children); err != nil || len(bytes.TrimSpace(b)) > 0 {
				aimed++
				break
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if out.Len() > 0 {
			wentOn++
		}
	}
	if aimed < rounds/2 {
		t.Errorf("the kill found the forked command in only %d of %d rounds", aimed, rounds)
	}
	if wentOn > 0 {
		t.Errorf("%d of %d commands went on after their cove was killed", wentOn, rounds)
	}
}
