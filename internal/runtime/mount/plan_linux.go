package mount

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Step is one entry of the spec's mounts digested into what the kernel is
// asked, with every decision already taken: which file system, which
// flags, what to fall back to when a user namespace refuses a fresh
// instance. The Go init executes it (Rootfs.Mount) and so does the C init
// (initproc's cinit_linux.c), which receives it from the parent encoded
// by runtime; one planner keeps the two from drifting apart.
type Step struct {
	// Bind binds the host path Source; otherwise a new instance of FSType
	// is mounted with Source as its name.
	Bind   bool
	Source string
	// Dest is the cleaned container path.
	Dest   string
	FSType string
	// Flags (MS_*) go to the mount call; Cleared are flags the options
	// explicitly turned off, which a bind remount must not repeat.
	Flags, Cleared uintptr
	// Data is the file-system specific option string.
	Data string
	// Rec makes a bind recursive (rbind).
	Rec bool
	// Recursive holds MOUNT_ATTR_* bits for the whole tree;
	// RecursiveBestEffort skips them on a kernel without
	// mount_setattr(2).
	Recursive           uint64
	RecursiveBestEffort bool
	// Propagation changes, one mount(2) call each.
	Propagation []uintptr

	// Fallback says when a failed mount of a new instance is replaced by
	// a bind of the host's FallbackSource: FallbackNone, FallbackOnEPERM
	// (the error of the bind is reported alone) or FallbackOnError (any
	// error; both are reported).
	Fallback       int
	FallbackSource string
	// FallbackFlags are added to Flags for the fallback bind, and
	// FallbackRecursive to Recursive (which then is best effort).
	FallbackFlags     uintptr
	FallbackRecursive uint64

	// DevTmpfs and Devpts mark the tmpfs on /dev and the devpts instance
	// on /dev/pts, which decide how /dev is populated (SetupDev).
	DevTmpfs, Devpts bool
}

// Fallback kinds of a Step.
const (
	FallbackNone    = 0
	FallbackOnEPERM = 1
	FallbackOnError = 2
)

// HostFacts are what a plan needs to know about the init's future
// environment.
type HostFacts struct {
	// GIDMapped reports whether a group ID exists in the init's user
	// namespace.
	GIDMapped func(uint32) bool
	// Exists reports whether a host path exists (the host's /dev/mqueue).
	Exists func(string) bool
}

// Plan digests one spec mount. It fails only for a mount the spec cannot
// ask for (a relative destination, an unsupported option).
func Plan(m specs.Mount, h HostFacts) (Step, error) {
	dest := m.Destination
	if !path.IsAbs(dest) {
		return Step{}, fmt.Errorf("mount destination %q: not an absolute path", dest)
	}
	dest = path.Clean(dest)
	o, err := parseOptions(m.Options)
	if err != nil {
		return Step{}, fmt.Errorf("mount on %s: %w", dest, err)
	}
	s := Step{Source: m.Source, Dest: dest, FSType: m.Type}
	if m.Type == "bind" || o.bind {
		s.Bind = true
		s.FSType = ""
		s.fill(o)
		return s, nil
	}
	switch m.Type {
	case "proc":
		// A fresh procfs needs the pid namespace to be owned by our user
		// namespace: true with our own pid namespace, false when a
		// rootless container shares the caller's. Fall back to a
		// recursive bind of the caller's /proc then (what podman does).
		s.Fallback, s.FallbackSource = FallbackOnEPERM, "/proc"
	case "sysfs":
		// The kernel allows a new sysfs only to a mounter privileged over
		// the current network namespace: fine with the container's own
		// netns, refused (EPERM) in a user namespace when the container
		// shares the host's network. Then bind the host's /sys, read-only,
		// which shows the host's devices but cannot change them, with its
		// submounts (cgroup trees, debugfs, ...) read-only too where the
		// kernel can do that (Linux 5.12).
		s.Fallback, s.FallbackSource = FallbackOnEPERM, "/sys"
		s.FallbackFlags, s.FallbackRecursive = unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY
	case "mqueue":
		// Like proc, mqueue needs an IPC namespace owned by our user
		// namespace; share the caller's queues otherwise.
		if h.Exists("/dev/mqueue") {
			s.Fallback, s.FallbackSource = FallbackOnEPERM, "/dev/mqueue"
		}
	case "cgroup", "cgroup2":
		// cove does not manage cgroups yet. Show the container its own
		// cgroup2 tree when the kernel lets us (a cgroup namespace owned by
		// our user namespace), else the caller's tree read-only.
		s.FSType = "cgroup2"
		s.Fallback, s.FallbackSource, s.FallbackFlags = FallbackOnError, "/sys/fs/cgroup", unix.MS_RDONLY
	case "devpts":
		o.data = fixDevptsGID(o.data, h.GIDMapped)
		s.Devpts = dest == "/dev/pts"
	case "tmpfs":
		if dest == "/dev/shm" && !hasOption(o.data, "size") {
			o.data = append(o.data, "size=65536k") // Docker's default, 64 MiB
		}
		s.DevTmpfs = dest == "/dev"
	}
	if s.Source == "" {
		s.Source = s.FSType
	}
	s.fill(o)
	return s, nil
}

func (s *Step) fill(o options) {
	s.Flags, s.Cleared, s.Data = o.flags, o.cleared, o.dataString()
	s.Rec, s.Recursive, s.RecursiveBestEffort = o.rec, o.recursive, o.recursiveBestEffort
	s.Propagation = o.propagation
}

// options returns the step's options back in the form the Go init's
// helpers take.
func (s *Step) options() options {
	o := options{flags: s.Flags, cleared: s.Cleared, rec: s.Rec, recursive: s.Recursive,
		recursiveBestEffort: s.RecursiveBestEffort, propagation: s.Propagation, bind: s.Bind}
	if s.Data != "" {
		o.data = strings.Split(s.Data, ",")
	}
	return o
}

// fallbackOptions are the options of the fallback bind.
func (s *Step) fallbackOptions() options {
	o := s.options()
	o.rec = true
	o.flags |= s.FallbackFlags
	if s.FallbackRecursive != 0 {
		o.recursive |= s.FallbackRecursive
		o.recursiveBestEffort = true
	}
	return o
}

// DevicesToBind lists the device nodes SetupDev binds: the default devices
// when the spec mounts a tmpfs on /dev, then the spec's, a later entry for
// the same path replacing an earlier one (a --device over a default).
func DevicesToBind(devTmpfs bool, devices []Device) []Device {
	var list []Device
	if devTmpfs {
		for _, p := range defaultDevices {
			list = append(list, Device{Source: p, Path: p})
		}
	}
	for _, d := range devices {
		list = append(list, Device{Source: d.Source, Path: path.Clean(d.Path)})
	}
	last := map[string]int{}
	for i, d := range list {
		last[d.Path] = i
	}
	out := list[:0]
	for i, d := range list {
		if last[d.Path] == i {
			out = append(out, d)
		}
	}
	return out
}

// GIDMapFunc reads a gid_map (the kernel's "inside outside count" lines)
// into a membership test. Without one (no user namespaces), every group
// exists.
func GIDMapFunc(gidMap []byte, err error) func(uint32) bool {
	if err != nil {
		return func(uint32) bool { return true }
	}
	type span struct{ start, n uint64 }
	var spans []span
	for _, line := range strings.Split(string(gidMap), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(f[0], 10, 32)
		n, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			spans = append(spans, span{start, n})
		}
	}
	return func(gid uint32) bool {
		for _, s := range spans {
			if uint64(gid) >= s.start && uint64(gid) < s.start+s.n {
				return true
			}
		}
		return false
	}
}
