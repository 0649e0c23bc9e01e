//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestTop(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "-d", "--name", "r", "cove-test/busybox", "sh", "-c", `su -s /bin/sh nobody -c "sleep 300" & exec sleep 301`)
	// Until su has switched user and exec'd, its command line also
	// contains "sleep 300": wait for the sleep itself.
	waitFor(t, 10*time.Second, "both processes", func() bool {
		for _, l := range strings.Split(h.Run(0, "top", "r").Stdout, "\n") {
			if f := strings.Fields(l); len(f) == 9 && f[7] == "sleep" && f[8] == "300" {
				return true
			}
		}
		return false
	})

	rows := func(out string) [][]string {
		var r [][]string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			r = append(r, strings.Fields(l))
		}
		return r
	}
	out := rows(h.Run(0, "top", "r").Stdout)
	if strings.Join(out[0], " ") != "UID PID PPID C STIME TTY TIME CMD" || len(out) != 3 {
		t.Fatalf("top:\n%v", out)
	}
	users := map[string]string{}
	for _, r := range out[1:] {
		users[strings.Join(r[7:], " ")] = r[0]
	}
	if users["sleep 301"] != "root" || users["sleep 300"] != "nobody" {
		t.Errorf("users by command: %v", users)
	}

	out = rows(h.Run(0, "container", "top", "r", "pid", "ppid", "user", "args").Stdout)
	if strings.Join(out[0], " ") != "PID PPID USER COMMAND" {
		t.Fatalf("descriptors:\n%v", out)
	}
	// Podman's descriptors show the container's PIDs: sleep 301 is its
	// first process.
	for _, r := range out[1:] {
		if r[3] == "sleep" && r[4] == "301" && (r[0] != "1" || r[1] != "0") {
			t.Errorf("first process: %v", r)
		}
	}
	out = rows(h.Run(0, "top", "r", "-o", "pid,comm").Stdout)
	if strings.Join(out[0], " ") != "PID COMMAND" || len(out) != 3 {
		t.Errorf("-o:\n%v", out)
	}
	out = rows(h.Run(0, "top", "r", "aux").Stdout)
	if out[0][0] != "USER" || out[0][2] != "%CPU" || len(out) != 3 {
		t.Errorf("aux:\n%v", out)
	}

	out = rows(h.Run(0, "top", "r", "pid", "seccomp", "capamb").Stdout)
	if strings.Join(out[0], " ") != "PID SECCOMP AMBIENT CAPS" || out[1][1] != "filter" || out[1][2] != "none" {
		t.Errorf("seccomp and caps:\n%v", out)
	}
	r := h.Run(125, "top", "r", "bogus")
	if !strings.Contains(r.Stderr, `"bogus"`) {
		t.Errorf("stderr %q", r.Stderr)
	}
	h.Run(0, "stop", "-t", "0", "r")
	r = h.Run(125, "top", "r")
	if !strings.Contains(r.Stderr, "not running") {
		t.Errorf("stderr %q", r.Stderr)
	}
	h.Run(125, "top", "nosuch")
	h.Run(0, "rm", "r")
}
