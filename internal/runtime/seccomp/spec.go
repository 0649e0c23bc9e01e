package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ToSpec resolves a profile for a container with the capability set caps
// on the GOARCH arch ("" means the running one) into the runtime-spec form:
// entries whose includes or excludes do not select this container are
// dropped, so the result no longer depends on capabilities. The engine uses
// it to put --security-opt seccomp=... into a container's spec.
func ToSpec(profile *Profile, caps []string, arch string) (*specs.LinuxSeccomp, error) {
	if profile == nil || (profile.DefaultAction == "" && len(profile.Syscalls) == 0) {
		return nil, nil
	}
	if err := ValidateProfile(profile); err != nil {
		return nil, err
	}
	ai, err := lookupArch(arch)
	if err != nil {
		return nil, err
	}
	capSet := make(map[string]bool, len(caps))
	for _, c := range caps {
		capSet[normCap(c)] = true
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:   specs.LinuxSeccompAction(profile.DefaultAction),
		DefaultErrnoRet: profile.DefaultErrnoRet,
	}
	if profile.DefaultErrnoRet == nil && profile.DefaultErrno != "" {
		if v, err := parseErrno(profile.DefaultErrno, nil, 0); err == nil {
			out.DefaultErrnoRet = &v
		}
	}
	for _, a := range profile.Architectures {
		out.Architectures = append(out.Architectures, specs.Arch(a))
	}
	for _, f := range profile.Flags {
		out.Flags = append(out.Flags, specs.LinuxSeccompFlag(f))
	}
	for _, s := range profile.Syscalls {
		if s == nil || !applies(s, capSet, ai.name) {
			continue
		}
		names, err := syscallNames(s)
		if err != nil {
			return nil, err
		}
		sc := specs.LinuxSyscall{Names: names, Action: specs.LinuxSeccompAction(s.Action), ErrnoRet: s.ErrnoRet}
		if sc.ErrnoRet == nil && s.Errno != "" {
			if v, err := parseErrno(s.Errno, nil, 0); err == nil {
				sc.ErrnoRet = &v
			}
		}
		for _, a := range s.Args {
			if a == nil {
				continue
			}
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: specs.LinuxSeccompOperator(a.Op)})
		}
		out.Syscalls = append(out.Syscalls, sc)
	}
	return out, nil
}
