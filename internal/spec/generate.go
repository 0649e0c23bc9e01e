package spec

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/cove-run/cove/internal/errdefs"
	imgspec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Network modes with a meaning for the spec. Any other value (bridge,
// pasta, slirp4netns, "") gets a new network namespace that the network
// package populates.
const (
	// NetworkHost shares the host's network namespace.
	NetworkHost = "host"
	// NetworkNone gives the container a new namespace with loopback only.
	NetworkNone = "none"
)

// Input is everything Generate needs: the parsed `docker run` options, the
// image's config and the container's root file system.
type Input struct {
	// Rootfs is the container's root file system on the host. It becomes
	// Root.Path, and /etc/passwd and /etc/group are read inside it; empty
	// means no such files (numeric users only).
	Rootfs string
	// Image is the image's config.
	Image imgspec.ImageConfig

	// Entrypoint is --entrypoint. nil keeps the image's; any non-nil value
	// replaces it and also drops the image's Cmd, and an empty slice or
	// [""] clears it (docker run --entrypoint "").
	Entrypoint []string
	// Cmd is the arguments after the image name; when non-empty they
	// replace the image's Cmd.
	Cmd []string
	// Env is the user's environment: --env-file entries then -e entries,
	// as UserEnv returns them. A bare KEY unsets KEY.
	Env []string
	// WorkingDir is -w; it must be absolute. Empty means the image's.
	WorkingDir string
	// User is -u; empty means the image's User.
	User string
	// GroupAdd is --group-add: names or numbers.
	GroupAdd []string
	// Hostname is the container's host name (engine default: the short
	// container ID); it is also exported as HOSTNAME.
	Hostname string
	// Tty is -t: a terminal, and TERM=xterm unless set.
	Tty bool
	// ReadOnly is --read-only.
	ReadOnly bool
	// Privileged is --privileged: all capabilities, no masked or
	// read-only paths, no seccomp, every host device this process can open.
	Privileged bool
	// CapAdd and CapDrop are --cap-add and --cap-drop.
	CapAdd, CapDrop []string
	// Security is --security-opt.
	Security SecurityOptions

	// Mounts are the -v, --mount and --tmpfs mounts.
	Mounts []Mount
	// ResolveVolume returns the host directory backing a volume mount
	// (m.Type == MountVolume), creating the volume if needed; m.Source ""
	// asks for a new anonymous volume. It is also called for each image
	// VOLUME that no user mount covers. The engine records what it creates
	// (for --rm and inspect) and honours m.NoCopy.
	ResolveVolume func(m Mount) (string, error)
	// SystemMounts are the engine's own binds (/etc/hosts, /etc/resolv.conf,
	// /etc/hostname). A user mount at the same destination replaces one.
	SystemMounts []specs.Mount
	// Devices are --device.
	Devices []Device
	// Ulimits are --ulimit; the last one of a name wins. Other limits are
	// inherited from cove (Docker's default).
	Ulimits []Ulimit
	// Sysctls are --sysctl.
	Sysctls map[string]string
	// ShmSize is --shm-size in bytes; 0 means DefaultShmSize.
	ShmSize int64
	// Network is the network mode (NetworkHost, NetworkNone, or another).
	Network string
	// NetNSPath, when set, is a network namespace to join instead of
	// creating one (the engine's bind-mounted namespace for pasta).
	NetNSPath string
	// Annotations are copied into the spec.
	Annotations map[string]string
}

// Generate builds the OCI runtime spec for in with Docker's defaults:
//
//   - args: see Input.Entrypoint and Input.Cmd; no command at all is an
//     error.
//   - env: PATH=DefaultPathEnv, HOSTNAME and (with Tty) TERM=xterm, then the
//     user's Env, then the image's Env for the keys the user did not give,
//     each replacing an earlier value in place; HOME from /etc/passwd
//     (or "/") is appended when unset.
//   - user and groups: ResolveUser(in.Rootfs, in.User or image User,
//     in.GroupAdd); umask 0022.
//   - cwd: in.WorkingDir, else the image's, else "/".
//   - capabilities: Capabilities(CapAdd, CapDrop, Privileged) as the
//     bounding set, and as effective and permitted set for uid 0 only;
//     no inheritable or ambient capabilities.
//   - mounts: /proc, /dev, /dev/pts, /sys (ro), /sys/fs/cgroup (ro),
//     /dev/mqueue, /dev/shm (ShmSize), minus those a user mount replaces,
//     then user, image-volume and system mounts ordered parents first.
//   - namespaces: mount, pid, uts, ipc, cgroup, and network unless host.
//   - masked and read-only paths unless privileged or
//     systempaths=unconfined; seccomp policy in AnnotationSeccomp.
func Generate(in Input) (*specs.Spec, error) {
	args, err := processArgs(in)
	if err != nil {
		return nil, err
	}
	if in.Hostname != "" {
		if err := ValidateHostname(in.Hostname); err != nil {
			return nil, err
		}
	}
	userSpec := in.User
	if userSpec == "" {
		userSpec = in.Image.User
	}
	uid, gid, groups, home, err := ResolveUser(in.Rootfs, userSpec, in.GroupAdd)
	if err != nil {
		return nil, err
	}
	cwd, err := workingDir(in)
	if err != nil {
		return nil, err
	}
	env, err := containerEnv(in, home)
	if err != nil {
		return nil, err
	}
	caps, err := Capabilities(in.CapAdd, in.CapDrop, in.Privileged)
	if err != nil {
		return nil, err
	}
	umask := uint32(0o022)
	proc := &specs.Process{
		Terminal: in.Tty,
		User:     specs.User{UID: uid, GID: gid, AdditionalGids: groups, Umask: &umask},
		Args:     args,
		Env:      env,
		Cwd:      cwd,
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: caps,
			Permitted: caps,
		},
		NoNewPrivileges: in.Security.NoNewPrivileges,
	}
	if uid != 0 {
		// Like execve from root to another user: the process keeps its
		// bounding set but starts with no effective or permitted caps.
		proc.Capabilities.Effective = []string{}
		proc.Capabilities.Permitted = []string{}
	}
	proc.Rlimits = rlimits(in.Ulimits)

	s := &specs.Spec{
		Version:  specs.Version,
		Process:  proc,
		Root:     &specs.Root{Path: in.Rootfs, Readonly: in.ReadOnly},
		Hostname: in.Hostname,
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: defaultDeviceRules()},
		},
	}
	if err := setMounts(s, in); err != nil {
		return nil, err
	}
	if err := setDevices(s, in); err != nil {
		return nil, err
	}
	if err := setSysctls(s, in); err != nil {
		return nil, err
	}
	for _, t := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.PIDNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.CgroupNamespace} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	if in.Network != NetworkHost {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.NetNSPath})
	}
	if !in.Privileged && !in.Security.UnmaskSystemPaths {
		s.Linux.MaskedPaths = MaskedPaths()
		s.Linux.ReadonlyPaths = ReadonlyPaths()
	}

	s.Annotations = maps.Clone(in.Annotations)
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	sc := in.Security.Seccomp
	switch {
	case in.Privileged:
		sc = Seccomp{Mode: SeccompUnconfined}
	case sc.Mode == "":
		sc.Mode = SeccompDefault
	}
	s.Annotations[AnnotationSeccomp] = string(sc.Mode)
	delete(s.Annotations, AnnotationSeccompProfile)
	if sc.Mode == SeccompCustom {
		if sc.Profile == "" {
			return nil, invalid("security option \"seccomp=\": empty profile path")
		}
		s.Annotations[AnnotationSeccompProfile] = sc.Profile
	}
	return s, nil
}

// processArgs merges --entrypoint, the command arguments and the image's
// Entrypoint and Cmd as Docker does.
func processArgs(in Input) ([]string, error) {
	var args []string
	switch {
	case in.Entrypoint != nil:
		if !(len(in.Entrypoint) == 0 || len(in.Entrypoint) == 1 && in.Entrypoint[0] == "") {
			args = append(args, in.Entrypoint...)
		}
		args = append(args, in.Cmd...)
	default:
		args = append(args, in.Image.Entrypoint...)
		if len(in.Cmd) > 0 {
			args = append(args, in.Cmd...)
		} else {
			args = append(args, in.Image.Cmd...)
		}
	}
	if len(args) == 0 {
		return nil, invalid("no command specified: the image has no entrypoint or command, and none was given")
	}
	if args[0] == "" {
		return nil, invalid("command %q: empty executable name", args)
	}
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, invalid("command argument %q contains a NUL byte", a)
		}
	}
	return args, nil
}

func workingDir(in Input) (string, error) {
	if in.WorkingDir != "" {
		if !path.IsAbs(in.WorkingDir) || strings.IndexByte(in.WorkingDir, 0) >= 0 {
			return "", invalid("working directory %q: must be an absolute path", in.WorkingDir)
		}
		return path.Clean(in.WorkingDir), nil
	}
	// An image's relative WorkingDir is taken from "/".
	return path.Clean("/" + in.Image.WorkingDir), nil
}

func containerEnv(in Input, home string) ([]string, error) {
	base := []string{"PATH=" + DefaultPathEnv}
	if in.Hostname != "" {
		base = append(base, "HOSTNAME="+in.Hostname)
	}
	if in.Tty {
		base = append(base, "TERM=xterm")
	}
	userKeys := map[string]bool{}
	for _, e := range in.Env {
		k := envKey(e)
		if err := checkEnvKey(k); err != nil {
			return nil, invalid("environment variable %q: %v", e, err)
		}
		userKeys[k] = true
	}
	var fromImage []string
	for _, e := range in.Image.Env {
		if k, _, ok := strings.Cut(e, "="); ok && !userKeys[k] {
			fromImage = append(fromImage, e)
		}
	}
	env := MergeEnv(base, in.Env, fromImage)
	if !slices.ContainsFunc(env, func(e string) bool { return envKey(e) == "HOME" }) {
		env = append(env, "HOME="+home)
	}
	return env, nil
}

func rlimits(us []Ulimit) []specs.POSIXRlimit {
	var out []specs.POSIXRlimit
	at := map[string]int{}
	for _, u := range us {
		if i, ok := at[u.Name]; ok {
			out[i] = u.Rlimit()
			continue
		}
		at[u.Name] = len(out)
		out = append(out, u.Rlimit())
	}
	return out
}

// mountDepth orders mounts so that a parent is mounted before its children.
func mountDepth(dest string) int {
	return strings.Count(path.Clean(dest), "/")
}

func setMounts(s *specs.Spec, in Input) error {
	var user []specs.Mount
	taken := map[string]bool{}
	rootProp := ""
	for i := range in.Mounts {
		m := in.Mounts[i]
		if err := m.Validate(); err != nil {
			return invalid("mount at %q: %v", m.Destination, err)
		}
		if taken[m.Destination] {
			return invalid("duplicate mount point %q", m.Destination)
		}
		taken[m.Destination] = true
		om, err := ociMount(m, in.ResolveVolume)
		if err != nil {
			return err
		}
		switch m.Propagation {
		case "shared", "rshared", "slave", "rslave":
			// Docker makes the rootfs shared for a shared bind, so that
			// the container's mounts reach the host. A user namespace's
			// mount namespace receives its parent's mounts as a slave
			// and can send none back, so the most a rootless container
			// can have is rslave: host mounts appear in it; the bind
			// itself still gets its shared propagation. (As root too:
			// the runtime keeps the rootfs unshared for pivot_root.)
			if rootProp == "" {
				rootProp = "rslave"
			}
		}
		user = append(user, om)
	}
	for _, v := range slices.Sorted(maps.Keys(in.Image.Volumes)) {
		d := path.Clean("/" + v)
		if d == "/" || taken[d] {
			continue
		}
		taken[d] = true
		om, err := ociMount(Mount{Type: MountVolume, Destination: d}, in.ResolveVolume)
		if err != nil {
			return err
		}
		user = append(user, om)
	}
	for _, sm := range in.SystemMounts {
		d := path.Clean(sm.Destination)
		if taken[d] {
			continue
		}
		taken[d] = true
		user = append(user, sm)
	}
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return mountDepth(a.Destination) - mountDepth(b.Destination)
	})

	for _, m := range defaultMounts(in.ShmSize) {
		if taken[m.Destination] || taken["/dev"] && strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		switch m.Destination {
		case "/sys", "/sys/fs/cgroup":
			if in.Privileged && !in.ReadOnly {
				m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "ro" })
			}
		case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue":
		default:
			if in.ReadOnly && !slices.Contains(m.Options, "ro") {
				m.Options = append(m.Options, "ro")
			}
		}
		s.Mounts = append(s.Mounts, m)
	}
	s.Mounts = append(s.Mounts, user...)
	s.Linux.RootfsPropagation = rootProp
	return nil
}

// defaultTmpfsFlags are Docker's flags for user tmpfs mounts.
var defaultTmpfsFlags = []string{"noexec", "nosuid", "nodev"}

func ociMount(m Mount, resolve func(Mount) (string, error)) (specs.Mount, error) {
	access := "rw"
	if m.ReadOnly {
		access = "ro"
	}
	switch m.Type {
	case MountTmpfs:
		opts := slices.Clone(defaultTmpfsFlags)
		if m.TmpfsPlain {
			opts = nil
		}
		for _, o := range m.TmpfsOptions {
			if other := tmpfsFlags[o]; other != "" {
				opts = slices.DeleteFunc(opts, func(x string) bool { return x == other })
			}
			if !slices.Contains(opts, o) {
				opts = append(opts, o)
			}
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		if m.TmpfsSize > 0 {
			opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
		}
		if m.TmpfsMode != 0 {
			opts = append(opts, fmt.Sprintf("mode=%o", m.TmpfsMode))
		}
		return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case MountVolume, MountBind:
		if m.Overlay {
			return specs.Mount{}, fmt.Errorf("mount at %q: option O (overlay): %w", m.Destination, errdefs.ErrUnsupported)
		}
		src := m.Source
		if m.Type == MountVolume {
			if resolve == nil {
				return specs.Mount{}, fmt.Errorf("volume at %q: no volume resolver: %w", m.Destination, errdefs.ErrUnsupported)
			}
			var err error
			if src, err = resolve(m); err != nil {
				return specs.Mount{}, err
			}
		}
		prop := m.Propagation
		if prop == "" {
			prop = "rprivate"
		}
		return specs.Mount{Destination: m.Destination, Type: "bind", Source: src, Options: []string{"rbind", access, prop}}, nil
	}
	return specs.Mount{}, invalid("mount at %q: unknown type %q", m.Destination, m.Type)
}

func setDevices(s *specs.Spec, in Input) error {
	rules := s.Linux.Resources.Devices
	seen := map[string]bool{}
	if in.Privileged {
		for _, d := range hostDevices() {
			seen[d.Path] = true
			s.Linux.Devices = append(s.Linux.Devices, d)
		}
		rules = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	for _, d := range in.Devices {
		dev, err := statDevice(d.HostPath)
		if err != nil {
			return invalid("device %q: %w", d.HostPath, err)
		}
		dev.Path = d.ContainerPath
		if seen[dev.Path] {
			s.Linux.Devices = slices.DeleteFunc(s.Linux.Devices, func(x specs.LinuxDevice) bool { return x.Path == dev.Path })
		}
		seen[dev.Path] = true
		s.Linux.Devices = append(s.Linux.Devices, dev)
		if !in.Privileged {
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: dev.Type, Major: i64(dev.Major), Minor: i64(dev.Minor), Access: d.Permissions})
		}
	}
	s.Linux.Resources.Devices = rules
	return nil
}

func setSysctls(s *specs.Spec, in Input) error {
	if len(in.Sysctls) == 0 {
		return nil
	}
	s.Linux.Sysctl = make(map[string]string, len(in.Sysctls))
	for _, k := range slices.Sorted(maps.Keys(in.Sysctls)) {
		v := in.Sysctls[k]
		if err := checkSysctl(k, v); err != nil {
			return invalid("sysctl %q: %v", k+"="+v, err)
		}
		if in.Network == NetworkHost && strings.HasPrefix(k, "net.") {
			return invalid("sysctl %q: net.* sysctls cannot be set with --network host", k+"="+v)
		}
		s.Linux.Sysctl[k] = v
	}
	return nil
}
