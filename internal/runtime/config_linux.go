package runtime

import (
	"encoding/binary"
	"path"

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
		c.Devices = append(c.Devices, d.Path)
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
