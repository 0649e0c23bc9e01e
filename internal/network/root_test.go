package network

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPastaAsRoot: cove run as root (no user namespace of its own) starts
// pasta in the initial user namespace, where pasta would switch to nobody
// and then fail to enter the container's network namespace unless told to
// stay root. Every rootful `cove run` with the default network failed so.
func TestPastaAsRoot(t *testing.T) {
	if !realRoot() {
		t.Skip("needs root in the initial user namespace")
	}
	if _, err := exec.LookPath("pasta"); err != nil {
		t.Skip("pasta is not installed")
	}
	f := pastaFeatures("")
	if !f.Runas {
		t.Skip("this pasta has no --runas")
	}
	if got := strings.Join(pastaArgs(nil, f), " "); !strings.Contains(got, "--runas 0") {
		t.Errorf("pasta args as root lack --runas 0: %q", got)
	}
	holder := exec.Command("unshare", "-n", "sleep", "30")
	if err := holder.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	var ns *os.File
	var err error
	// unshare replaces itself with sleep once the namespace exists.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(holder.Process.Pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
			break
		}
	}
	if ns, err = os.Open("/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net"); err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := Start(StartOptions{Helper: Pasta, NetNS: ns, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("pasta as root: %v", err)
	}
	h.Stop()
}
