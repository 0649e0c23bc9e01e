//go:build linux && cgo && libseccomp_diff

// Differential test against libseccomp (what runc and crun use): the same
// plan (the front end's filtered, resolved rules) is compiled by this package
// and by libseccomp, and both programs are run in x/net/bpf's VM over many
// seccomp_data inputs. Run with:
//
//	CGO_ENABLED=1 go test -tags libseccomp_diff ./internal/runtime/seccomp/
//
// (needs libseccomp-dev: apt-get install -y libseccomp-dev).

package seccomp

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/cove-run/cove/internal/runtime/seccomp/internal/libseccompref"
	cseccomp "go.podman.io/common/pkg/seccomp"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

var refOps = map[cseccomp.Operator]int{
	cseccomp.OpEqualTo:      libseccompref.CmpEQ,
	cseccomp.OpNotEqual:     libseccompref.CmpNE,
	cseccomp.OpLessThan:     libseccompref.CmpLT,
	cseccomp.OpLessEqual:    libseccompref.CmpLE,
	cseccomp.OpGreaterThan:  libseccompref.CmpGT,
	cseccomp.OpGreaterEqual: libseccompref.CmpGE,
	cseccomp.OpMaskedEqual:  libseccompref.CmpMaskedEQ,
}

// refNumbers maps the plan's syscall numbers to the numbers libseccomp's API
// takes. For the host architecture they are the same. For another one,
// libseccomp interprets numbers as host numbers and translates them by name,
// so the number is turned back into its name and resolved the way
// libseccomp does; syscalls libseccomp does not know are left out of the map
// (restrictToLibseccomp then drops their rules from the plan).
func refNumbers(pl *plan) map[uint32]int32 {
	out := map[uint32]int32{}
	if pl.ai.audit == libseccompref.NativeAudit() {
		for _, nr := range pl.ai.names {
			out[nr] = int32(nr)
		}
		return out
	}
	for name, nr := range pl.ai.names {
		if _, known := libseccompref.Resolve(pl.ai.audit, name); !known {
			continue
		}
		if n, ok := libseccompref.ResolveNative(name); ok {
			out[nr] = n
		}
	}
	return out
}

// restrictToLibseccomp drops rules for syscalls libseccomp cannot express on
// the plan's architecture (names newer than the installed libseccomp).
func restrictToLibseccomp(pl *plan) (dropped int) {
	m := refNumbers(pl)
	pl.rules = slices.DeleteFunc(pl.rules, func(r planRule) bool {
		_, ok := m[r.nr]
		if !ok {
			dropped++
		}
		return !ok
	})
	return dropped
}

// libseccompProgram hands the plan's rules to libseccomp the way an OCI
// runtime would: one seccomp_rule_add_array per rule, in profile order.
func libseccompProgram(pl *plan) ([]bpf.RawInstruction, error) {
	m := refNumbers(pl)
	rules := make([]libseccompref.Rule, 0, len(pl.rules))
	for _, r := range pl.rules {
		n, ok := m[r.nr]
		if !ok {
			return nil, fmt.Errorf("syscall %d cannot be expressed for libseccomp", r.nr)
		}
		rr := libseccompref.Rule{Nr: n, Action: r.action}
		for _, a := range r.args {
			rr.Conds = append(rr.Conds, libseccompref.Cond{Arg: a.Index, Op: refOps[a.Op], A: a.Value, B: a.ValueTwo})
		}
		rules = append(rules, rr)
	}
	return libseccompref.Build(pl.ai.audit, pl.def, badArchAction(pl.def), rules)
}

// Interesting argument values: small numbers, the default profile's
// personality values, socket families and protocols, clone flags, and the
// word boundaries.
var diffArgValues = []uint64{
	0, 1, 2, 3, 5, 8, 9, 16, 17, 40,
	0x8, 0x20000, 0x20008, 0x40000, 0xffffffff,
	unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK, unix.AF_VSOCK, unix.AF_UNIX,
	unix.NETLINK_AUDIT, unix.NETLINK_ROUTE,
	unix.CLONE_NEWUSER, unix.CLONE_NEWNS, unix.CLONE_NEWNET, unix.CLONE_NEWUSER | 17, // | SIGCHLD
	0x7e020000, 0x80000000, 0x100000000, 0x100000009, 0xffffffff00000000,
	0xfffffffffffffffe, 0xffffffffffffffff,
}

// diffArgVectors returns argument vectors: each interesting value alone in
// each position, everything at once, and combinations the default profile
// tests (socket(AF_NETLINK, *, NETLINK_AUDIT)).
func diffArgVectors() [][6]uint64 {
	var out [][6]uint64
	out = append(out, [6]uint64{})
	for _, v := range diffArgValues {
		for p := range 6 {
			var a [6]uint64
			a[p] = v
			out = append(out, a)
		}
		out = append(out, [6]uint64{v, v, v, v, v, v})
	}
	for _, fam := range []uint64{unix.AF_NETLINK, unix.AF_INET, unix.AF_VSOCK, unix.AF_NETLINK | 1<<32} {
		for _, proto := range []uint64{0, unix.NETLINK_AUDIT, unix.NETLINK_ROUTE, unix.NETLINK_AUDIT | 1<<32} {
			out = append(out, [6]uint64{fam, unix.SOCK_RAW, proto})
		}
	}
	return out
}

type diffArch struct {
	goarch string
	audit  uint32
	extra  []uint32 // syscall numbers beyond the table range to probe
}

var diffArches = []diffArch{
	{"amd64", auditX86_64, []uint32{x32Bit, x32Bit | 1, x32Bit | 39, x32Bit | 59, x32Bit | 512, x32Bit | 545, 0x3fffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}},
	{"arm64", auditAARCH64, []uint32{x32Bit | 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}},
	{"arm", 0x40000028, []uint32{0xf0001, 0xf0002, 0xf0005, 0xf0006, 0xfffffffe, 0xffffffff}},
}

func (a diffArch) numbers(pl *plan) []uint32 {
	maxNr := uint32(0)
	for _, nr := range pl.ai.names {
		if nr < 0x10000 && nr > maxNr {
			maxNr = nr
		}
	}
	var out []uint32
	for nr := uint32(0); nr <= maxNr+20; nr++ {
		out = append(out, nr)
	}
	return append(out, a.extra...)
}

type diffStats struct {
	inputs, diffs int
	examples      []string
}

// compare runs both programs over inputs and records differences.
func compare(t *testing.T, st *diffStats, what string, pl *plan, inputs []sdata) {
	t.Helper()
	ours, err := pl.generate()
	if err != nil {
		t.Fatalf("%s: generate: %v", what, err)
	}
	ref, err := libseccompProgram(pl)
	if err != nil {
		t.Fatalf("%s: libseccomp: %v", what, err)
	}
	vmOurs, vmRef := vmFor(t, ours), vmFor(t, ref)
	for _, d := range inputs {
		st.inputs++
		a, b := runVM(t, vmOurs, d), runVM(t, vmRef, d)
		if a != b {
			st.diffs++
			if len(st.examples) < 20 {
				var rules []string
				for _, r := range pl.rules {
					if r.nr == d.nr {
						rules = append(rules, fmt.Sprintf("%#x%+v", r.action, r.args))
					}
				}
				st.examples = append(st.examples, fmt.Sprintf("%s: nr=%#x arch=%#x args=%#x: ours %#x, libseccomp %#x (default %#x, rules %v)", what, d.nr, d.arch, d.args, a, b, pl.def, rules))
			}
		}
	}
	t.Logf("%s: %d instructions (libseccomp %d)", what, len(ours), len(ref))
}

var allCaps = func() []string {
	var out []string
	for c := range 41 { // CAP_CHOWN .. CAP_CHECKPOINT_RESTORE
		out = append(out, capName(c))
	}
	return out
}()

func capName(c int) string {
	names := []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
		"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK",
		"IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT",
		"SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
		"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON",
		"BPF", "CHECKPOINT_RESTORE"}
	return "CAP_" + names[c]
}

// dockerLikeProfile adds the kinds of conditions Docker's default profile
// has and podman's does not (masked clone flags, a GT/LT range, 64-bit
// values), with non-overlapping rules.
func dockerLikeProfile() *Profile {
	p := DefaultProfile()
	// Drop the unconditional clone/unshare from the big allow list copy.
	var kept []*cseccomp.Syscall
	for _, s := range p.Syscalls {
		c := *s
		c.Names = slices.DeleteFunc(slices.Clone(c.Names), func(n string) bool {
			return n == "clone" || n == "unshare" || n == "ioctl" || n == "prctl" || n == "fcntl"
		})
		if len(c.Names) > 0 || c.Name != "" {
			kept = append(kept, &c)
		}
	}
	p.Syscalls = append(kept,
		&cseccomp.Syscall{Names: []string{"clone"}, Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: cseccomp.OpMaskedEqual},
		}, Excludes: cseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}},
		&cseccomp.Syscall{Names: []string{"clone", "unshare"}, Action: cseccomp.ActAllow, Includes: cseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}},
		&cseccomp.Syscall{Names: []string{"unshare"}, Action: cseccomp.ActErrno, ErrnoRet: uptr(1), Args: []*cseccomp.Arg{
			{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: cseccomp.OpMaskedEqual},
		}, Excludes: cseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}},
		&cseccomp.Syscall{Names: []string{"ioctl"}, Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 1, Value: 0x5400, Op: cseccomp.OpGreaterEqual},
			{Index: 1, Value: 0x54ff, Op: cseccomp.OpLessEqual}, // same index: ORed (runtime behaviour)
		}},
		&cseccomp.Syscall{Names: []string{"prctl"}, Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 0, Value: 16, Op: cseccomp.OpLessThan},
			{Index: 1, Value: 0x100000000, Op: cseccomp.OpGreaterThan},
		}},
		&cseccomp.Syscall{Names: []string{"fcntl"}, Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 0, Value: 0xffffffff00000000, Op: cseccomp.OpGreaterEqual},
		}},
		&cseccomp.Syscall{Names: []string{"fcntl"}, Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 1, Value: 0x400, Op: cseccomp.OpEqualTo},
		}},
		&cseccomp.Syscall{Names: []string{"mmap"}, Action: cseccomp.ActErrno, ErrnoRet: uptr(13), Args: []*cseccomp.Arg{
			{Index: 2, Value: 0x4, ValueTwo: 0x4, Op: cseccomp.OpMaskedEqual},
			{Index: 3, Value: 0xffffffff00000001, ValueTwo: 0xffffffff00000001, Op: cseccomp.OpMaskedEqual},
		}},
	)
	return p
}

func TestDifferentialLibseccomp(t *testing.T) {
	t.Logf("libseccomp %s", libseccompref.Version())
	vectors := diffArgVectors()
	st := &diffStats{}
	profiles := []struct {
		name string
		p    *Profile
	}{
		{"default", DefaultProfile()},
		{"docker-like", dockerLikeProfile()},
	}
	capSets := []struct {
		name string
		caps []string
	}{
		{"default-caps", defaultCaps},
		{"no-caps", nil},
		{"all-caps", allCaps},
	}
	for _, a := range diffArches {
		for _, prof := range profiles {
			for _, cs := range capSets {
				pl, err := makePlan(prof.p, cs.caps, a.goarch)
				if err != nil {
					t.Fatal(err)
				}
				if n := restrictToLibseccomp(pl); n > 0 && cs.name == "default-caps" {
					t.Logf("%s/%s: %d rules for syscalls unknown to libseccomp left out", a.goarch, prof.name, n)
				}
				var inputs []sdata
				for _, nr := range a.numbers(pl) {
					for _, v := range vectors {
						inputs = append(inputs, sdata{nr: nr, arch: a.audit, args: v})
					}
				}
				// Foreign architectures.
				for _, audit := range []uint32{auditI386, auditX86_64, auditAARCH64, 0x40000028} {
					if audit != a.audit {
						for nr := range uint32(64) {
							inputs = append(inputs, sdata{nr: nr, arch: audit})
						}
					}
				}
				compare(t, st, fmt.Sprintf("%s/%s/%s", a.goarch, prof.name, cs.name), pl, inputs)
			}
		}
	}
	for _, e := range st.examples {
		t.Error(e)
	}
	t.Logf("profiles: %d inputs compared, %d differences", st.inputs, st.diffs)
	if st.diffs != 0 {
		t.Fatalf("%d differences from libseccomp", st.diffs)
	}
}

// TestDifferentialLibseccompRandom compares random profiles.
//
// libseccomp does not promise any order between rules of one syscall
// (seccomp/libseccomp#118, #148), so conditional rules of a syscall share one
// action here. Under that restriction the results must be identical, with one
// exception found by this test: when one syscall has several rules and one of
// them uses NE or a range comparison (LT/LE/GT/GE), libseccomp 2.5.4's tree
// merging sometimes produces a wrong filter (see
// TestLibseccompRangeMergeDivergence). For such profiles a difference is
// accepted only if our result is the one refEval computes from the
// documented semantics; it is counted and logged.
func TestDifferentialLibseccompRandom(t *testing.T) {
	// A fixed seed keeps CI reproducible: one random draw once sent
	// libseccomp 2.5.4's own filter generator into a loop that never ended.
	// COVE_SECCOMP_SEED=random explores new profiles (by hand, or make fuzz).
	seed := int64(1)
	if v := os.Getenv("COVE_SECCOMP_SEED"); v == "random" {
		seed = rand.Int63()
	} else if v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			seed = n
		}
	}
	rng := rand.New(rand.NewSource(seed))
	strict, lenient := &diffStats{}, &diffStats{}
	wrongOurs := 0
	for iter := range 1200 {
		a := diffArches[iter/2%2]
		if iter%5 == 4 {
			a = diffArches[2] // arm: 32-bit arguments
		}
		ops, entries := allOps, 30
		switch iter % 3 {
		case 1: // small profiles: mostly one rule per syscall, any operator
			entries = 6
		case 2: // equality-type operators only
			ops = []cseccomp.Operator{cseccomp.OpEqualTo, cseccomp.OpMaskedEqual}
		}
		p := randomProfileOps(rng, ops, entries)
		pl, err := makePlan(p, nil, a.goarch)
		if err != nil {
			t.Fatal(err)
		}
		restrictToLibseccomp(pl)
		act := map[uint32]uint32{}
		pl.rules = slices.DeleteFunc(pl.rules, func(r planRule) bool {
			if len(r.args) == 0 {
				return false
			}
			if x, ok := act[r.nr]; ok && x != r.action {
				return true
			}
			act[r.nr] = r.action
			return false
		})
		// Does a syscall have several rules, one of them using an inverted
		// (NE) or range comparison?
		merged := false
		count := map[uint32]int{}
		tricky := map[uint32]bool{}
		for _, r := range pl.rules {
			count[r.nr]++
			for _, x := range r.args {
				if x.Op != cseccomp.OpEqualTo && x.Op != cseccomp.OpMaskedEqual {
					tricky[r.nr] = true
				}
			}
		}
		for nr, c := range count {
			if c > 1 && tricky[nr] {
				merged = true
			}
		}
		nrs := []uint32{0, 0xffffffff}
		for _, r := range pl.rules {
			nrs = append(nrs, r.nr-1, r.nr, r.nr+1)
		}
		var inputs []sdata
		for range 300 {
			d := sdata{nr: nrs[rng.Intn(len(nrs))], arch: a.audit}
			for i := range d.args {
				d.args[i] = interesting64[rng.Intn(len(interesting64))]
			}
			inputs = append(inputs, d)
		}
		what := fmt.Sprintf("random#%d/%s", iter, a.goarch)
		if !merged {
			compare(t, strict, what, pl, inputs)
			continue
		}
		// Lenient: count differences, but ours must match refEval.
		before := lenient.diffs
		compare(t, lenient, what, pl, inputs)
		if lenient.diffs > before {
			ours := vmFor(t, mustGenerate(t, pl))
			for _, d := range inputs {
				if runVM(t, ours, d) != refEval(pl, d) {
					wrongOurs++
				}
			}
		}
	}
	for _, e := range strict.examples {
		t.Error(e)
	}
	t.Logf("random profiles (seed %d): %d inputs compared strictly, %d differences", seed, strict.inputs, strict.diffs)
	t.Logf("profiles merging NE/range rules of one syscall: %d inputs, %d libseccomp divergences (ours = reference semantics)", lenient.inputs, lenient.diffs)
	if strict.diffs != 0 || wrongOurs != 0 {
		t.Fatalf("%d differences from libseccomp, %d results differing from the reference semantics", strict.diffs, wrongOurs)
	}
}

func mustGenerate(t *testing.T, pl *plan) []bpf.RawInstruction {
	t.Helper()
	prog, err := pl.generate()
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestLibseccompRangeMergeDivergence documents a libseccomp 2.5.4 case: two
// ALLOW rules for one syscall, "a0 < 16 && a1 > 2^32" and
// "a0 >= 0xffffffff00000000". For a0 = 0xffffffff neither rule holds, yet
// libseccomp's filter allows the call. Ours returns the default action.
func TestLibseccompRangeMergeDivergence(t *testing.T) {
	p := &Profile{DefaultAction: cseccomp.ActErrno, Syscalls: []*cseccomp.Syscall{
		{Name: "prctl", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 0, Value: 16, Op: cseccomp.OpLessThan},
			{Index: 1, Value: 0x100000000, Op: cseccomp.OpGreaterThan},
		}},
		{Name: "prctl", Action: cseccomp.ActAllow, Args: []*cseccomp.Arg{
			{Index: 0, Value: 0xffffffff00000000, Op: cseccomp.OpGreaterEqual},
		}},
	}}
	pl, err := makePlan(p, nil, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := libseccompProgram(pl)
	if err != nil {
		t.Fatal(err)
	}
	d := call(nr(t, "amd64", "prctl"), 0xffffffff)
	ours := runVM(t, vmFor(t, mustGenerate(t, pl)), d)
	theirs := runVM(t, vmFor(t, ref), d)
	if ours != errno(unix.EPERM) {
		t.Errorf("ours: %#x, want EPERM", ours)
	}
	t.Logf("prctl(0xffffffff, 0): ours %#x, libseccomp %s %#x", ours, libseccompref.Version(), theirs)
}

// TestSyscallTablesAgainstLibseccomp checks the name → number tables against
// libseccomp's for every name either side knows.
func TestSyscallTablesAgainstLibseccomp(t *testing.T) {
	var profNames []string
	for _, s := range DefaultProfile().Syscalls {
		profNames = append(profNames, s.Names...)
	}
	for _, a := range diffArches {
		ai, err := lookupArch(a.goarch)
		if err != nil {
			t.Fatal(err)
		}
		var newer []string
		for name, nr := range ai.names {
			ref, ok := libseccompref.Resolve(a.audit, name)
			if !ok {
				newer = append(newer, fmt.Sprintf("%s=%d", name, nr))
				continue
			}
			if uint32(ref) != nr {
				t.Errorf("%s: %s is %d here, %d in libseccomp", a.goarch, name, nr, ref)
			}
		}
		sort.Strings(newer)
		t.Logf("%s: %d names unknown to this libseccomp: %v", a.goarch, len(newer), newer)
		for _, name := range profNames {
			if ref, ok := libseccompref.Resolve(a.audit, name); ok {
				if _, have := ai.names[name]; !have {
					t.Errorf("%s: profile name %s (%d in libseccomp) missing from our table", a.goarch, name, ref)
				}
			}
		}
	}
}
