//go:build linux

package seccomp

import (
	"encoding/binary"
	"testing"

	cseccomp "go.podman.io/common/pkg/seccomp"
	"golang.org/x/net/bpf"
)

// podman's default capability set (the bounding set of a default container).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

const (
	auditX86_64  = 0xc000003e
	auditI386    = 0x40000003
	auditAARCH64 = 0xc00000b7
)

// sdata is a struct seccomp_data as the filter sees it.
type sdata struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// encode lays out d for x/net/bpf's VM.
//
// The kernel runs a seccomp program over struct seccomp_data in host byte
// order: on little-endian hosts "ld [16]" yields the low 32 bits of args[0]
// and "ld [20]" the high 32 bits. x/net/bpf's VM was written for network
// packets and reads 32-bit words big-endian. So every 32-bit word is stored
// here big-endian at the offset where the kernel would read it (i.e. the
// native little-endian struct with each 32-bit word byte-swapped); the VM
// then loads exactly the values the kernel would.
func encode(d sdata) []byte {
	b := make([]byte, 64)
	be := binary.BigEndian
	be.PutUint32(b[0:], d.nr)
	be.PutUint32(b[4:], d.arch)
	// b[8:16] instruction_pointer: never read.
	for i, a := range d.args {
		be.PutUint32(b[16+8*i:], uint32(a))       // low word first (LE layout)
		be.PutUint32(b[16+8*i+4:], uint32(a>>32)) // then the high word
	}
	return b
}

// vmFor builds a VM for a raw program.
func vmFor(t testing.TB, prog []bpf.RawInstruction) *bpf.VM {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program has instructions x/net/bpf cannot decode")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	return vm
}

func runVM(t testing.TB, vm *bpf.VM, d sdata) uint32 {
	t.Helper()
	r, err := vm.Run(encode(d))
	if err != nil {
		t.Fatalf("vm.Run(%+v): %v", d, err)
	}
	return uint32(r)
}

// refEval is a direct, unoptimized statement of the semantics Compile
// documents, evaluated on the plan (the front end's output). Comparing it to
// the compiled program tests the code generator: layout, dispatch tree,
// 64-bit splitting, trampolines.
func refEval(pl *plan, d sdata) uint32 {
	def := pl.def
	if d.arch != pl.ai.audit {
		return badArchAction(def)
	}
	if pl.ai.rejectX32 && d.nr >= x32Bit {
		if d.nr == 0xffffffff {
			return def
		}
		return badArchAction(def)
	}
	var rules []planRule
	for _, r := range pl.rules {
		if r.nr == d.nr {
			rules = append(rules, r)
		}
	}
	// The first unconditional rule (after dropping always-true masked
	// comparisons) decides.
	for _, r := range rules {
		uncond := true
		for _, a := range r.args {
			if !(a.Op == cseccomp.OpMaskedEqual && maskOf(a, pl.ai.bits) == 0) {
				uncond = false
			}
		}
		if uncond {
			return r.action
		}
	}
	for _, r := range rules {
		ok := true
		for _, a := range r.args {
			if !holds(a, d.args[a.Index], pl.ai.bits) {
				ok = false
				break
			}
		}
		if ok {
			return r.action
		}
	}
	return def
}

func maskOf(a cseccomp.Arg, bits int) uint64 {
	if bits == 32 {
		return a.Value & 0xffffffff
	}
	return a.Value
}

func holds(a cseccomp.Arg, v uint64, bits int) bool {
	val, val2 := a.Value, a.ValueTwo
	if bits == 32 {
		v, val, val2 = v&0xffffffff, val&0xffffffff, val2&0xffffffff
	}
	switch a.Op {
	case cseccomp.OpEqualTo:
		return v == val
	case cseccomp.OpNotEqual:
		return v != val
	case cseccomp.OpLessThan:
		return v < val
	case cseccomp.OpLessEqual:
		return v <= val
	case cseccomp.OpGreaterThan:
		return v > val
	case cseccomp.OpGreaterEqual:
		return v >= val
	case cseccomp.OpMaskedEqual:
		return v&val == val2&val
	}
	panic("bad op " + a.Op)
}
