package runtime

import (
	"fmt"
	"path"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
)

// namespaces is what the spec's namespace list means for clone(2).
type namespaces struct {
	flags uintptr
	has   map[specs.LinuxNamespaceType]bool
	names string // for messages: "mount,pid,uts"
}

func cloneFlag(t specs.LinuxNamespaceType) (uintptr, bool) {
	switch t {
	case specs.MountNamespace:
		return unix.CLONE_NEWNS, true
	case specs.PIDNamespace:
		return unix.CLONE_NEWPID, true
	case specs.UTSNamespace:
		return unix.CLONE_NEWUTS, true
	case specs.IPCNamespace:
		return unix.CLONE_NEWIPC, true
	case specs.NetworkNamespace:
		return unix.CLONE_NEWNET, true
	case specs.CgroupNamespace:
		return unix.CLONE_NEWCGROUP, true
	case specs.UserNamespace:
		return unix.CLONE_NEWUSER, true
	}
	// The time namespace applies only to children of the process that
	// unshares it; clone(2) cannot create it for the init itself.
	return 0, false
}

// validate checks what can be checked before a process exists, so that a
// spec Start cannot run fails fast with exit code 125.
func validate(s *specs.Spec) (namespaces, error) {
	var ns namespaces
	switch {
	case s == nil:
		return ns, errdefs.InvalidArgument("no spec")
	case s.Process == nil || len(s.Process.Args) == 0:
		return ns, errdefs.InvalidArgument("spec: no process arguments")
	case s.Root == nil || !path.IsAbs(s.Root.Path):
		return ns, errdefs.InvalidArgument("spec: root.path must be an absolute path")
	case s.Linux == nil:
		return ns, errdefs.InvalidArgument("spec: no linux section")
	}
	ns.has = map[specs.LinuxNamespaceType]bool{}
	var names []string
	for _, n := range s.Linux.Namespaces {
		f, ok := cloneFlag(n.Type)
		if !ok {
			return ns, fmt.Errorf("%s namespace: %w", n.Type, errdefs.ErrUnsupported)
		}
		if n.Path != "" {
			// setns into a user or mount namespace needs a single-threaded
			// process; a Go program never is one.
			return ns, fmt.Errorf("joining the existing %s namespace %s: %w", n.Type, n.Path, errdefs.ErrUnsupported)
		}
		if !ns.has[n.Type] {
			ns.flags |= f
			ns.has[n.Type] = true
			names = append(names, string(n.Type))
		}
	}
	sort.Strings(names)
	ns.names = strings.Join(names, ",")
	if !ns.has[specs.MountNamespace] {
		// Every mount the init makes would land in the caller's namespace.
		return ns, errdefs.InvalidArgument("spec: a mount namespace is required")
	}
	if (s.Hostname != "" || s.Domainname != "") && !ns.has[specs.UTSNamespace] {
		return ns, errdefs.InvalidArgument("spec: setting the hostname needs a UTS namespace")
	}
	if !ns.has[specs.UserNamespace] && (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) {
		return ns, errdefs.InvalidArgument("spec: ID mappings need a user namespace")
	}
	if ns.has[specs.UserNamespace] && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
		return ns, errdefs.InvalidArgument("spec: a new user namespace needs uidMappings and gidMappings")
	}
	for k := range s.Linux.Sysctl {
		if err := checkSysctl(k, ns.has); err != nil {
			return ns, err
		}
	}
	for _, m := range s.Mounts {
		if !path.IsAbs(m.Destination) {
			return ns, errdefs.InvalidArgument("spec: mount destination %q is not an absolute path", m.Destination)
		}
		if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
			return ns, fmt.Errorf("ID-mapped mount on %s: %w", m.Destination, errdefs.ErrUnsupported)
		}
	}
	return ns, nil
}

// checkSysctl accepts only keys that act on one of the container's own
// namespaces, as Docker does; anything else would change the host.
func checkSysctl(key string, has map[specs.LinuxNamespaceType]bool) error {
	need := specs.LinuxNamespaceType("")
	switch {
	case strings.HasPrefix(key, "net."):
		need = specs.NetworkNamespace
	case strings.HasPrefix(key, "kernel.shm"), strings.HasPrefix(key, "kernel.msg"),
		key == "kernel.sem", strings.HasPrefix(key, "fs.mqueue."):
		need = specs.IPCNamespace
	case key == "kernel.hostname", key == "kernel.domainname":
		need = specs.UTSNamespace
	default:
		return errdefs.InvalidArgument("sysctl %q is not namespaced and would change the host (allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname, kernel.domainname)", key)
	}
	if strings.Contains(key, "/") || strings.Contains(key, "..") {
		return errdefs.InvalidArgument("sysctl %q: invalid name", key)
	}
	if !has[need] {
		return errdefs.InvalidArgument("sysctl %q needs the container to have its own %s namespace", key, need)
	}
	return nil
}
