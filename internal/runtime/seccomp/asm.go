//go:build linux

package seccomp

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// A tiny label-based assembler for classic BPF.
//
// Classic BPF has only forward jumps; conditional jumps carry 8-bit offsets
// (0..255 instructions) while the unconditional "ja" carries a 32-bit one.
// The compiler writes code against symbolic labels and assemble() lays it
// out, giving each conditional branch that cannot reach its target a "ja"
// trampoline placed right after the jump. Adding trampolines only makes other
// distances longer, so the layout is repeated until nothing changes; this
// terminates because a branch never loses its trampoline.

// maxInsns is the kernel's BPF_MAXINSNS: longer programs are refused with
// EINVAL by seccomp(2).
const maxInsns = 4096

type label int

// next is the pseudo-label "the instruction after this jump (and after its
// trampolines)".
const next label = -1

type insnKind uint8

const (
	kPlain insnKind = iota // ld, alu, ret: no jump offsets
	kCond                  // conditional jump to jt/jf
	kJa                    // unconditional jump to jt
	kBind                  // binds label jt to the next instruction
)

type insn struct {
	kind   insnKind
	op     uint16
	k      uint32
	jt, jf label
}

type assembler struct {
	ins     []insn
	nlabels int
}

func (a *assembler) newLabel() label {
	a.nlabels++
	return label(a.nlabels - 1)
}

func (a *assembler) bind(l label) { a.ins = append(a.ins, insn{kind: kBind, jt: l}) }

// ldw loads the 32-bit word at offset off of struct seccomp_data into A.
func (a *assembler) ldw(off uint32) {
	a.ins = append(a.ins, insn{kind: kPlain, op: bpfLD | bpfW | bpfABS, k: off})
}

func (a *assembler) and(k uint32) {
	a.ins = append(a.ins, insn{kind: kPlain, op: bpfALU | bpfAND | bpfK, k: k})
}

func (a *assembler) ret(k uint32) {
	a.ins = append(a.ins, insn{kind: kPlain, op: bpfRET | bpfK, k: k})
}

func (a *assembler) ja(l label) { a.ins = append(a.ins, insn{kind: kJa, op: bpfJMP | bpfJA, jt: l}) }

// jmp emits "if A <op> k goto jt else goto jf" (op is JEQ, JGT, JGE or JSET).
func (a *assembler) jmp(op uint16, k uint32, jt, jf label) {
	a.ins = append(a.ins, insn{kind: kCond, op: bpfJMP | op | bpfK, k: k, jt: jt, jf: jf})
}

// Classic BPF opcode bits (linux/bpf_common.h).
const (
	bpfLD  = 0x00
	bpfALU = 0x04
	bpfJMP = 0x05
	bpfRET = 0x06
	bpfW   = 0x00
	bpfABS = 0x20
	bpfAND = 0x50
	bpfJA  = 0x00
	bpfJEQ = 0x10
	bpfJGT = 0x20
	bpfJGE = 0x30
	bpfK   = 0x00
)

func (a *assembler) assemble() ([]bpf.RawInstruction, error) {
	// far[i] bit 0: branch jt needs a trampoline; bit 1: jf does.
	far := make([]uint8, len(a.ins))
	tramps := func(i int) int { return int(far[i]&1) + int(far[i]>>1&1) }
	addr := make([]int, len(a.ins))
	laddr := make([]int, a.nlabels)
	var size int
	for {
		for l := range laddr {
			laddr[l] = -1
		}
		pc := 0
		for i, in := range a.ins {
			if in.kind == kBind {
				laddr[in.jt] = pc
				continue
			}
			addr[i] = pc
			pc++
			if in.kind == kCond {
				pc += tramps(i)
			}
		}
		size = pc
		changed := false
		for i, in := range a.ins {
			if in.kind != kCond {
				continue
			}
			for bit, target := range [2]label{in.jt, in.jf} {
				if target == next || far[i]&(1<<bit) != 0 {
					continue
				}
				to := laddr[target]
				if to < 0 {
					return nil, fmt.Errorf("seccomp: internal error: unbound label %d", target)
				}
				d := to - (addr[i] + 1)
				if d < 0 {
					return nil, fmt.Errorf("seccomp: internal error: backward jump to label %d", target)
				}
				if d > 255 {
					far[i] |= 1 << bit
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	if size > maxInsns {
		return nil, fmt.Errorf("seccomp: filter needs %d instructions, more than the kernel limit of %d", size, maxInsns)
	}

	out := make([]bpf.RawInstruction, 0, size)
	for i, in := range a.ins {
		pc := len(out)
		switch in.kind {
		case kBind:
			continue
		case kPlain:
			out = append(out, bpf.RawInstruction{Op: in.op, K: in.k})
		case kJa:
			d := laddr[in.jt] - (pc + 1)
			if d < 0 {
				return nil, fmt.Errorf("seccomp: internal error: backward ja to label %d", in.jt)
			}
			out = append(out, bpf.RawInstruction{Op: in.op, K: uint32(d)})
		case kCond:
			slot := pc + 1
			var tgt [2]int    // final destination of each branch
			var via [2]int    // where the conditional jump itself lands
			var trampo [2]int // address of each trampoline, or -1
			for bit := range 2 {
				trampo[bit] = -1
				if far[i]&(1<<bit) != 0 {
					trampo[bit] = slot
					slot++
				}
			}
			for bit, l := range [2]label{in.jt, in.jf} {
				if l == next {
					tgt[bit] = pc + 1 + tramps(i)
				} else {
					tgt[bit] = laddr[l]
				}
				via[bit] = tgt[bit]
				if trampo[bit] >= 0 {
					via[bit] = trampo[bit]
				}
			}
			jt, jf := via[0]-(pc+1), via[1]-(pc+1)
			if jt < 0 || jt > 255 || jf < 0 || jf > 255 {
				return nil, fmt.Errorf("seccomp: internal error: jump offsets %d/%d out of range", jt, jf)
			}
			out = append(out, bpf.RawInstruction{Op: in.op, Jt: uint8(jt), Jf: uint8(jf), K: in.k})
			for bit := range 2 {
				if trampo[bit] >= 0 {
					p := len(out)
					out = append(out, bpf.RawInstruction{Op: bpfJMP | bpfJA, K: uint32(tgt[bit] - (p + 1))})
				}
			}
		}
	}
	if len(out) != size {
		return nil, fmt.Errorf("seccomp: internal error: laid out %d instructions, emitted %d", size, len(out))
	}
	return out, nil
}
