//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiffExportCommit(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "--name", "c", "-e", "FOO=bar", "cove-test/busybox", "sh", "-c", "echo hi > /tmp/new; rm /etc/group; echo x >> /etc/passwd")

	r := h.Run(0, "diff", "c")
	want := "C /etc\nD /etc/group\nC /etc/passwd\nC /tmp\nA /tmp/new\n"
	if r.Stdout != want {
		t.Errorf("diff:\n%s\nwant\n%s", r.Stdout, want)
	}
	h.Run(0, "container", "diff", "c")

	// export: to stdout and to a file, the same flattened tree.
	r = h.Run(0, "export", "c")
	names := strings.Join(tarNames(t, r.Stdout), "\n")
	for _, n := range []string{"bin/busybox", "tmp/new", "etc/passwd"} {
		if !strings.Contains(names, n+"\n") && !strings.HasSuffix(names, n) {
			t.Errorf("export lacks %s", n)
		}
	}
	if strings.Contains(names, "etc/group") {
		t.Errorf("export has the deleted etc/group")
	}
	h.Run(0, "container", "export", "-o", "out.tar", "c")
	b, err := os.ReadFile(filepath.Join(h.Dir, "work", "out.tar"))
	if err != nil || string(b) != r.Stdout {
		t.Errorf("export -o differs from stdout (%v)", err)
	}
	h.ownedByUser("out.tar")

	// commit with every flag; the image runs with the container's
	// settings plus the changes.
	r = h.Run(0, "commit", "-m", "my message", "-a", "Me <me@example.com>", "-c", `CMD ["cat","/tmp/new"]`, "--change", "ENV A=B", "c", "mine:v1")
	if !strings.HasPrefix(r.Stdout, "sha256:") || len(strings.TrimSpace(r.Stdout)) != 71 {
		t.Errorf("commit printed %q", r.Stdout)
	}
	if r := h.Run(0, "run", "--rm", "mine:v1"); r.Stdout != "hi\n" {
		t.Errorf("committed CMD: %q", r.Stdout)
	}
	if r := h.Run(1, "run", "--rm", "mine:v1", "sh", "-c", "echo $FOO $A; ls /etc/group"); r.Stdout != "bar B\n" {
		t.Errorf("committed env or files: %q", r.Stdout)
	}
	r = h.Run(0, "inspect", "-f", "{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}", "mine:v1")
	if want := "Me <me@example.com>|my message|"; !strings.HasPrefix(r.Stdout, want) {
		t.Errorf("inspect: %q, want prefix %q", r.Stdout, want)
	}
	r = h.Run(0, "history", "--format", "{{.Comment}}", "mine:v1")
	if !strings.HasPrefix(r.Stdout, "my message\n") {
		t.Errorf("history: %q", r.Stdout)
	}
	// Unnamed, and bad input changes nothing.
	h.Run(0, "container", "commit", "c")
	before := h.Run(0, "images", "-q").Stdout
	r = h.Run(125, "commit", "-c", "BOGUS x", "c", "bad")
	if !strings.Contains(r.Stderr, "BOGUS") {
		t.Errorf("stderr %q", r.Stderr)
	}
	h.Run(125, "commit", "c", "Bad:Name::")
	h.Run(125, "commit", "nosuch")
	h.Run(125, "diff", "nosuch")
	h.Run(125, "export", "-o", "x.tar", "nosuch")
	if _, err := os.Stat(filepath.Join(h.Dir, "work", "x.tar")); err == nil {
		t.Errorf("failed export left x.tar")
	}
	if after := h.Run(0, "images", "-q").Stdout; after != before {
		t.Errorf("failed commits changed the images:\n%s\n%s", before, after)
	}

	// A running container: diff, export and commit (paused) see its
	// changes, and it keeps running.
	h.Run(0, "run", "-d", "--name", "r", "cove-test/busybox", "sh", "-c", "echo run > /run.txt; sleep 60")
	waitFor(t, 10e9, "run.txt", func() bool { return strings.Contains(h.Run(0, "diff", "r").Stdout, "A /run.txt") })
	// Only the container's own change: not the mount targets of
	// /etc/hosts and friends, nor /etc for them.
	if r := h.Run(0, "diff", "r"); r.Stdout != "A /run.txt\n" {
		t.Errorf("diff of the running container: %q", r.Stdout)
	}
	if !strings.Contains(strings.Join(tarNames(t, h.Run(0, "export", "r").Stdout), " "), "run.txt") {
		t.Errorf("export of a running container lacks run.txt")
	}
	h.Run(0, "commit", "-p", "r", "fromrunning")
	if r := h.Run(0, "inspect", "-f", "{{.State.Status}}", "r"); r.Stdout != "running\n" {
		t.Errorf("after commit -p: %q", r.Stdout)
	}
	// A container the user paused stays paused; --pause=false works on a
	// running one as well.
	h.Run(0, "pause", "r")
	h.Run(0, "commit", "r")
	if r := h.Run(0, "inspect", "-f", "{{.State.Status}}", "r"); r.Stdout != "paused\n" {
		t.Errorf("after commit of a paused container: %q", r.Stdout)
	}
	h.Run(0, "unpause", "r")
	h.Run(0, "container", "commit", "--pause=false", "r")
	if r := h.Run(0, "run", "--rm", "fromrunning", "cat", "/run.txt"); r.Stdout != "run\n" {
		t.Errorf("committed file: %q", r.Stdout)
	}
	// The image has the container's file, not the empty targets of
	// /etc/hosts and friends that start made.
	h.Run(0, "create", "--name", "probe", "fromrunning")
	if r := h.Run(0, "diff", "probe"); r.Stdout != "" {
		t.Errorf("a fresh container of the committed image differs: %q", r.Stdout)
	}
	if names := strings.Join(tarNames(t, h.Run(0, "export", "probe").Stdout), " "); strings.Contains(names, "etc/hosts") {
		t.Errorf("the committed image has etc/hosts: %s", names)
	}
	h.Run(0, "rm", "probe")
	if r := h.Run(0, "exec", "r", "echo", "alive"); r.Stdout != "alive\n" {
		t.Errorf("container after commit: %q", r.Stdout)
	}
	h.Run(0, "rm", "-f", "r", "c")
}

func TestPsSize(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "--name", "c", "cove-test/busybox", "sh", "-c", "head -c 100000 /dev/zero > /big")
	r := h.Run(0, "ps", "-a", "-s")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "SIZE") {
		t.Fatalf("ps -s:\n%s", r.Stdout)
	}
	if !strings.HasSuffix(lines[1], "100kB (virtual 2.23MB)") {
		t.Errorf("ps -s row: %q", lines[1])
	}
	if r := h.Run(0, "ps", "-a", "--format", "{{.Names}}: {{.Size}}"); r.Stdout != "c: 100kB (virtual 2.23MB)\n" {
		t.Errorf("--format .Size: %q", r.Stdout)
	}
	if r := h.Run(0, "ps", "-a"); strings.Contains(r.Stdout, "SIZE") {
		t.Errorf("ps without -s has a SIZE column:\n%s", r.Stdout)
	}
}
