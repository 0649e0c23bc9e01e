package runtime

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime/caps"
	"github.com/cove-run/cove/internal/runtime/proto"
	"github.com/cove-run/cove/internal/runtime/seccomp"
)

// rlimitResource maps an OCI rlimit type to its resource number. (A switch
// rather than a map: nothing to build at package init, which every start of
// the cove binary pays.)
func rlimitResource(name string) (int, bool) {
	switch name {
	case "RLIMIT_AS":
		return unix.RLIMIT_AS, true
	case "RLIMIT_CORE":
		return unix.RLIMIT_CORE, true
	case "RLIMIT_CPU":
		return unix.RLIMIT_CPU, true
	case "RLIMIT_DATA":
		return unix.RLIMIT_DATA, true
	case "RLIMIT_FSIZE":
		return unix.RLIMIT_FSIZE, true
	case "RLIMIT_LOCKS":
		return unix.RLIMIT_LOCKS, true
	case "RLIMIT_MEMLOCK":
		return unix.RLIMIT_MEMLOCK, true
	case "RLIMIT_MSGQUEUE":
		return unix.RLIMIT_MSGQUEUE, true
	case "RLIMIT_NICE":
		return unix.RLIMIT_NICE, true
	case "RLIMIT_NOFILE":
		return unix.RLIMIT_NOFILE, true
	case "RLIMIT_NPROC":
		return unix.RLIMIT_NPROC, true
	case "RLIMIT_RSS":
		return unix.RLIMIT_RSS, true
	case "RLIMIT_RTPRIO":
		return unix.RLIMIT_RTPRIO, true
	case "RLIMIT_RTTIME":
		return unix.RLIMIT_RTTIME, true
	case "RLIMIT_SIGPENDING":
		return unix.RLIMIT_SIGPENDING, true
	case "RLIMIT_STACK":
		return unix.RLIMIT_STACK, true
	}
	return 0, false
}

// buildConfig digests a validated spec into what the init needs (see
// proto.Config); every name that could be wrong is resolved here, before a
// process exists.
func buildConfig(s *specs.Spec, filter *seccomp.Filter) (*proto.Config, error) {
	p := s.Process
	c := &proto.Config{
		Rootfs:            s.Root.Path,
		RootReadonly:      s.Root.Readonly,
		RootfsPropagation: s.Linux.RootfsPropagation,
		Mounts:            s.Mounts,
		MaskedPaths:       s.Linux.MaskedPaths,
		ReadonlyPaths:     s.Linux.ReadonlyPaths,
		Hostname:          s.Hostname,
		Domainname:        s.Domainname,
		Sysctl:            s.Linux.Sysctl,
		Args:              p.Args,
		Env:               p.Env,
		Cwd:               p.Cwd,
		UID:               p.User.UID,
		GID:               p.User.GID,
		AdditionalGids:    p.User.AdditionalGids,
		Terminal:          p.Terminal,
		NoNewPrivileges:   p.NoNewPrivileges,
	}
	if p.Terminal && p.ConsoleSize != nil {
		c.ConsoleRows, c.ConsoleCols = clamp16(p.ConsoleSize.Height), clamp16(p.ConsoleSize.Width)
	}
	for _, d := range s.Linux.Devices {
		if !path.IsAbs(d.Path) {
			return nil, errdefs.InvalidArgument("spec: device path %q is not absolute", d.Path)
		}
		src, err := hostDevice(d)
		if err != nil {
			return nil, err
		}
		c.Devices = append(c.Devices, proto.Device{Path: d.Path, Source: src})
	}
	if pc := p.Capabilities; pc != nil {
		c.Caps = &proto.Caps{}
		for _, x := range []struct {
			dst  *uint64
			list []string
		}{{&c.Caps.Bounding, pc.Bounding}, {&c.Caps.Effective, pc.Effective}, {&c.Caps.Permitted, pc.Permitted},
			{&c.Caps.Inheritable, pc.Inheritable}, {&c.Caps.Ambient, pc.Ambient}} {
			set, err := caps.Parse(x.list)
			if err != nil {
				return nil, errdefs.InvalidArgument("spec: %v", err)
			}
			*x.dst = uint64(set)
		}
	}
	for _, l := range p.Rlimits {
		res, ok := rlimitResource(l.Type)
		if !ok {
			return nil, errdefs.InvalidArgument("spec: unknown resource limit %q", l.Type)
		}
		if l.Soft > l.Hard {
			return nil, errdefs.InvalidArgument("spec: %s soft limit %d is above the hard limit %d", l.Type, l.Soft, l.Hard)
		}
		c.Rlimits = append(c.Rlimits, proto.Rlimit{Name: l.Type, Resource: res, Soft: l.Soft, Hard: l.Hard})
	}
	if v, ok := s.Annotations[AnnotationInit]; ok {
		switch v {
		case "true", "1":
			c.Init = true
		case "false", "0", "":
		default:
			return nil, errdefs.InvalidArgument("spec: annotation %s=%q: want true or false", AnnotationInit, v)
		}
	}
	if c.Init && !hasProc(s.Mounts) {
		// The reaper checks the capabilities of its own threads in
		// /proc/self/task (see initproc).
		return nil, errdefs.InvalidArgument("spec: the init process (%s) needs /proc mounted in the container", AnnotationInit)
	}
	if filter != nil {
		// struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }
		prog := make([]byte, 8*len(filter.Program))
		for i, ins := range filter.Program {
			b := prog[i*8:]
			binary.NativeEndian.PutUint16(b[0:], ins.Op)
			b[2], b[3] = ins.Jt, ins.Jf
			binary.NativeEndian.PutUint32(b[4:], ins.K)
		}
		c.Seccomp = &proto.Seccomp{Program: prog, Flags: filter.Flags}
	}
	return c, nil
}

func clamp16(v uint) uint16 {
	if v > 0xffff {
		return 0xffff
	}
	return uint16(v)
}

func hasProc(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if path.Clean(m.Destination) == "/proc" && (m.Type == "proc" || m.Type == "bind") {
			return true
		}
	}
	return false
}

// hostDevice finds the host's node for a spec device, to be bound in the
// container (a user namespace cannot mknod). The spec names the device by
// type and number and says where it goes in the container, not where it
// is on the host (--device /dev/null:/dev/mynull): the node at the same
// path when it is that device, else udev's /dev/char/MAJ:MIN or
// /dev/block/MAJ:MIN link, else any node of /dev with that number.
//
// The node must be one this process can open for reading or writing: a
// bind of a node the user cannot open would exist in the container and
// fail there with EACCES, long after the mistake. In a rootless user
// namespace that means the node's "other" bits, unless its owner is
// mapped (capabilities do not override the permissions of an unmapped
// owner's file), which is the kernel's own answer for the container too.
func hostDevice(d specs.LinuxDevice) (string, error) {
	var typ uint32
	var dir string
	switch d.Type {
	case "c", "u":
		typ, dir = unix.S_IFCHR, "/dev/char"
	case "b":
		typ, dir = unix.S_IFBLK, "/dev/block"
	default:
		return "", errdefs.InvalidArgument("spec: device %s: type %q is not c, u or b", d.Path, d.Type)
	}
	rdev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	is := func(p string) bool {
		var st unix.Stat_t
		return unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == typ && st.Rdev == rdev
	}
	src := ""
	if is(d.Path) {
		src = d.Path
	} else if link := fmt.Sprintf("%s/%d:%d", dir, d.Major, d.Minor); is(link) {
		if p, err := filepath.EvalSymlinks(link); err == nil {
			src = p
		}
	}
	if src == "" {
		filepath.WalkDir("/dev", func(p string, e fs.DirEntry, err error) error {
			switch {
			case err != nil || src != "":
				return filepath.SkipDir
			case e.IsDir() && (p == "/dev/pts" || p == "/dev/shm" || p == "/dev/mqueue" || p == "/dev/fd"):
				return filepath.SkipDir
			case e.Type()&fs.ModeDevice != 0 && is(p):
				src = p
			}
			return nil
		})
	}
	if src == "" {
		return "", errdefs.InvalidArgument("device %s: no %s device %d:%d on the host", d.Path, d.Type, d.Major, d.Minor)
	}
	if unix.Faccessat(unix.AT_FDCWD, src, unix.R_OK, unix.AT_EACCESS) != nil &&
		unix.Faccessat(unix.AT_FDCWD, src, unix.W_OK, unix.AT_EACCESS) != nil {
		at := ""
		if src != d.Path {
			at = " (for " + d.Path + " in the container)"
		}
		return "", errdefs.InvalidArgument("device %s%s: this user cannot open it (permission denied); a container can only be given devices its user can read or write", src, at)
	}
	return src, nil
}
