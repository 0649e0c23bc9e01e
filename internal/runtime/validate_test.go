package runtime

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/errdefs"
)

func minimalSpec() *specs.Spec {
	return &specs.Spec{
		Root:    &specs.Root{Path: "/rootfs"},
		Process: &specs.Process{Args: []string{"true"}},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}, {Type: specs.UTSNamespace},
			{Type: specs.IPCNamespace}, {Type: specs.NetworkNamespace},
		}},
	}
}

func TestValidate(t *testing.T) {
	ns, err := validate(minimalSpec())
	if err != nil {
		t.Fatal(err)
	}
	if ns.names != "ipc,mount,network,pid,uts" {
		t.Errorf("names = %q", ns.names)
	}
	for _, tc := range []struct {
		name   string
		mutate func(s *specs.Spec)
		want   error
	}{
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, errdefs.ErrInvalidArgument},
		{"relative root", func(s *specs.Spec) { s.Root.Path = "rootfs" }, errdefs.ErrInvalidArgument},
		{"no mount ns", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[1:] }, errdefs.ErrInvalidArgument},
		{"join", func(s *specs.Spec) { s.Linux.Namespaces[4].Path = "/proc/1/ns/net" }, errdefs.ErrUnsupported},
		{"time ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}, errdefs.ErrUnsupported},
		{"hostname without uts", func(s *specs.Spec) { s.Hostname = "x"; s.Linux.Namespaces = s.Linux.Namespaces[:2] }, errdefs.ErrInvalidArgument},
		{"user ns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, errdefs.ErrInvalidArgument},
		{"relative mount", func(s *specs.Spec) { s.Mounts = []specs.Mount{{Destination: "data", Type: "tmpfs"}} }, errdefs.ErrInvalidArgument},
	} {
		s := minimalSpec()
		tc.mutate(s)
		if _, err := validate(s); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCheckSysctl(t *testing.T) {
	all := map[specs.LinuxNamespaceType]bool{specs.NetworkNamespace: true, specs.IPCNamespace: true, specs.UTSNamespace: true}
	for _, k := range []string{"net.ipv4.ip_forward", "kernel.shmmax", "kernel.msgmnb", "kernel.sem", "fs.mqueue.msg_max", "kernel.hostname", "kernel.domainname"} {
		if err := checkSysctl(k, all); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	for _, k := range []string{"kernel.panic", "vm.swappiness", "fs.file-max", "kernel.shm/../../panic", "kernel.pid_max"} {
		if err := checkSysctl(k, all); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s accepted", k)
		}
	}
	if err := checkSysctl("net.ipv4.ip_forward", map[specs.LinuxNamespaceType]bool{}); err == nil {
		t.Error("net.* accepted without a network namespace")
	}
}

func TestBuildConfig(t *testing.T) {
	s := minimalSpec()
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_SETFCAP"}, Effective: []string{"chown"}}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}}
	c, err := buildConfig(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Caps.Bounding != 1|1<<31 || c.Caps.Effective != 1 || c.Caps.Ambient != 0 {
		t.Errorf("caps = %+v", c.Caps)
	}
	if len(c.Rlimits) != 1 || c.Rlimits[0].Resource != 7 || c.Rlimits[0].Soft != 10 {
		t.Errorf("rlimits = %+v", c.Rlimits)
	}
	s.Process.Capabilities.Bounding = []string{"CAP_BOGUS"}
	if _, err := buildConfig(s, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown capability: %v", err)
	}
	s.Process.Capabilities = nil
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
	if _, err := buildConfig(s, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown rlimit: %v", err)
	}
}
