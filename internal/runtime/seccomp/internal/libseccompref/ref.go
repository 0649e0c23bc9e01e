//go:build cgo && libseccomp_diff

package libseccompref

/*
#cgo pkg-config: libseccomp
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <seccomp.h>

// build compiles the rules with libseccomp for the architecture whose token
// (= AUDIT_ARCH_* value) is arch and writes the exported classic BPF program
// (struct sock_filter[]) to *out (malloc'd) and its size in bytes to *outlen.
// Rule i has nargs[i] conditions at args[6*i]. On a rule error *failed is i.
static int build(uint32_t def, uint32_t badarch, uint32_t arch, int nrules,
                 const int *nrs, const uint32_t *acts, const unsigned *nargs,
                 const struct scmp_arg_cmp *args, int *failed,
                 void **out, size_t *outlen)
{
	int rc, fd = -1;
	off_t size;
	scmp_filter_ctx ctx = seccomp_init(def);
	*failed = -1;
	if (ctx == NULL)
		return -ENOMEM;
	if (arch != seccomp_arch_native()) {
		if ((rc = seccomp_arch_add(ctx, arch)) < 0)
			goto out;
		if ((rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE)) < 0)
			goto out;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch)) < 0)
		goto out;
	for (int i = 0; i < nrules; i++) {
		rc = seccomp_rule_add_array(ctx, acts[i], nrs[i], nargs[i], &args[6 * i]);
		if (rc < 0) {
			*failed = i;
			goto out;
		}
	}
	fd = memfd_create("libseccompref", 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0)
		goto out;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0) {
		rc = -EIO;
		goto out;
	}
	*out = malloc(size);
	if (*out == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(fd, *out, size, 0) != size) {
		free(*out);
		*out = NULL;
		rc = -EIO;
		goto out;
	}
	*outlen = size;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}

static int resolve(uint32_t arch, const char *name)
{
	return seccomp_syscall_resolve_name_arch(arch, name);
}

static int resolve_native(const char *name)
{
	return seccomp_syscall_resolve_name(name);
}

static void version(unsigned *v)
{
	const struct scmp_version *x = seccomp_version();
	v[0] = x->major;
	v[1] = x->minor;
	v[2] = x->micro;
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
)

// libseccomp comparison operators (enum scmp_compare).
const (
	CmpNE       = C.SCMP_CMP_NE
	CmpLT       = C.SCMP_CMP_LT
	CmpLE       = C.SCMP_CMP_LE
	CmpEQ       = C.SCMP_CMP_EQ
	CmpGE       = C.SCMP_CMP_GE
	CmpGT       = C.SCMP_CMP_GT
	CmpMaskedEQ = C.SCMP_CMP_MASKED_EQ
)

// Cond is one struct scmp_arg_cmp. For CmpMaskedEQ, A is the mask and B the
// datum.
type Cond struct {
	Arg  uint
	Op   int
	A, B uint64
}

// Rule is one seccomp_rule_add_array call.
type Rule struct {
	Nr     int32
	Action uint32
	Conds  []Cond
}

// RuleError reports which rule libseccomp refused.
type RuleError struct {
	Index int
	Err   syscall.Errno
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("libseccomp refused rule %d: %v", e.Index, e.Err)
}

// Build compiles rules with libseccomp for the architecture with the given
// audit value (libseccomp's arch tokens are the AUDIT_ARCH_* values), with
// syscall numbers as ResolveNative describes, with
// default action def and bad-architecture action badArch, and returns the
// exported program.
func Build(audit, def, badArch uint32, rules []Rule) ([]bpf.RawInstruction, error) {
	n := len(rules)
	alloc := func(size uintptr) unsafe.Pointer { return C.calloc(C.size_t(max(n, 1)), C.size_t(size)) }
	nrs := (*[1 << 20]C.int)(alloc(C.sizeof_int))[:n:n]
	acts := (*[1 << 20]C.uint32_t)(alloc(C.sizeof_uint32_t))[:n:n]
	nargs := (*[1 << 20]C.unsigned)(alloc(C.sizeof_unsigned))[:n:n]
	args := (*[1 << 22]C.struct_scmp_arg_cmp)(alloc(6 * C.sizeof_struct_scmp_arg_cmp))[: 6*n : 6*n]
	defer C.free(unsafe.Pointer(unsafe.SliceData(nrs)))
	defer C.free(unsafe.Pointer(unsafe.SliceData(acts)))
	defer C.free(unsafe.Pointer(unsafe.SliceData(nargs)))
	defer C.free(unsafe.Pointer(unsafe.SliceData(args)))
	for i, r := range rules {
		if len(r.Conds) > 6 {
			return nil, fmt.Errorf("rule %d: %d conditions", i, len(r.Conds))
		}
		nrs[i] = C.int(r.Nr)
		acts[i] = C.uint32_t(r.Action)
		nargs[i] = C.unsigned(len(r.Conds))
		for j, c := range r.Conds {
			args[6*i+j] = C.struct_scmp_arg_cmp{
				arg:     C.uint(c.Arg),
				op:      uint32(c.Op),
				datum_a: C.scmp_datum_t(c.A),
				datum_b: C.scmp_datum_t(c.B),
			}
		}
	}
	var failed C.int
	var out unsafe.Pointer
	var outlen C.size_t
	rc := C.build(C.uint32_t(def), C.uint32_t(badArch), C.uint32_t(audit), C.int(n),
		unsafe.SliceData(nrs), unsafe.SliceData(acts), unsafe.SliceData(nargs), unsafe.SliceData(args),
		&failed, &out, &outlen)
	if rc < 0 {
		if failed >= 0 {
			return nil, &RuleError{Index: int(failed), Err: syscall.Errno(-rc)}
		}
		return nil, fmt.Errorf("libseccomp: %w", syscall.Errno(-rc))
	}
	defer C.free(out)
	raw := C.GoBytes(out, C.int(outlen))
	if len(raw)%8 != 0 {
		return nil, fmt.Errorf("libseccomp exported %d bytes, not a multiple of 8", len(raw))
	}
	prog := make([]bpf.RawInstruction, len(raw)/8)
	for i := range prog {
		b := raw[8*i:]
		// struct sock_filter in host (little-endian) order.
		prog[i] = bpf.RawInstruction{
			Op: binary.LittleEndian.Uint16(b[0:]),
			Jt: b[2],
			Jf: b[3],
			K:  binary.LittleEndian.Uint32(b[4:]),
		}
	}
	return prog, nil
}

// Resolve returns libseccomp's number for name on the architecture; ok is
// false when libseccomp does not know the name there (negative pseudo
// numbers included).
func Resolve(audit uint32, name string) (int, bool) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	n := int(C.resolve(C.uint32_t(audit), cs))
	return n, n >= 0
}

// ResolveNative returns the number libseccomp's API expects for name when
// adding a rule: the host architecture's number, or one of libseccomp's
// negative pseudo numbers for syscalls the host architecture lacks. Rules
// are given in these terms even for a filter of another architecture;
// libseccomp translates them by name.
func ResolveNative(name string) (int32, bool) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	n := int32(C.resolve_native(cs))
	return n, n != -1 // __NR_SCMP_ERROR
}

// NativeAudit returns the host's architecture token (AUDIT_ARCH_* value).
func NativeAudit() uint32 { return uint32(C.seccomp_arch_native()) }

// Version returns libseccomp's version.
func Version() string {
	var v [3]C.unsigned
	C.version(&v[0])
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
}
