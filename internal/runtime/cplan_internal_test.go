package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/runtime/initproc"
	"github.com/cove-run/cove/internal/runtime/proto"
)

// planSpecs are specs whose plans the tests and the fuzzer's seeds use.
func planSpecs() map[string]*specs.Spec {
	base := func() *specs.Spec {
		return &specs.Spec{
			Root:    &specs.Root{Path: "/var/lib/rootfs"},
			Process: &specs.Process{Args: []string{"sh", "-c", "true"}, Env: []string{"PATH=/bin", "A=b"}, Cwd: "/"},
			Linux:   &specs.Linux{},
		}
	}
	full := base()
	full.Hostname, full.Domainname = "host", "example.org"
	full.Root.Readonly = true
	full.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 100}}
	full.Process.NoNewPrivileges = true
	full.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"},
		Permitted: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}}
	full.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}}
	full.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance", "gid=5"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro"}},
		{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "ro", "rprivate", "rro"}},
	}
	full.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	full.Linux.MaskedPaths = []string{"/proc/kcore"}
	full.Linux.ReadonlyPaths = []string{"/proc/sys"}
	full.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"setresuid"}, Action: specs.ActErrno}}}
	return map[string]*specs.Spec{"minimal": base(), "full": full}
}

// TestCPlanParses: the C init accepts every plan the parent writes, and
// no truncated or extended one.
func TestCPlanParses(t *testing.T) {
	if !proto.CInitLinked {
		t.Skip("no C init in this build (cgo)")
	}
	for name, s := range planSpecs() {
		filter, err := compileSeccomp(s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := buildConfig(s, filter)
		if err != nil {
			t.Fatal(err)
		}
		plan, ok := cPlan(c, s, false)
		if !ok {
			t.Fatalf("%s: no plan", name)
		}
		if err := initproc.CheckPlan(plan); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for n := 0; n < len(plan); n++ {
			if initproc.CheckPlan(plan[:n]) == nil {
				t.Errorf("%s: the C init accepts the plan cut to %d of %d bytes", name, n, len(plan))
				break
			}
		}
		if initproc.CheckPlan(append(plan[:len(plan):len(plan)], 0)) == nil {
			t.Errorf("%s: the C init accepts a plan with trailing data", name)
		}
		if os.Getenv("COVE_WRITE_FUZZ_SEEDS") == "1" {
			p := filepath.Join("initproc", "testdata", "fuzz", "FuzzCInitPlan", name)
			if err := os.WriteFile(p, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", plan)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A string with a NUL in it cannot be passed to the C init.
	s := planSpecs()["minimal"]
	s.Process.Args = []string{"a\x00b"}
	c, _ := buildConfig(s, nil)
	if _, ok := cPlan(c, s, false); ok {
		t.Error("a plan was made for an argument with a NUL")
	}
}
