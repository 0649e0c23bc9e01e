package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
	imgspec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func gen(t *testing.T, in Input) *specs.Spec {
	t.Helper()
	s, err := Generate(in)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

func TestGenerateArgs(t *testing.T) {
	img := imgspec.ImageConfig{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"serve", "--port=80"}}
	noEntry := imgspec.ImageConfig{Cmd: []string{"/bin/sh"}}
	tests := []struct {
		name       string
		image      imgspec.ImageConfig
		entrypoint []string
		cmd        []string
		want       []string
	}{
		{"image only", img, nil, nil, []string{"/entry", "-x", "serve", "--port=80"}},
		{"args replace cmd", img, nil, []string{"version"}, []string{"/entry", "-x", "version"}},
		{"entrypoint drops image cmd", img, []string{"/bin/bash"}, nil, []string{"/bin/bash"}},
		{"entrypoint and args", img, []string{"/bin/bash"}, []string{"-c", "id"}, []string{"/bin/bash", "-c", "id"}},
		{"empty entrypoint clears", img, []string{""}, []string{"ls", "/"}, []string{"ls", "/"}},
		{"empty slice clears", img, []string{}, []string{"ls"}, []string{"ls"}},
		{"cmd only image", noEntry, nil, nil, []string{"/bin/sh"}},
		{"cmd only image, args", noEntry, nil, []string{"echo", "hi"}, []string{"echo", "hi"}},
		{"no entrypoint, entrypoint given", noEntry, []string{"/x"}, nil, []string{"/x"}},
		{"args with spaces kept", noEntry, nil, []string{"sh", "-c", "echo a  b"}, []string{"sh", "-c", "echo a  b"}},
	}
	for _, tt := range tests {
		s := gen(t, Input{Image: tt.image, Entrypoint: tt.entrypoint, Cmd: tt.cmd})
		if !reflect.DeepEqual(s.Process.Args, tt.want) {
			t.Errorf("%s: args %q, want %q", tt.name, s.Process.Args, tt.want)
		}
	}
	for _, in := range []Input{
		{},
		{Image: img, Entrypoint: []string{""}},
		{Image: imgspec.ImageConfig{Entrypoint: []string{""}}},
	} {
		_, err := Generate(in)
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: err %v, want invalid argument", in, err)
		}
	}
}

func TestGenerateEnv(t *testing.T) {
	base := Input{Cmd: []string{"true"}, Hostname: "abc123"}
	tests := []struct {
		name  string
		image []string
		user  []string
		tty   bool
		want  []string
	}{
		{"defaults", nil, nil, false, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", "HOME=/"}},
		{"tty", nil, nil, true, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", "TERM=xterm", "HOME=/"}},
		{"image PATH replaces default in place", []string{"PATH=/opt/bin", "LANG=C.UTF-8"}, nil, false,
			[]string{"PATH=/opt/bin", "HOSTNAME=abc123", "LANG=C.UTF-8", "HOME=/"}},
		{"user before image, later wins", []string{"A=img", "B=img"}, []string{"B=file", "C=file", "B=flag"}, false,
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", "B=flag", "C=file", "A=img", "HOME=/"}},
		{"user overrides PATH, HOSTNAME, TERM, HOME", []string{"PATH=/img"}, []string{"PATH=/mine", "HOSTNAME=x", "TERM=dumb", "HOME=/h"}, true,
			[]string{"PATH=/mine", "HOSTNAME=x", "TERM=dumb", "HOME=/h"}},
		{"bare key unsets image value", []string{"SECRET=1", "KEEP=2"}, []string{"SECRET"}, false,
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", "KEEP=2", "HOME=/"}},
		{"image HOME kept", []string{"HOME=/srv"}, nil, false, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", "HOME=/srv"}},
		{"value kept verbatim", nil, []string{`Q="a b" `}, false, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", `Q="a b" `, "HOME=/"}},
	}
	for _, tt := range tests {
		in := base
		in.Image.Env = tt.image
		in.Env = tt.user
		in.Tty = tt.tty
		s := gen(t, in)
		if !reflect.DeepEqual(s.Process.Env, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, s.Process.Env, tt.want)
		}
		if s.Process.Terminal != tt.tty {
			t.Errorf("%s: terminal %v", tt.name, s.Process.Terminal)
		}
	}
	_, err := Generate(Input{Cmd: []string{"x"}, Env: []string{"BAD KEY=1"}})
	wantInvalid(t, err, "BAD KEY=1")
}

func TestGenerateWorkingDir(t *testing.T) {
	tests := []struct{ flag, image, want string }{
		{"", "", "/"},
		{"", "/app", "/app"},
		{"", "app/", "/app"},
		{"/work/", "/app", "/work"},
		{"/a/../b", "", "/b"},
	}
	for _, tt := range tests {
		s := gen(t, Input{Cmd: []string{"x"}, WorkingDir: tt.flag, Image: imgspec.ImageConfig{WorkingDir: tt.image}})
		if s.Process.Cwd != tt.want {
			t.Errorf("-w %q, image %q: cwd %q, want %q", tt.flag, tt.image, s.Process.Cwd, tt.want)
		}
	}
	_, err := Generate(Input{Cmd: []string{"x"}, WorkingDir: "rel"})
	wantInvalid(t, err, "rel", "absolute")
}

func TestGenerateUser(t *testing.T) {
	root := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	// The image's user applies when -u is not given.
	s := gen(t, Input{Rootfs: root, Cmd: []string{"id"}, Image: imgspec.ImageConfig{User: "app"}})
	u := s.Process.User
	if u.UID != 1000 || u.GID != 1000 || !reflect.DeepEqual(u.AdditionalGids, []uint32{1000, 10, 50}) || *u.Umask != 0o022 {
		t.Errorf("image user: %+v", u)
	}
	if !slices.Contains(s.Process.Env, "HOME=/home/app") {
		t.Errorf("env %q lacks HOME=/home/app", s.Process.Env)
	}
	if s.Root.Path != root {
		t.Errorf("root %q", s.Root.Path)
	}
	// Non-root: bounding set only.
	c := s.Process.Capabilities
	if !reflect.DeepEqual(c.Bounding, DefaultCapabilities()) || len(c.Effective) != 0 || len(c.Permitted) != 0 || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("non-root caps %+v", c)
	}
	// -u wins over the image.
	s = gen(t, Input{Rootfs: root, Cmd: []string{"id"}, User: "0:audio", GroupAdd: []string{"staff"}, Image: imgspec.ImageConfig{User: "app"}})
	u = s.Process.User
	if u.UID != 0 || u.GID != 29 || !reflect.DeepEqual(u.AdditionalGids, []uint32{29, 50}) {
		t.Errorf("-u 0:audio: %+v", u)
	}
	c = s.Process.Capabilities
	if !reflect.DeepEqual(c.Effective, DefaultCapabilities()) || !reflect.DeepEqual(c.Permitted, DefaultCapabilities()) {
		t.Errorf("root caps %+v", c)
	}
	_, err := Generate(Input{Rootfs: root, Cmd: []string{"id"}, User: "ghost"})
	wantInvalid(t, err, "ghost", "unable to find user ghost: no matching entries in passwd file")
}

func TestGenerateCaps(t *testing.T) {
	s := gen(t, Input{Cmd: []string{"x"}, CapAdd: []string{"net_admin"}, CapDrop: []string{"CAP_CHOWN"}})
	want := append(slices.DeleteFunc(DefaultCapabilities(), func(c string) bool { return c == "CAP_CHOWN" }), "CAP_NET_ADMIN")
	if !reflect.DeepEqual(s.Process.Capabilities.Bounding, want) || !reflect.DeepEqual(s.Process.Capabilities.Effective, want) {
		t.Errorf("caps %+v, want %v", s.Process.Capabilities, want)
	}
	_, err := Generate(Input{Cmd: []string{"x"}, CapAdd: []string{"CAP_WHAT"}})
	wantInvalid(t, err, "CAP_WHAT")
}

func mountAt(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func destinations(s *specs.Spec) []string {
	var out []string
	for _, m := range s.Mounts {
		out = append(out, m.Destination)
	}
	return out
}

func TestGenerateDefaults(t *testing.T) {
	s := gen(t, Input{Cmd: []string{"x"}, Hostname: "h"})
	if got, want := destinations(s), []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}; !reflect.DeepEqual(got, want) {
		t.Errorf("mounts %v, want %v", got, want)
	}
	if m := mountAt(s, "/dev/shm"); !slices.Contains(m.Options, "size=67108864") || !slices.Contains(m.Options, "mode=1777") {
		t.Errorf("/dev/shm %+v", m)
	}
	if m := mountAt(s, "/sys"); !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys not read-only: %+v", m)
	}
	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, n.Type)
	}
	if want := []specs.LinuxNamespaceType{"mount", "pid", "uts", "ipc", "cgroup", "network"}; !reflect.DeepEqual(ns, want) {
		t.Errorf("namespaces %v", ns)
	}
	for _, p := range []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap", "/sys/dev/block"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s not masked", p)
		}
	}
	if want := []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}; !reflect.DeepEqual(s.Linux.ReadonlyPaths, want) {
		t.Errorf("readonly paths %v", s.Linux.ReadonlyPaths)
	}
	if s.Hostname != "h" || s.Root.Readonly || s.Process.NoNewPrivileges || s.Linux.Seccomp != nil || s.Process.Rlimits != nil {
		t.Errorf("unexpected spec %+v", s)
	}
	if sc, err := SeccompOf(s); err != nil || sc.Mode != SeccompDefault {
		t.Errorf("seccomp %+v %v", sc, err)
	}
	if s.Version != specs.Version {
		t.Errorf("version %q", s.Version)
	}
}

func TestGenerateNetwork(t *testing.T) {
	netns := func(s *specs.Spec) *specs.LinuxNamespace {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				return &s.Linux.Namespaces[i]
			}
		}
		return nil
	}
	if s := gen(t, Input{Cmd: []string{"x"}, Network: NetworkHost}); netns(s) != nil {
		t.Error("host network has a network namespace")
	}
	if s := gen(t, Input{Cmd: []string{"x"}, Network: NetworkNone}); netns(s) == nil || netns(s).Path != "" {
		t.Error("none network: no new namespace")
	}
	if s := gen(t, Input{Cmd: []string{"x"}, Network: "pasta", NetNSPath: "/run/x/netns"}); netns(s) == nil || netns(s).Path != "/run/x/netns" {
		t.Error("netns path not used")
	}
	_, err := Generate(Input{Cmd: []string{"x"}, Network: NetworkHost, Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}})
	wantInvalid(t, err, "net.ipv4.ip_forward=1", "--network host")
	s := gen(t, Input{Cmd: []string{"x"}, Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "9"}})
	if !reflect.DeepEqual(s.Linux.Sysctl, map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "9"}) {
		t.Errorf("sysctls %v", s.Linux.Sysctl)
	}
	_, err = Generate(Input{Cmd: []string{"x"}, Sysctls: map[string]string{"vm.swappiness": "1"}})
	wantInvalid(t, err, "vm.swappiness=1")
}

func mustMounts(t *testing.T, specs ...string) []Mount {
	t.Helper()
	var out []Mount
	for _, s := range specs {
		var m Mount
		var err error
		switch {
		case strings.HasPrefix(s, "tmpfs "):
			m, err = ParseTmpfs(strings.TrimPrefix(s, "tmpfs "))
		case strings.Contains(s, "="):
			m, err = ParseMount(s)
		default:
			m, err = ParseVolume(s)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestGenerateMounts(t *testing.T) {
	var resolved []Mount
	resolve := func(m Mount) (string, error) {
		resolved = append(resolved, m)
		if m.Source == "" {
			return "/vols/anon" + m.Destination, nil
		}
		return "/vols/" + m.Source, nil
	}
	in := Input{
		Cmd: []string{"x"},
		Mounts: mustMounts(t,
			"/host/data:/data/sub:ro,rslave",
			"type=bind,src=/host/d,dst=/data",
			"named:/var/lib/db",
			"tmpfs /run:exec,size=1m,mode=700",
			"type=tmpfs,dst=/dev/shm,tmpfs-size=2m",
		),
		ResolveVolume: resolve,
		Image:         imgspec.ImageConfig{Volumes: map[string]struct{}{"/var/lib/db": {}, "/cache": {}, "logs": {}}},
		SystemMounts: []specs.Mount{
			{Destination: "/etc/hosts", Type: "bind", Source: "/c/hosts", Options: []string{"rbind", "rw"}},
			{Destination: "/data", Type: "bind", Source: "/c/ignored"},
		},
		ShmSize: 1 << 30,
	}
	s := gen(t, in)
	want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
		"/data", "/run", "/cache", "/logs", "/data/sub", "/dev/shm", "/etc/hosts", "/var/lib/db"}
	if got := destinations(s); !reflect.DeepEqual(got, want) {
		t.Errorf("mounts\n got %v\nwant %v", got, want)
	}
	check := func(dest, typ, src string, opts ...string) {
		t.Helper()
		m := mountAt(s, dest)
		if m == nil {
			t.Fatalf("no mount at %s", dest)
		}
		if m.Type != typ || m.Source != src || !reflect.DeepEqual(m.Options, opts) {
			t.Errorf("%s: %+v, want %s %s %v", dest, m, typ, src, opts)
		}
	}
	check("/data/sub", "bind", "/host/data", "rbind", "ro", "rslave")
	check("/data", "bind", "/host/d", "rbind", "rw", "rprivate")
	check("/var/lib/db", "bind", "/vols/named", "rbind", "rw", "rprivate")
	check("/cache", "bind", "/vols/anon/cache", "rbind", "rw", "rprivate")
	check("/logs", "bind", "/vols/anon/logs", "rbind", "rw", "rprivate")
	check("/run", "tmpfs", "tmpfs", "nosuid", "nodev", "exec", "size=1048576", "mode=700")
	check("/dev/shm", "tmpfs", "tmpfs", "noexec", "nosuid", "nodev", "size=2097152")
	check("/etc/hosts", "bind", "/c/hosts", "rbind", "rw")
	if len(resolved) != 3 || resolved[0].Source != "named" {
		t.Errorf("resolver calls %+v", resolved)
	}
	if s.Linux.RootfsPropagation != "rslave" {
		t.Errorf("rootfs propagation %q", s.Linux.RootfsPropagation)
	}

	// shared propagation makes the rootfs rslave (no mount namespace of a
	// user namespace sends mounts back); --shm-size applies.
	s = gen(t, Input{Cmd: []string{"x"}, Mounts: mustMounts(t, "/a:/a:shared", "/b:/b:slave"), ShmSize: 1 << 30})
	if s.Linux.RootfsPropagation != "rslave" {
		t.Errorf("rootfs propagation %q", s.Linux.RootfsPropagation)
	}
	if m := mountAt(s, "/dev/shm"); !slices.Contains(m.Options, "size=1073741824") {
		t.Errorf("shm %+v", m)
	}

	// A mount on /dev replaces the default /dev/* mounts.
	s = gen(t, Input{Cmd: []string{"x"}, Mounts: mustMounts(t, "/hostdev:/dev")})
	if got := destinations(s); !reflect.DeepEqual(got, []string{"/proc", "/sys", "/sys/fs/cgroup", "/dev"}) {
		t.Errorf("with /dev mount: %v", got)
	}

	errs := []struct {
		in    Input
		class error
		hint  string
	}{
		{Input{Cmd: []string{"x"}, Mounts: mustMounts(t, "/a:/data", "vol:/data/")}, errdefs.ErrInvalidArgument, `duplicate mount point "/data"`},
		{Input{Cmd: []string{"x"}, Mounts: mustMounts(t, "/a:/data:O")}, errdefs.ErrUnsupported, "overlay"},
		{Input{Cmd: []string{"x"}, Mounts: mustMounts(t, "vol:/data")}, errdefs.ErrUnsupported, "no volume resolver"},
		{Input{Cmd: []string{"x"}, Mounts: []Mount{{Type: MountBind, Source: "rel", Destination: "/x"}}}, errdefs.ErrInvalidArgument, "bind source"},
		{Input{Cmd: []string{"x"}, Mounts: []Mount{{Type: MountTmpfs, Destination: "/x/../y"}}}, errdefs.ErrInvalidArgument, ".."},
	}
	for _, tt := range errs {
		_, err := Generate(tt.in)
		if !errors.Is(err, tt.class) || !strings.Contains(fmtErr(err), tt.hint) {
			t.Errorf("%+v: err %v, want %v containing %q", tt.in.Mounts, err, tt.class, tt.hint)
		}
	}
	_, err := Generate(Input{Cmd: []string{"x"}, Mounts: mustMounts(t, "vol:/data"), ResolveVolume: func(Mount) (string, error) {
		return "", errors.New("disk full")
	}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("resolver error lost: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestGenerateReadOnlyAndPrivileged(t *testing.T) {
	s := gen(t, Input{Cmd: []string{"x"}, ReadOnly: true, Mounts: mustMounts(t, "tmpfs /tmp")})
	if !s.Root.Readonly {
		t.Error("root not read-only")
	}
	for _, m := range s.Mounts {
		ro := slices.Contains(m.Options, "ro")
		switch m.Destination {
		case "/sys", "/sys/fs/cgroup":
			if !ro {
				t.Errorf("%s writable with --read-only", m.Destination)
			}
		default:
			if ro {
				t.Errorf("%s read-only with --read-only", m.Destination)
			}
		}
	}

	old := hostDevices
	hostDevices = func() []specs.LinuxDevice {
		return []specs.LinuxDevice{{Path: "/dev/kvm", Type: "c", Major: 10, Minor: 232}, {Path: "/dev/null", Type: "c", Major: 1, Minor: 3}}
	}
	defer func() { hostDevices = old }()
	s = gen(t, Input{Cmd: []string{"x"}, Privileged: true, CapDrop: []string{"ALL"}, Security: SecurityOptions{Seccomp: Seccomp{Mode: SeccompCustom, Profile: "/p.json"}},
		Devices: []Device{{HostPath: "/dev/null", ContainerPath: "/dev/null", Permissions: "r"}}})
	if !reflect.DeepEqual(s.Process.Capabilities.Bounding, AllCapabilities()) {
		t.Errorf("privileged caps %v", s.Process.Capabilities.Bounding)
	}
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("privileged masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if m := mountAt(s, "/sys"); slices.Contains(m.Options, "ro") {
		t.Errorf("privileged /sys read-only")
	}
	if sc, _ := SeccompOf(s); sc.Mode != SeccompUnconfined {
		t.Errorf("privileged seccomp %+v", sc)
	}
	if len(s.Linux.Devices) != 2 || s.Linux.Devices[0].Path != "/dev/kvm" || s.Linux.Devices[1].Path != "/dev/null" {
		t.Errorf("privileged devices %+v", s.Linux.Devices)
	}
	if !reflect.DeepEqual(s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}) {
		t.Errorf("privileged device rules %+v", s.Linux.Resources.Devices)
	}

	s = gen(t, Input{Cmd: []string{"x"}, Security: SecurityOptions{UnmaskSystemPaths: true, NoNewPrivileges: true, Seccomp: Seccomp{Mode: SeccompCustom, Profile: "/p.json"}}})
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil || !s.Process.NoNewPrivileges {
		t.Errorf("systempaths=unconfined: %+v", s.Linux)
	}
	if sc, err := SeccompOf(s); err != nil || sc != (Seccomp{Mode: SeccompCustom, Profile: "/p.json"}) {
		t.Errorf("custom seccomp %+v %v", sc, err)
	}
	s = gen(t, Input{Cmd: []string{"x"}, Security: SecurityOptions{Seccomp: Seccomp{Mode: SeccompUnconfined}}, Annotations: map[string]string{"a": "b", AnnotationSeccompProfile: "stale"}})
	if s.Annotations["a"] != "b" || s.Annotations[AnnotationSeccomp] != "unconfined" || s.Annotations[AnnotationSeccompProfile] != "" {
		t.Errorf("annotations %v", s.Annotations)
	}
	if _, err := SeccompOf(&specs.Spec{Annotations: map[string]string{AnnotationSeccomp: "bogus"}}); err == nil {
		t.Error("bogus seccomp annotation accepted")
	}
}

func TestGenerateDevices(t *testing.T) {
	s := gen(t, Input{Cmd: []string{"x"}, Devices: []Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rw"}}})
	if len(s.Linux.Devices) != 1 {
		t.Fatalf("devices %+v", s.Linux.Devices)
	}
	d := s.Linux.Devices[0]
	if d.Path != "/dev/mynull" || d.Type != "c" || d.Major != 1 || d.Minor != 3 || d.FileMode == nil {
		t.Errorf("device %+v", d)
	}
	last := s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1]
	if !last.Allow || last.Type != "c" || *last.Major != 1 || *last.Minor != 3 || last.Access != "rw" {
		t.Errorf("device rule %+v", last)
	}
	if first := s.Linux.Resources.Devices[0]; first.Allow || first.Access != "rwm" {
		t.Errorf("rules do not start with deny-all: %+v", first)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	_, err := Generate(Input{Cmd: []string{"x"}, Devices: []Device{{HostPath: f, ContainerPath: "/dev/x", Permissions: "rwm"}}})
	wantInvalid(t, err, f, "not a character or block device")
	_, err = Generate(Input{Cmd: []string{"x"}, Devices: []Device{{HostPath: "/dev/nonexistent-cove", ContainerPath: "/dev/x", Permissions: "rwm"}}})
	wantInvalid(t, err, "/dev/nonexistent-cove", "no such file")
}

func TestGenerateRlimits(t *testing.T) {
	s := gen(t, Input{Cmd: []string{"x"}, Ulimits: []Ulimit{{"nofile", 10, 20}, {"nproc", 5, 5}, {"nofile", 30, -1}}})
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 30, Hard: ^uint64(0)}, {Type: "RLIMIT_NPROC", Soft: 5, Hard: 5}}
	if !reflect.DeepEqual(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v", s.Process.Rlimits)
	}
}

func TestGenerateHostname(t *testing.T) {
	_, err := Generate(Input{Cmd: []string{"x"}, Hostname: "bad_name"})
	wantInvalid(t, err, "bad_name")
	s := gen(t, Input{Cmd: []string{"x"}})
	if s.Hostname != "" || slices.ContainsFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "HOSTNAME=") }) {
		t.Errorf("no hostname: %q %q", s.Hostname, s.Process.Env)
	}
}
