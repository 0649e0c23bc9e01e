//go:build linux

package seccomp

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	cseccomp "go.podman.io/common/pkg/seccomp"
	"golang.org/x/sys/unix"
)

const (
	allow       = retAllow
	killProcess = retKillProcess
)

func errno(e unix.Errno) uint32 { return retErrno | uint32(e) }

func uptr(v uint) *uint { return &v }

// compileVM compiles p and returns the filter, its plan and a VM for it.
func compileVM(t testing.TB, p *Profile, caps []string, arch string) (*Filter, *plan, func(sdata) uint32) {
	t.Helper()
	f, err := Compile(p, caps, arch)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	pl, err := makePlan(p, caps, arch)
	if err != nil {
		t.Fatalf("makePlan: %v", err)
	}
	vm := vmFor(t, f.Program)
	return f, pl, func(d sdata) uint32 { return runVM(t, vm, d) }
}

func nr(t testing.TB, arch, name string) uint32 {
	t.Helper()
	n, ok := SyscallNumber(arch, name)
	if !ok {
		t.Fatalf("no syscall %q on %s", name, arch)
	}
	return uint32(n)
}

func call(n uint32, args ...uint64) sdata {
	d := sdata{nr: n, arch: auditX86_64}
	copy(d.args[:], args)
	return d
}

func TestCompileActionsAndLayout(t *testing.T) {
	p := &Profile{
		DefaultAction: cseccomp.ActErrno,
		DefaultErrno:  "ENOSYS",
		Syscalls: []*cseccomp.Syscall{
			{Names: []string{"read", "write", "not_a_syscall"}, Action: cseccomp.ActAllow},
			{Name: "mkdir", Action: cseccomp.ActErrno, Errno: "EPERM"},
			{Name: "ptrace", Action: cseccomp.ActKillProcess},
			{Name: "kill", Action: cseccomp.ActKill},
			{Name: "getpid", Action: cseccomp.ActLog},
			{Name: "uname", Action: cseccomp.ActTrace, ErrnoRet: uptr(7)},
			{Name: "getuid", Action: cseccomp.ActTrap},
			{Name: "rmdir", Action: cseccomp.ActErrno, Errno: "13"},
		},
	}
	f, _, run := compileVM(t, p, nil, "amd64")
	if want := []string{"not_a_syscall"}; !slices.Equal(f.Skipped, want) {
		t.Errorf("Skipped = %v, want %v", f.Skipped, want)
	}
	if f.DefaultAction != errno(unix.ENOSYS) {
		t.Errorf("DefaultAction = %#x", f.DefaultAction)
	}
	a := "amd64"
	for _, c := range []struct {
		d    sdata
		want uint32
	}{
		{call(nr(t, a, "read")), allow},
		{call(nr(t, a, "write"), 1, 2, 3), allow},
		{call(nr(t, a, "mkdir")), errno(unix.EPERM)},
		{call(nr(t, a, "ptrace")), killProcess},
		{call(nr(t, a, "kill")), retKillThread},
		{call(nr(t, a, "getpid")), retLog},
		{call(nr(t, a, "uname")), retTrace | 7},
		{call(nr(t, a, "getuid")), retTrap},
		{call(nr(t, a, "rmdir")), errno(unix.EACCES)},
		{call(nr(t, a, "open")), errno(unix.ENOSYS)},
		{call(1000), errno(unix.ENOSYS)},
		{call(0xffffffff), errno(unix.ENOSYS)},
		{call(x32Bit | 0), errno(unix.ENOSYS)},                                   // x32 read
		{sdata{nr: 0, arch: auditI386}, errno(unix.ENOSYS)},                      // i386 restart_syscall
		{sdata{nr: nr(t, a, "read"), arch: auditAARCH64}, errno(unix.ENOSYS)},    // foreign arch
		{sdata{nr: nr(t, a, "read"), arch: auditX86_64 ^ 1}, errno(unix.ENOSYS)}, // near miss
	} {
		if got := run(c.d); got != c.want {
			t.Errorf("%+v: got %#x, want %#x", c.d, got, c.want)
		}
	}
}

func TestErrnoDefaultsToEPERM(t *testing.T) {
	p := &Profile{
		DefaultAction: cseccomp.ActErrno, // no errno: EPERM (OCI spec, runc, crun)
		Syscalls: []*cseccomp.Syscall{
			{Name: "read", Action: cseccomp.ActAllow},
			{Name: "mkdir", Action: cseccomp.ActErrno},
			{Name: "rmdir", Action: cseccomp.ActErrno, ErrnoRet: uptr(uint(unix.EROFS))},
		},
	}
	f, _, run := compileVM(t, p, nil, "amd64")
	if f.DefaultAction != errno(unix.EPERM) {
		t.Fatalf("DefaultAction = %#x", f.DefaultAction)
	}
	// mkdir's rule equals the default action and is dropped; same result.
	if got := run(call(nr(t, "amd64", "mkdir"))); got != errno(unix.EPERM) {
		t.Errorf("mkdir: %#x", got)
	}
	if got := run(call(nr(t, "amd64", "rmdir"))); got != errno(unix.EROFS) {
		t.Errorf("rmdir: %#x", got)
	}
}

// interesting64 are argument values around the 32-bit word boundaries.
var interesting64 = []uint64{
	0, 1, 2, 5, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	0x100000000, 0x100000001, 0x100000005, 0x1ffffffff, 0x200000000,
	0xffffffff00000000, 0xffffffff00000005, 0xfffffffffffffffe, 0xffffffffffffffff,
}

func TestArgOperators(t *testing.T) {
	ops := []cseccomp.Operator{
		cseccomp.OpEqualTo, cseccomp.OpNotEqual, cseccomp.OpLessThan, cseccomp.OpLessEqual,
		cseccomp.OpGreaterThan, cseccomp.OpGreaterEqual, cseccomp.OpMaskedEqual,
	}
	inputs := slices.Clone(interesting64)
	for _, v := range interesting64 {
		inputs = append(inputs, v-1, v+1)
	}
	for _, arch := range []string{"amd64", "386"} {
		bits := 64
		if arch == "386" {
			bits = 32
		}
		read := nr(t, arch, "read")
		for _, op := range ops {
			for _, v := range interesting64 {
				v2 := uint64(0)
				if op == cseccomp.OpMaskedEqual {
					v2 = v & 0x0000000500000005 // a datum inside and outside the mask
				}
				p := &Profile{
					DefaultAction: cseccomp.ActErrno,
					Syscalls: []*cseccomp.Syscall{{
						Name: "read", Action: cseccomp.ActAllow,
						Args: []*cseccomp.Arg{{Index: 3, Value: v, ValueTwo: v2, Op: op}},
					}},
				}
				_, _, run := compileVM(t, p, nil, arch)
				audit := uint32(auditX86_64)
				if arch == "386" {
					audit = auditI386
				}
				for _, x := range inputs {
					d := sdata{nr: read, arch: audit}
					d.args[3] = x
					want := errno(unix.EPERM)
					if holds(*p.Syscalls[0].Args[0], x, bits) {
						want = allow
					}
					if got := run(d); got != want {
						t.Errorf("%s: arg3=%#x %s %#x (two %#x): got %#x, want %#x", arch, x, op, v, v2, got, want)
					}
				}
			}
		}
	}
}

func TestConditionSemantics(t *testing.T) {
	a := "amd64"
	read, write := nr(t, a, "read"), nr(t, a, "write")
	p := &Profile{
		DefaultAction: cseccomp.ActErrno,
		DefaultErrno:  "ENOSYS",
		Syscalls: []*cseccomp.Syscall{
			// Distinct arguments: ANDed.
			{Name: "read", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
				{Index: 0, Value: 1, Op: cseccomp.OpEqualTo},
				{Index: 2, Value: 3, Op: cseccomp.OpEqualTo},
			}},
			// Same argument twice: one rule per condition (ORed), as runc,
			// crun and common do.
			{Name: "write", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
				{Index: 0, Value: 1, Op: cseccomp.OpEqualTo},
				{Index: 0, Value: 2, Op: cseccomp.OpEqualTo},
			}},
			// A conditional rule followed by an unconditional one: the
			// unconditional one wins (libseccomp keeps the shorter rule).
			{Name: "mkdir", Action: cseccomp.ActErrno, Errno: "EPERM", Args: []*cseccomp.Arg{
				{Index: 0, Value: 1, Op: cseccomp.OpEqualTo},
			}},
			{Name: "mkdir", Action: cseccomp.ActAllow},
			// An unconditional rule followed by a conditional one: likewise.
			{Name: "rmdir", Action: cseccomp.ActErrno, Errno: "EROFS"},
			{Name: "rmdir", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
				{Index: 0, Value: 1, Op: cseccomp.OpEqualTo},
			}},
			// A rule with the default action is dropped, so it does not
			// shadow the later one.
			{Name: "chdir", Action: cseccomp.ActErrno, Errno: "ENOSYS", Args: []*cseccomp.Arg{
				{Index: 0, Value: 1, Op: cseccomp.OpEqualTo},
			}},
			{Name: "chdir", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
				{Index: 0, Value: 5, Op: cseccomp.OpLessEqual},
			}},
			// A masked comparison with mask 0 is always true: unconditional.
			{Name: "fchdir", Action: cseccomp.ActErrno, Errno: "EPERM", Args: []*cseccomp.Arg{
				{Index: 0, Value: 7, Op: cseccomp.OpEqualTo},
			}},
			{Name: "fchdir", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
				{Index: 1, Value: 0, ValueTwo: 99, Op: cseccomp.OpMaskedEqual},
			}},
			// Overlapping conditional rules: profile order.
			{Name: "dup", Action: cseccomp.ActErrno, Errno: "EPERM", Args: []*cseccomp.Arg{
				{Index: 0, Value: 40, Op: cseccomp.OpEqualTo},
			}},
			{Name: "dup", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
				{Index: 0, Value: 16, Op: cseccomp.OpNotEqual},
			}},
		},
	}
	_, _, run := compileVM(t, p, nil, a)
	enosys, eperm := errno(unix.ENOSYS), errno(unix.EPERM)
	for _, c := range []struct {
		d    sdata
		want uint32
	}{
		{call(read, 1, 0, 3), allow},
		{call(read, 1, 0, 4), enosys},
		{call(read, 2, 0, 3), enosys},
		{call(read, 1|1<<32, 0, 3), enosys},
		{call(write, 1), allow},
		{call(write, 2), allow},
		{call(write, 3), enosys},
		{call(nr(t, a, "mkdir"), 1), allow},
		{call(nr(t, a, "rmdir"), 1), errno(unix.EROFS)},
		{call(nr(t, a, "chdir"), 1), allow},
		{call(nr(t, a, "chdir"), 6), enosys},
		{call(nr(t, a, "fchdir"), 7), allow},
		{call(nr(t, a, "dup"), 40), eperm},
		{call(nr(t, a, "dup"), 16), enosys},
		{call(nr(t, a, "dup"), 17), allow},
	} {
		if got := run(c.d); got != c.want {
			t.Errorf("%+v: got %#x, want %#x", c.d, got, c.want)
		}
	}
}

func TestIncludesExcludes(t *testing.T) {
	p := &Profile{
		DefaultAction: cseccomp.ActErrno,
		Syscalls: []*cseccomp.Syscall{
			{Name: "read", Action: cseccomp.ActAllow, Includes: cseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN", "CAP_BPF"}}},
			{Name: "write", Action: cseccomp.ActAllow, Excludes: cseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN", "CAP_BPF"}}},
			{Name: "getpid", Action: cseccomp.ActAllow, Includes: cseccomp.Filter{Arches: []string{"arm64"}}},
			{Name: "getppid", Action: cseccomp.ActAllow, Excludes: cseccomp.Filter{Arches: []string{"amd64"}}},
			{Name: "getuid", Action: cseccomp.ActAllow, Includes: cseccomp.Filter{Arches: []string{"amd64", "x32"}}},
		},
	}
	type exp struct{ read, write, getpid, getppid, getuid bool }
	for _, c := range []struct {
		caps []string
		arch string
		want exp
	}{
		{nil, "amd64", exp{write: true, getuid: true}},
		{[]string{"CAP_SYS_ADMIN"}, "amd64", exp{getuid: true}},
		{[]string{"sys_admin", "bpf"}, "amd64", exp{read: true, getuid: true}}, // names normalized
		{[]string{"CAP_BPF"}, "arm64", exp{getpid: true, getppid: true}},
		{nil, "arm64", exp{write: true, getpid: true, getppid: true}},
	} {
		f, _, run := compileVM(t, p, c.caps, c.arch)
		audit := uint32(auditX86_64)
		if c.arch == "arm64" {
			audit = auditAARCH64
		}
		got := func(name string) bool {
			return run(sdata{nr: nr(t, c.arch, name), arch: audit}) == allow
		}
		g := exp{got("read"), got("write"), got("getpid"), got("getppid"), got("getuid")}
		if g != c.want {
			t.Errorf("caps %v on %s: got %+v, want %+v (%d insns)", c.caps, c.arch, g, c.want, f.Len())
		}
	}
}

func TestBadArchWithAllowDefault(t *testing.T) {
	// A denylist (default ALLOW) must not be bypassable through another ABI.
	p := &Profile{
		DefaultAction: cseccomp.ActAllow,
		Syscalls:      []*cseccomp.Syscall{{Name: "mkdir", Action: cseccomp.ActErrno}},
	}
	_, _, run := compileVM(t, p, nil, "amd64")
	for _, c := range []struct {
		d    sdata
		want uint32
	}{
		{call(nr(t, "amd64", "mkdir")), errno(unix.EPERM)},
		{call(nr(t, "amd64", "read")), allow},
		{call(x32Bit | 83), killProcess},
		{call(0xffffffff), allow}, // a tracer's "skip this syscall"
		{sdata{nr: 39, arch: auditI386}, killProcess},
	} {
		if got := run(c.d); got != c.want {
			t.Errorf("%+v: got %#x, want %#x", c.d, got, c.want)
		}
	}
}

func TestEmptyProfileMeansNoFilter(t *testing.T) {
	f, err := Compile(&Profile{}, nil, "")
	if f != nil || err != nil {
		t.Fatalf("Compile(empty) = %v, %v; want nil, nil", f, err)
	}
	if err := Load(nil, false); err != nil {
		t.Fatalf("Load(nil): %v", err)
	}
	if f.Len() != 0 {
		t.Fatal("nil Len")
	}
}

func TestCompileErrors(t *testing.T) {
	one := func(s *cseccomp.Syscall) *Profile {
		return &Profile{DefaultAction: cseccomp.ActErrno, Syscalls: []*cseccomp.Syscall{s}}
	}
	for _, c := range []struct {
		name string
		p    *Profile
		arch string
		want string
	}{
		{"nil", nil, "", "nil profile"},
		{"arch", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActAllow}), "mips64", "no syscall table"},
		{"no default", &Profile{Syscalls: []*cseccomp.Syscall{{Name: "read", Action: cseccomp.ActAllow}}}, "", "defaultAction: missing action"},
		{"bad default", &Profile{DefaultAction: "SCMP_ACT_NOPE"}, "", `defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{"action", one(&cseccomp.Syscall{Name: "read", Action: "SCMP_ACT_FOO"}), "", `syscalls[0] ("read"): unknown action "SCMP_ACT_FOO"`},
		{"notify", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActNotify}), "", "SCMP_ACT_NOTIFY is not supported"},
		{"op", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{{Op: "SCMP_CMP_FOO"}}}), "", `args[0]: unknown operator "SCMP_CMP_FOO"`},
		{"no op", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{{}}}), "", "args[0]: missing operator"},
		{"index", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{{Index: 6, Op: cseccomp.OpEqualTo}}}), "", "index 6 out of range"},
		{"nil arg", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{nil}}), "", "args[0]: null argument"},
		{"name+names", one(&cseccomp.Syscall{Name: "read", Names: []string{"write"}, Action: cseccomp.ActAllow}), "", `both "name" and "names"`},
		{"no name", one(&cseccomp.Syscall{Action: cseccomp.ActAllow}), "", "no syscall name"},
		{"errno name", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActErrno, Errno: "EFOO"}), "", `unknown errno "EFOO"`},
		{"errno range", one(&cseccomp.Syscall{Name: "read", Action: cseccomp.ActErrno, ErrnoRet: uptr(5000)}), "", "errno 5000 out of range"},
		{"arches", &Profile{DefaultAction: cseccomp.ActAllow, Architectures: []cseccomp.Arch{cseccomp.ArchX86}, ArchMap: []cseccomp.Architecture{{Arch: cseccomp.ArchX86_64}}}, "", `both "architectures" and "archMap"`},
		{"arch name", &Profile{DefaultAction: cseccomp.ActAllow, Architectures: []cseccomp.Arch{"SCMP_ARCH_X87"}}, "", `unknown architecture "SCMP_ARCH_X87"`},
		{"flag", &Profile{DefaultAction: cseccomp.ActAllow, Flags: []string{"SECCOMP_FILTER_FLAG_FOO"}}, "", `unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{"listener", &Profile{DefaultAction: cseccomp.ActAllow, ListenerPath: "/run/x.sock"}, "", "listenerPath"},
		{"null entry", &Profile{DefaultAction: cseccomp.ActAllow, Syscalls: []*cseccomp.Syscall{nil}}, "", "syscalls[0]: null entry"},
	} {
		_, err := Compile(c.p, nil, c.arch)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
	// Entries that do not apply are not checked (podman's behaviour)...
	p := one(&cseccomp.Syscall{Name: "read", Action: "SCMP_ACT_FOO", Includes: cseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}})
	if _, err := Compile(p, nil, "amd64"); err != nil {
		t.Errorf("inapplicable bad entry: %v", err)
	}
	// ...but ValidateProfile (used by LoadProfileJSON) checks them all.
	if err := ValidateProfile(p); err == nil {
		t.Error("ValidateProfile accepted an unknown action")
	}
}

func TestFlags(t *testing.T) {
	p := &Profile{DefaultAction: cseccomp.ActAllow, Flags: []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}}
	f, err := Compile(p, nil, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if want := uint(unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW); f.Flags != want {
		t.Errorf("Flags = %#x, want %#x", f.Flags, want)
	}
}

// TestLongJumps builds blocks far longer than an 8-bit jump offset, so the
// assembler has to insert "ja" trampolines, and checks every path.
func TestLongJumps(t *testing.T) {
	p := &Profile{DefaultAction: cseccomp.ActErrno, DefaultErrno: "ENOSYS"}
	for i := range 150 {
		p.Syscalls = append(p.Syscalls, &cseccomp.Syscall{
			Name: "ioctl", Action: cseccomp.ActErrno, ErrnoRet: uptr(uint(1 + i%100)),
			Args: []*cseccomp.Arg{{Index: 1, Value: uint64(i) << 31, Op: cseccomp.OpEqualTo}},
		})
	}
	p.Syscalls = append(p.Syscalls, &cseccomp.Syscall{Names: []string{"read", "write", "close", "open"}, Action: cseccomp.ActAllow})
	for i := range 40 {
		p.Syscalls = append(p.Syscalls, &cseccomp.Syscall{
			Name: "fcntl", Action: cseccomp.ActAllow,
			Args: []*cseccomp.Arg{{Index: 1, Value: uint64(i), Op: cseccomp.OpEqualTo}, {Index: 2, Value: 1 << 40, Op: cseccomp.OpLessThan}},
		})
	}
	f, pl, run := compileVM(t, p, nil, "amd64")
	trampolines := 0
	for _, in := range f.Program {
		if in.Op == bpfJMP|bpfJA {
			trampolines++
		}
	}
	if f.Len() < 1000 || trampolines == 0 {
		t.Fatalf("expected a long program with trampolines, got %d insns, %d ja", f.Len(), trampolines)
	}
	t.Logf("%d instructions, %d ja", f.Len(), trampolines)
	rng := rand.New(rand.NewSource(1))
	for _, n := range []uint32{0, 1, 2, 3, 16, 72, 1000} {
		for i := range 400 {
			d := call(n)
			d.args[1] = uint64(rng.Intn(160)) << 31
			if i%2 == 1 {
				d.args[1] = uint64(rng.Intn(45))
			}
			d.args[2] = interesting64[rng.Intn(len(interesting64))]
			if got, want := run(d), refEval(pl, d); got != want {
				t.Fatalf("%+v: got %#x, want %#x", d, got, want)
			}
		}
	}
}

func TestTooLarge(t *testing.T) {
	p := &Profile{DefaultAction: cseccomp.ActErrno}
	for i := range 1500 {
		p.Syscalls = append(p.Syscalls, &cseccomp.Syscall{
			Name: "ioctl", Action: cseccomp.ActAllow,
			Args: []*cseccomp.Arg{{Index: 1, Value: uint64(i), Op: cseccomp.OpEqualTo}},
		})
	}
	_, err := Compile(p, nil, "amd64")
	if err == nil || !strings.Contains(err.Error(), "kernel limit of 4096") {
		t.Fatalf("err = %v", err)
	}
}

// randomProfile builds a profile of random rules over a few syscalls, with
// every operator and values around the word boundaries.
func randomProfile(rng *rand.Rand, arch string) *Profile {
	return randomProfileOps(rng, allOps, 30)
}

var allOps = []cseccomp.Operator{
	cseccomp.OpEqualTo, cseccomp.OpNotEqual, cseccomp.OpLessThan, cseccomp.OpLessEqual,
	cseccomp.OpGreaterThan, cseccomp.OpGreaterEqual, cseccomp.OpMaskedEqual,
}

func randomProfileOps(rng *rand.Rand, ops []cseccomp.Operator, maxEntries int) *Profile {
	acts := []cseccomp.Action{cseccomp.ActAllow, cseccomp.ActErrno, cseccomp.ActKillProcess, cseccomp.ActTrap, cseccomp.ActLog}
	names := []string{"read", "write", "close", "ioctl", "socket", "personality", "clone", "mmap", "getpid"}
	p := &Profile{DefaultAction: acts[rng.Intn(len(acts))], DefaultErrnoRet: uptr(uint(rng.Intn(40)))}
	for range 1 + rng.Intn(maxEntries) {
		s := &cseccomp.Syscall{Action: acts[rng.Intn(len(acts))], ErrnoRet: uptr(uint(rng.Intn(40)))}
		for range 1 + rng.Intn(2) {
			s.Names = append(s.Names, names[rng.Intn(len(names))])
		}
		if rng.Intn(5) > 0 {
			for range rng.Intn(4) {
				s.Args = append(s.Args, &cseccomp.Arg{
					Index:    uint(rng.Intn(6)),
					Value:    interesting64[rng.Intn(len(interesting64))],
					ValueTwo: interesting64[rng.Intn(len(interesting64))],
					Op:       ops[rng.Intn(len(ops))],
				})
			}
		}
		p.Syscalls = append(p.Syscalls, s)
	}
	return p
}

// TestRandomProfilesAgainstReference compares compiled programs with refEval
// on random profiles.
func TestRandomProfilesAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	seed := rng.Int63()
	rng = rand.New(rand.NewSource(seed))
	audits := map[string]uint32{"amd64": auditX86_64, "arm64": auditAARCH64, "386": auditI386}
	compared := 0
	for iter := range 300 {
		arch := []string{"amd64", "arm64", "386"}[iter%3]
		p := randomProfile(rng, arch)
		_, pl, run := compileVM(t, p, nil, arch)
		nrs := []uint32{0, 1, 2, 0xffffffff, x32Bit, x32Bit + 1}
		for _, r := range pl.rules {
			nrs = append(nrs, r.nr-1, r.nr, r.nr+1)
		}
		for range 200 {
			d := sdata{nr: nrs[rng.Intn(len(nrs))], arch: audits[arch]}
			if rng.Intn(20) == 0 {
				d.arch = auditI386 ^ audits[arch] ^ auditX86_64
			}
			for i := range d.args {
				d.args[i] = interesting64[rng.Intn(len(interesting64))]
			}
			compared++
			if got, want := run(d), refEval(pl, d); got != want {
				t.Fatalf("seed %d iter %d arch %s: %+v: got %#x, want %#x\nprofile rules: %+v", seed, iter, arch, d, got, want, pl.rules)
			}
		}
	}
	t.Logf("%d inputs compared (seed %d)", compared, seed)
}

// TestDefaultProfile checks podman's default profile on the cases measured in
// the research spike.
func TestDefaultProfile(t *testing.T) {
	a := "amd64"
	f, _, run := compileVM(t, DefaultProfile(), defaultCaps, a)
	t.Logf("default profile, default caps, amd64: %d instructions, %d names skipped", f.Len(), len(f.Skipped))
	enosys := errno(unix.ENOSYS)
	for _, c := range []struct {
		name string
		d    sdata
		want uint32
	}{
		{"read", call(nr(t, a, "read")), allow},
		{"userfaultfd", call(nr(t, a, "userfaultfd")), errno(unix.EPERM)},
		{"bpf", call(nr(t, a, "bpf")), errno(unix.EPERM)},
		{"personality(0xffffffff)", call(nr(t, a, "personality"), 0xffffffff), allow},
		{"personality(PER_LINUX32)", call(nr(t, a, "personality"), 8), allow},
		{"personality(ADDR_NO_RANDOMIZE)", call(nr(t, a, "personality"), 0x0040000), enosys},
		{"socket(AF_INET)", call(nr(t, a, "socket"), unix.AF_INET, unix.SOCK_STREAM), allow},
		{"socket(AF_VSOCK)", call(nr(t, a, "socket"), unix.AF_VSOCK), errno(unix.EPERM)},
		{"socket(AF_NETLINK, NETLINK_AUDIT)", call(nr(t, a, "socket"), unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT), errno(unix.EINVAL)},
		{"socket(AF_NETLINK, NETLINK_ROUTE)", call(nr(t, a, "socket"), unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE), allow},
		{"sethostname", call(nr(t, a, "sethostname")), errno(unix.EPERM)},
		{"unknown", call(1000), enosys},
		{"x32 getpid", call(x32Bit | 39), enosys},
		{"i386", sdata{nr: 20, arch: auditI386}, enosys},
	} {
		if got := run(c.d); got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
	}

	// With CAP_SYS_ADMIN, sethostname and bpf are allowed.
	_, _, run = compileVM(t, DefaultProfile(), append(slices.Clone(defaultCaps), "CAP_SYS_ADMIN"), a)
	for _, n := range []string{"sethostname", "bpf", "setns"} {
		if got := run(call(nr(t, a, n))); got != allow {
			t.Errorf("%s with CAP_SYS_ADMIN: got %#x", n, got)
		}
	}

	// arm64: newfstatat (missing from elastic's table under that name) is
	// allowed; arm-only calls are not resolved.
	f, _, run = compileVM(t, DefaultProfile(), defaultCaps, "arm64")
	t.Logf("default profile, default caps, arm64: %d instructions", f.Len())
	if got := run(sdata{nr: 79, arch: auditAARCH64}); got != allow {
		t.Errorf("arm64 newfstatat: got %#x", got)
	}
	if got := run(sdata{nr: 403, arch: auditAARCH64}); got != enosys {
		t.Errorf("arm64 403 (clock_gettime64, 32-bit only): got %#x", got)
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	p := DefaultProfile()
	var n int
	for b.Loop() {
		f, err := Compile(p, defaultCaps, "amd64")
		if err != nil {
			b.Fatal(err)
		}
		n = f.Len()
	}
	b.ReportMetric(float64(n), "insns")
}
