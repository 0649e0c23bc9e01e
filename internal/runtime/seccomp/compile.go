//go:build linux

package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	cseccomp "go.podman.io/common/pkg/seccomp"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Profile is the profile type this package compiles: common's seccomp.Seccomp,
// which is also what Docker/OCI seccomp JSON files unmarshal into.
type Profile = cseccomp.Seccomp

// DefaultProfile returns podman's built-in default profile
// (go.podman.io/common/pkg/seccomp.DefaultProfile): default action
// SCMP_ACT_ERRNO with ENOSYS, an allowlist, and capability-dependent entries.
func DefaultProfile() *Profile {
	return cseccomp.DefaultProfile()
}

// Filter is a compiled seccomp program for one architecture.
type Filter struct {
	// Arch is the GOARCH the program was compiled for.
	Arch string
	// Program is the BPF program. bpf.RawInstruction has the layout of the
	// kernel's struct sock_filter.
	Program []bpf.RawInstruction
	// Flags holds SECCOMP_FILTER_FLAG_* bits requested by the profile's
	// "flags" (LOG, SPEC_ALLOW). Load always adds SECCOMP_FILTER_FLAG_TSYNC.
	Flags uint
	// DefaultAction is the SECCOMP_RET_* value returned when no rule matches.
	DefaultAction uint32
	// Skipped lists, sorted, the syscall names of applicable rules that do
	// not exist on Arch. They are ignored, as libseccomp and the OCI
	// runtimes do.
	Skipped []string
}

// Len returns the number of BPF instructions (0 for a nil Filter).
func (f *Filter) Len() int {
	if f == nil {
		return 0
	}
	return len(f.Program)
}

// Instructions returns the program decoded into x/net/bpf instructions, for
// debugging or for evaluating it with bpf.NewVM.
func (f *Filter) Instructions() []bpf.Instruction {
	ins, _ := bpf.Disassemble(f.Program)
	return ins
}

// SECCOMP_RET_* action values (linux/seccomp.h).
const (
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	retKillThread  = unix.SECCOMP_RET_KILL_THREAD
	retTrap        = unix.SECCOMP_RET_TRAP
	retErrno       = unix.SECCOMP_RET_ERRNO
	retTrace       = unix.SECCOMP_RET_TRACE
	retLog         = unix.SECCOMP_RET_LOG
	retAllow       = unix.SECCOMP_RET_ALLOW
)

// actionValue converts a profile action to the SECCOMP_RET_* value the
// program returns. ERRNO and TRACE carry 16 bits of data; when the profile
// gives none the value is EPERM, as in the OCI runtime spec, runc, crun and
// common's libseccomp path. (podman's DefaultProfile sets ENOSYS explicitly
// for its default action.) Data given to other actions is ignored, as those
// implementations do.
func actionValue(act cseccomp.Action, errno string, errnoRet *uint) (uint32, error) {
	switch act {
	case cseccomp.ActAllow:
		return retAllow, nil
	case cseccomp.ActKill, cseccomp.ActKillThread:
		return retKillThread, nil
	case cseccomp.ActKillProcess:
		return retKillProcess, nil
	case cseccomp.ActTrap:
		return retTrap, nil
	case cseccomp.ActLog:
		return retLog, nil
	case cseccomp.ActErrno, cseccomp.ActTrace:
		v, err := parseErrno(errno, errnoRet, uint(unix.EPERM))
		if err != nil {
			return 0, err
		}
		if act == cseccomp.ActErrno {
			if v > maxErrno {
				return 0, fmt.Errorf("errno %d out of range (0-%d)", v, maxErrno)
			}
			return retErrno | uint32(v), nil
		}
		if v > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("trace data %d out of range (0-%d)", v, unix.SECCOMP_RET_DATA)
		}
		return retTrace | uint32(v), nil
	case cseccomp.ActNotify:
		return 0, errors.New("action SCMP_ACT_NOTIFY is not supported (no seccomp notify listener)")
	case "":
		return 0, errors.New("missing action")
	default:
		return 0, fmt.Errorf("unknown action %q", string(act))
	}
}

// badArchAction is returned for syscalls made through a foreign ABI (another
// audit arch, or x32 numbers on amd64). It is the default action, so that a
// 32-bit binary gets e.g. ENOSYS like any unknown syscall, unless the default
// action would let the call run (ALLOW, LOG, TRACE): then a denylist profile
// could be bypassed through the other ABI, whose syscalls this compiler does
// not filter, so the process is killed (libseccomp's bad-arch default is a
// kill as well).
func badArchAction(def uint32) uint32 {
	switch def & unix.SECCOMP_RET_ACTION_FULL {
	case retAllow, retLog, retTrace:
		return retKillProcess
	}
	return def
}

// cond is one argument comparison, normalized.
type cond struct {
	index uint
	op    cseccomp.Operator
	value uint64 // datum; for MASKED_EQ already ANDed with mask
	mask  uint64 // MASKED_EQ only
}

type rule struct {
	action uint32
	conds  []cond // ANDed; empty means unconditional
}

var knownArches = func() map[cseccomp.Arch]bool {
	m := map[cseccomp.Arch]bool{}
	for _, a := range []cseccomp.Arch{
		cseccomp.ArchNative, cseccomp.ArchX86, cseccomp.ArchX86_64, cseccomp.ArchX32,
		cseccomp.ArchARM, cseccomp.ArchAARCH64, cseccomp.ArchMIPS, cseccomp.ArchMIPS64,
		cseccomp.ArchMIPS64N32, cseccomp.ArchMIPSEL, cseccomp.ArchMIPSEL64,
		cseccomp.ArchMIPSEL64N32, cseccomp.ArchPPC, cseccomp.ArchPPC64,
		cseccomp.ArchPPC64LE, cseccomp.ArchS390, cseccomp.ArchS390X,
		cseccomp.ArchPARISC, cseccomp.ArchPARISC64, cseccomp.ArchRISCV64,
		"SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
	} {
		m[a] = true
	}
	return m
}()

// profileFlags maps the profile's "flags" to SECCOMP_FILTER_FLAG_* bits.
func profileFlags(flags []string) (uint, error) {
	var v uint
	for _, f := range flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Load always sets it.
		case "SECCOMP_FILTER_FLAG_LOG":
			v |= unix.SECCOMP_FILTER_FLAG_LOG
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			v |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_NEW_LISTENER", "SECCOMP_FILTER_FLAG_TSYNC_ESRCH":
			return 0, fmt.Errorf("flag %q is not supported (no seccomp notify listener)", f)
		default:
			return 0, fmt.Errorf("unknown flag %q", f)
		}
	}
	return v, nil
}

// validateTop checks the profile-wide fields.
func validateTop(p *Profile) error {
	if _, err := actionValue(p.DefaultAction, p.DefaultErrno, p.DefaultErrnoRet); err != nil {
		return fmt.Errorf("defaultAction: %w", err)
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return errors.New("both \"architectures\" and \"archMap\" are set; use one of them")
	}
	for _, a := range p.Architectures {
		if !knownArches[a] {
			return fmt.Errorf("architectures: unknown architecture %q", string(a))
		}
	}
	for i, m := range p.ArchMap {
		if !knownArches[m.Arch] {
			return fmt.Errorf("archMap[%d]: unknown architecture %q", i, string(m.Arch))
		}
		for _, a := range m.SubArches {
			if !knownArches[a] {
				return fmt.Errorf("archMap[%d]: unknown sub-architecture %q", i, string(a))
			}
		}
	}
	if _, err := profileFlags(p.Flags); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	if p.ListenerPath != "" {
		return errors.New("listenerPath: seccomp notify listeners are not supported")
	}
	return nil
}

// syscallNames returns the names of an entry, checking name/names.
func syscallNames(s *cseccomp.Syscall) ([]string, error) {
	if s.Name != "" && len(s.Names) != 0 {
		return nil, errors.New("both \"name\" and \"names\" are set; use one of them")
	}
	names := s.Names
	if s.Name != "" {
		names = []string{s.Name}
	}
	if len(names) == 0 {
		return nil, errors.New("no syscall name")
	}
	for _, n := range names {
		if n == "" {
			return nil, errors.New("empty syscall name")
		}
	}
	return names, nil
}

// convertArgs validates and normalizes an entry's argument conditions for an
// architecture whose arguments are bits wide.
func convertArgs(args []*cseccomp.Arg, bits int) ([]cond, error) {
	width := ^uint64(0)
	if bits == 32 {
		width = 0xffffffff
	}
	var out []cond
	for j, a := range args {
		if a == nil {
			return nil, fmt.Errorf("args[%d]: null argument", j)
		}
		if a.Index > maxArgIndex {
			return nil, fmt.Errorf("args[%d]: index %d out of range (0-%d)", j, a.Index, maxArgIndex)
		}
		c := cond{index: a.Index, op: a.Op, value: a.Value & width}
		switch a.Op {
		case cseccomp.OpEqualTo, cseccomp.OpNotEqual, cseccomp.OpLessThan,
			cseccomp.OpLessEqual, cseccomp.OpGreaterThan, cseccomp.OpGreaterEqual:
		case cseccomp.OpMaskedEqual:
			// OCI/libseccomp: value is the mask, valueTwo the datum, and
			// the test is (arg & mask) == (datum & mask).
			c.mask = a.Value & width
			c.value = a.ValueTwo & c.mask
			if c.mask == 0 {
				// Always true; libseccomp drops such a comparison, so a
				// rule made only of them is unconditional.
				continue
			}
		case "":
			return nil, fmt.Errorf("args[%d]: missing operator", j)
		default:
			return nil, fmt.Errorf("args[%d]: unknown operator %q", j, string(a.Op))
		}
		out = append(out, c)
	}
	return out, nil
}

// applies reports whether an entry's includes/excludes select it for a
// container with the capability set caps on the architecture named arch,
// with the logic of podman's setupSeccomp.
func applies(s *cseccomp.Syscall, caps map[string]bool, arch string) bool {
	if slices.Contains(s.Excludes.Arches, arch) {
		return false
	}
	for _, c := range s.Excludes.Caps {
		if caps[normCap(c)] {
			return false
		}
	}
	if len(s.Includes.Arches) > 0 && !slices.Contains(s.Includes.Arches, arch) {
		return false
	}
	for _, c := range s.Includes.Caps {
		if !caps[normCap(c)] {
			return false
		}
	}
	return true
}

func normCap(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}

// Compile turns profile into a BPF program for the GOARCH arch ("" means
// runtime.GOARCH) and a container whose bounding capability set is caps
// ("CAP_SYS_ADMIN" or "SYS_ADMIN", case-insensitive).
//
// A profile with neither a default action nor syscalls means "no filter",
// as in podman: Compile then returns (nil, nil), and Load(nil, …) does
// nothing.
//
// Semantics, chosen to match podman (setupSeccomp) followed by an OCI runtime
// using libseccomp (runc, crun):
//   - entries are dropped when their excludes match (any listed cap present,
//     or the arch listed) or their includes do not (a listed cap missing, or
//     arches given and ours not among them);
//   - syscall names unknown on the arch are skipped (listed in
//     Filter.Skipped);
//   - a rule whose action equals the default action is dropped (libseccomp
//     refuses it; the runtimes skip it);
//   - conditions on distinct arguments are ANDed; when an entry has several
//     conditions on the same argument it becomes one rule per condition
//     (ORed), which is what runc, youki and common's libseccomp path do,
//     because libseccomp cannot AND two tests of one argument;
//   - per syscall, the first unconditional rule decides the action and
//     conditional rules for that syscall are ignored (libseccomp keeps the
//     "shorter" rule); otherwise conditional rules are tried in profile order
//     and the first whose conditions all hold decides, else the default
//     action. (libseccomp promises no order between overlapping rules with
//     different actions, and 2.5.4 sometimes mis-merges several rules of one
//     syscall that use NE or range comparisons; the differential test shows
//     identical results otherwise, including for the default profile.)
//
// Program layout: check seccomp_data.arch (foreign ABI → badArchAction); on
// amd64 send x32 numbers (nr >= 0x40000000, except -1) there too; then a
// binary search over syscall-number intervals (6 or 7 comparisons for the
// default profile, where libseccomp 2.5 tests numbers one by one) leads to
// either a shared "ret action" or the block of a syscall with argument
// conditions. Each such block holds only that syscall's rules and every path
// through it ends in a ret, so argument loads never meet a syscall-number
// comparison. 64-bit arguments are compared as high and low words. Paths
// that do not look at arguments only read nr and arch, so the kernel's
// per-syscall "always allowed" cache (Linux 5.11+) still applies to them.
func Compile(profile *Profile, caps []string, arch string) (*Filter, error) {
	pl, err := makePlan(profile, caps, arch)
	if pl == nil || err != nil {
		return nil, err
	}
	prog, err := pl.generate()
	if err != nil {
		return nil, err
	}
	return &Filter{Arch: pl.ai.goarch, Program: prog, Flags: pl.flags, DefaultAction: pl.def, Skipped: pl.skipped}, nil
}

// plan is the profile after the front end: filtered, resolved to numbers and
// split into rules, in profile order. Its rules are what an OCI runtime would
// hand to libseccomp's seccomp_rule_add_array (the differential test does
// exactly that).
type plan struct {
	ai      *archInfo
	def     uint32
	flags   uint
	rules   []planRule
	skipped []string
}

type planRule struct {
	nr     uint32
	action uint32
	args   []cseccomp.Arg // validated; ANDed
}

func makePlan(profile *Profile, caps []string, arch string) (*plan, error) {
	if profile == nil {
		return nil, errors.New("seccomp: nil profile")
	}
	if profile.DefaultAction == "" && len(profile.Syscalls) == 0 {
		return nil, nil
	}
	ai, err := lookupArch(arch)
	if err != nil {
		return nil, err
	}
	if err := validateTop(profile); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	def, _ := actionValue(profile.DefaultAction, profile.DefaultErrno, profile.DefaultErrnoRet)
	flags, _ := profileFlags(profile.Flags)
	pl := &plan{ai: ai, def: def, flags: flags}

	capSet := make(map[string]bool, len(caps))
	for _, c := range caps {
		capSet[normCap(c)] = true
	}
	skipped := map[string]bool{}
	for i, s := range profile.Syscalls {
		if s == nil {
			return nil, fmt.Errorf("seccomp profile: syscalls[%d]: null entry", i)
		}
		if !applies(s, capSet, ai.name) {
			continue
		}
		names, err := syscallNames(s)
		if err == nil {
			var act uint32
			act, err = actionValue(s.Action, s.Errno, s.ErrnoRet)
			if err == nil {
				_, err = convertArgs(s.Args, ai.bits)
			}
			if err == nil && act != def {
				for _, n := range names {
					nr, ok := ai.names[n]
					if !ok {
						skipped[n] = true
						continue
					}
					for _, args := range splitSameIndex(s.Args) {
						pl.rules = append(pl.rules, planRule{nr: nr, action: act, args: args})
					}
				}
			}
		}
		if err != nil {
			n := s.Name
			if n == "" && len(s.Names) > 0 {
				n = s.Names[0]
			}
			return nil, fmt.Errorf("seccomp profile: syscalls[%d] (%q): %w", i, n, err)
		}
	}
	for n := range skipped {
		pl.skipped = append(pl.skipped, n)
	}
	sort.Strings(pl.skipped)
	return pl, nil
}

// splitSameIndex returns the argument lists of the rules for one profile
// entry: one list with all conditions, or, if two conditions test the same
// argument, one single-condition list per condition (see Compile).
func splitSameIndex(args []*cseccomp.Arg) [][]cseccomp.Arg {
	var seen [maxArgIndex + 1]bool
	dup := false
	all := make([]cseccomp.Arg, 0, len(args))
	for _, a := range args {
		if seen[a.Index] {
			dup = true
		}
		seen[a.Index] = true
		all = append(all, *a)
	}
	if !dup {
		return [][]cseccomp.Arg{all}
	}
	out := make([][]cseccomp.Arg, len(all))
	for i := range all {
		out[i] = all[i : i+1 : i+1]
	}
	return out
}

func ptrs(args []cseccomp.Arg) []*cseccomp.Arg {
	out := make([]*cseccomp.Arg, len(args))
	for i := range args {
		out[i] = &args[i]
	}
	return out
}

// interval maps the syscall numbers [lo, next interval's lo) to a label.
type interval struct {
	lo     uint32
	target label
}

type codegen struct {
	assembler
	ai   *archInfo
	rets map[uint32]label // shared "ret <action>" instructions
}

func (g *codegen) retLabel(action uint32) label {
	l, ok := g.rets[action]
	if !ok {
		l = g.newLabel()
		g.rets[action] = l
	}
	return l
}

func (pl *plan) generate() ([]bpf.RawInstruction, error) {
	ai, def := pl.ai, pl.def
	perNr := map[uint32][]rule{}
	for _, r := range pl.rules {
		conds, err := convertArgs(ptrs(r.args), ai.bits)
		if err != nil {
			return nil, err // validated in makePlan
		}
		perNr[r.nr] = append(perNr[r.nr], rule{action: r.action, conds: conds})
	}
	g := &codegen{ai: ai, rets: map[uint32]label{}}
	lDefault := g.retLabel(def)
	lBadArch := g.retLabel(badArchAction(def))

	// Decide what each syscall does: a plain action (shared ret), or a block
	// of conditional rules.
	nrs := make([]uint32, 0, len(perNr))
	for nr := range perNr {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	type block struct {
		label label
		rules []rule
	}
	var blocks []block
	ivs := []interval{{lo: 0, target: lDefault}}
	for _, nr := range nrs {
		rules := perNr[nr]
		var t label
		if i := slices.IndexFunc(rules, func(r rule) bool { return len(r.conds) == 0 }); i >= 0 {
			t = g.retLabel(rules[i].action)
		} else {
			t = g.newLabel()
			blocks = append(blocks, block{label: t, rules: rules})
		}
		// Partition [0, 2^32) into intervals; numbers without rules get
		// the default action. Numbers are compared unsigned, so nr == -1
		// (which tracers use to skip a call) is the top of the range.
		if last := &ivs[len(ivs)-1]; last.lo == nr {
			last.target = t // nr follows the previous number (or is 0): replace the gap
		} else {
			ivs = append(ivs, interval{lo: nr, target: t})
		}
		if nr != ^uint32(0) {
			ivs = append(ivs, interval{lo: nr + 1, target: lDefault})
		}
	}
	// Merge neighbours with the same target (runs of allowed syscalls).
	merged := ivs[:1]
	for _, iv := range ivs[1:] {
		if merged[len(merged)-1].target != iv.target {
			merged = append(merged, iv)
		}
	}

	// A = seccomp_data.arch. Another ABI (e.g. i386 via int 0x80 on amd64)
	// uses other syscall numbers, so this program must not judge it.
	g.ldw(offArch)
	g.jmp(bpfJEQ, ai.audit, next, lBadArch)
	// A = seccomp_data.nr, kept in A during the whole dispatch tree.
	g.ldw(offNr)
	lX32 := lBadArch
	if ai.rejectX32 {
		// x32 calls arrive with AUDIT_ARCH_X86_64 too, with bit 30 set in
		// nr. They get the bad-arch action, except nr == -1, which gets
		// the default action (as in libseccomp, so that a tracer's "skip
		// this call" is not killed). When both actions are the same, one
		// jump does it.
		if lBadArch != lDefault {
			lX32 = g.newLabel()
		}
		g.jmp(bpfJGE, x32Bit, lX32, next)
	}
	g.tree(merged)
	if lX32 != lBadArch {
		g.bind(lX32)
		g.jmp(bpfJEQ, 0xffffffff, lDefault, lBadArch)
	}

	for _, b := range blocks {
		g.bind(b.label)
		for i, r := range b.rules {
			fail := lDefault
			if i < len(b.rules)-1 {
				fail = g.newLabel()
			}
			for _, c := range r.conds {
				g.cond(c, fail)
			}
			g.ret(r.action)
			if fail != lDefault {
				g.bind(fail)
			}
		}
	}

	// The shared return instructions, in a stable order.
	type rl struct {
		action uint32
		l      label
	}
	var rets []rl
	for a, l := range g.rets {
		rets = append(rets, rl{a, l})
	}
	sort.Slice(rets, func(i, j int) bool { return rets[i].l < rets[j].l })
	for _, r := range rets {
		g.bind(r.l)
		g.ret(r.action)
	}
	return g.assemble()
}

// tree emits a binary search over the intervals ivs (sorted, covering the
// syscall numbers reaching this point) that jumps to each interval's target.
// A holds nr; JGE compares unsigned.
func (g *codegen) tree(ivs []interval) {
	if len(ivs) == 1 {
		g.ja(ivs[0].target)
		return
	}
	mid := len(ivs) / 2
	left, right := ivs[:mid], ivs[mid:]
	lr := right[0].target
	if len(right) > 1 {
		lr = g.newLabel()
	}
	if len(left) == 1 {
		g.jmp(bpfJGE, right[0].lo, lr, left[0].target)
	} else {
		g.jmp(bpfJGE, right[0].lo, lr, next)
		g.tree(left)
	}
	if len(right) > 1 {
		g.bind(lr)
		g.tree(right)
	}
}

// cond emits one argument comparison: fall through when it holds, jump to
// fail when it does not. It clobbers A.
func (g *codegen) cond(c cond, fail label) {
	lo := uint32(offArgs + 8*c.index) // little-endian: low word first
	hi := lo + 4
	v := c.value
	vlo, vhi := uint32(v), uint32(v>>32)

	if g.ai.bits == 32 {
		// Only the low word is meaningful; values were truncated already.
		g.ldw(lo)
		switch c.op {
		case cseccomp.OpEqualTo:
			g.jmp(bpfJEQ, vlo, next, fail)
		case cseccomp.OpNotEqual:
			g.jmp(bpfJEQ, vlo, fail, next)
		case cseccomp.OpGreaterThan:
			g.jmp(bpfJGT, vlo, next, fail)
		case cseccomp.OpGreaterEqual:
			g.jmp(bpfJGE, vlo, next, fail)
		case cseccomp.OpLessThan:
			g.jmp(bpfJGE, vlo, fail, next)
		case cseccomp.OpLessEqual:
			g.jmp(bpfJGT, vlo, fail, next)
		case cseccomp.OpMaskedEqual:
			if uint32(c.mask) != 0xffffffff {
				g.and(uint32(c.mask))
			}
			g.jmp(bpfJEQ, vlo, next, fail)
		}
		return
	}

	pass := g.newLabel()
	switch c.op {
	case cseccomp.OpEqualTo:
		g.ldw(hi)
		g.jmp(bpfJEQ, vhi, next, fail)
		g.ldw(lo)
		g.jmp(bpfJEQ, vlo, next, fail)
	case cseccomp.OpNotEqual:
		g.ldw(hi)
		g.jmp(bpfJEQ, vhi, next, pass)
		g.ldw(lo)
		g.jmp(bpfJEQ, vlo, fail, next)
	case cseccomp.OpGreaterThan, cseccomp.OpGreaterEqual:
		// hi > vhi: holds; hi < vhi: fails; equal: decide on lo.
		g.ldw(hi)
		g.jmp(bpfJGT, vhi, pass, next)
		g.jmp(bpfJEQ, vhi, next, fail)
		g.ldw(lo)
		op := uint16(bpfJGT)
		if c.op == cseccomp.OpGreaterEqual {
			op = bpfJGE
		}
		g.jmp(op, vlo, next, fail)
	case cseccomp.OpLessThan, cseccomp.OpLessEqual:
		// hi > vhi: fails; hi < vhi: holds; equal: decide on lo.
		g.ldw(hi)
		g.jmp(bpfJGT, vhi, fail, next)
		g.jmp(bpfJEQ, vhi, next, pass)
		g.ldw(lo)
		if c.op == cseccomp.OpLessThan {
			g.jmp(bpfJGE, vlo, fail, next) // lo < vlo
		} else {
			g.jmp(bpfJGT, vlo, fail, next) // lo <= vlo
		}
	case cseccomp.OpMaskedEqual:
		// (arg & mask) == value, per word; a word with a zero mask always
		// matches and is not tested.
		for _, w := range [2]struct {
			off, mask, val uint32
		}{{hi, uint32(c.mask >> 32), vhi}, {lo, uint32(c.mask), vlo}} {
			if w.mask == 0 {
				continue
			}
			g.ldw(w.off)
			if w.mask != 0xffffffff {
				g.and(w.mask)
			}
			g.jmp(bpfJEQ, w.val, next, fail)
		}
	}
	g.bind(pass)
}
