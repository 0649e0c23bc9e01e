package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	cseccomp "go.podman.io/common/pkg/seccomp"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime/seccomp"
)

// compileSeccomp compiles the spec's seccomp section to BPF in the parent,
// so that a bad profile is reported before any process exists and the init
// only has to load it. nil means unconfined.
func compileSeccomp(s *specs.Spec) (*seccomp.Filter, error) {
	sc := s.Linux.Seccomp
	if sc == nil {
		return nil, nil
	}
	if sc.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp listener (SCMP_ACT_NOTIFY): %w", errdefs.ErrUnsupported)
	}
	p := specProfile(sc)
	var bounding []string
	if s.Process.Capabilities != nil {
		bounding = s.Process.Capabilities.Bounding
	}
	f, err := seccomp.Compile(p, bounding, "")
	if err != nil {
		return nil, errdefs.InvalidArgument("%v", err)
	}
	return f, nil
}

// specProfile converts the runtime-spec form, in which includes and
// excludes are already resolved, into the profile type the compiler reads.
func specProfile(sc *specs.LinuxSeccomp) *seccomp.Profile {
	p := &seccomp.Profile{
		DefaultAction:   cseccomp.Action(sc.DefaultAction),
		DefaultErrnoRet: sc.DefaultErrnoRet,
	}
	for _, a := range sc.Architectures {
		p.Architectures = append(p.Architectures, cseccomp.Arch(a))
	}
	for _, f := range sc.Flags {
		p.Flags = append(p.Flags, string(f))
	}
	p.Syscalls = make([]*cseccomp.Syscall, 0, len(sc.Syscalls))
	for _, c := range sc.Syscalls {
		sys := &cseccomp.Syscall{
			Names:    append([]string(nil), c.Names...),
			Action:   cseccomp.Action(c.Action),
			ErrnoRet: c.ErrnoRet,
		}
		for _, a := range c.Args {
			sys.Args = append(sys.Args, &cseccomp.Arg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: cseccomp.Operator(a.Op)})
		}
		p.Syscalls = append(p.Syscalls, sys)
	}
	return p
}
