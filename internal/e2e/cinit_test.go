//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// An ordinary container is set up by the C init; a terminal and --init
// keep the Go init (COVE_TIMING names the init that ran).
func TestRunInitKind(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	h.Setenv("COVE_TIMING", "1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", bb, "true"}, "(c init)"},
		{[]string{"run", "--rm", "--network", "none", "--read-only", "-u", "1000:1000", "--security-opt", "no-new-privileges", bb, "true"}, "(c init)"},
		{[]string{"run", "--rm", "--init", bb, "true"}, "(go init)"},
		{[]string{"run", "--rm", "-t", bb, "true"}, "(go init)"},
	} {
		r := h.Run(0, tc.args...)
		if !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%q: want %s in the timings:\n%s", tc.args, tc.want, r.Stderr)
		}
	}
}

// The C init and the Go init (_COVE_INIT_GO=1) start a command in the same
// state, and fail the same way with the same exit codes and messages.
func TestRunInitParity(t *testing.T) {
	h := newHarness(t)
	bb := h.imgLoad("busybox")
	// The rootfs line names the container's own directories.
	state := `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|SigIgn):' /proc/self/status; id; umask; pwd; hostname
grep -v '^overlay / ' /proc/self/mounts; ls /dev; echo kcore=$(wc -c < /proc/kcore); (echo 1 > /proc/sys/kernel/shmmni) 2>&1; (: >> /proc/self/exe) 2>&1; (touch /x) 2>&1; true`
	for _, tc := range []struct {
		code int
		args []string
	}{
		{0, []string{"--hostname", "h1", bb, "sh", "-c", state}},
		{0, []string{"--hostname", "h1", "--read-only", "-u", "1000:1000", "--group-add", "10", "-w", "/tmp/new", bb, "sh", "-c", state}},
		{0, []string{"--hostname", "h1", "--security-opt", "no-new-privileges", "--cap-add", "NET_ADMIN", "--ulimit", "nofile=100:200", bb, "sh", "-c", state}},
		{0, []string{"--hostname", "h1", "--security-opt", "seccomp=unconfined", "--tmpfs", "/run/x:size=1m", "-v", "/etc:/hostetc:ro", bb, "sh", "-c", state}},
		{127, []string{bb, "no-such-command"}},
		{127, []string{bb, "/no/such/file"}},
		{126, []string{bb, "/etc"}},
		{126, []string{bb, "/etc/passwd"}},
		{125, []string{"-w", "/etc/passwd/x", bb, "true"}},
		{125, []string{"-u", "1000", "-w", "/root", bb, "true"}},
	} {
		args := append([]string{"run", "--rm", "--network", "none"}, tc.args...)
		h.Unsetenv("_COVE_INIT_GO")
		c := h.Run(tc.code, args...)
		h.Setenv("_COVE_INIT_GO", "1")
		g := h.Run(tc.code, args...)
		if c.Stdout != g.Stdout || c.Stderr != g.Stderr {
			t.Errorf("%q: the inits differ:\nC init:\n%s%s\nGo init:\n%s%s", tc.args, c.Stdout, c.Stderr, g.Stdout, g.Stderr)
		}
	}
}
