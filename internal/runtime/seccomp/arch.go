//go:build linux

package seccomp

import (
	"fmt"
	"runtime"
	"sync"
)

//go:generate go run ../../../hack/gensyscalls -o zsyscalls.go

// sysEntry is one syscall of a generated table (zsyscalls.go).
type sysEntry struct {
	name string
	nr   int
}

// archInfo describes one architecture the compiler can emit code for.
type archInfo struct {
	goarch string
	// name is the architecture name as libseccomp prints it for the native
	// arch; podman compares the Includes/Excludes "arches" of a profile
	// against it ("amd64", "arm64", "x86", "arm").
	name string
	// audit is the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch.
	audit uint32
	// bits is the width of a syscall argument. On 32-bit ABIs only the low
	// word of each seccomp_data.args[i] is compared (the kernel zero-extends
	// the 32-bit registers), which is also what libseccomp does.
	bits int
	// rejectX32 is set on amd64: numbers with the x32 bit (0x40000000) set
	// arrive with AUDIT_ARCH_X86_64 too, and must not match x86_64 rules.
	rejectX32 bool
	// names maps syscall names to numbers (elastic's tables plus fixups).
	names map[string]uint32
}

// All supported architectures are little-endian, so the low word of a 64-bit
// argument is at the lower offset in seccomp_data. (Big-endian support would
// swap the two offsets; no table for such an arch is shipped.)
const (
	offNr       = 0  // int   nr
	offArch     = 4  // __u32 arch
	offArgs     = 16 // __u64 args[6] (after __u64 instruction_pointer at 8)
	x32Bit      = 0x40000000
	maxArgIndex = 5
)

var (
	archOnce  sync.Once
	archTable map[string]*archInfo
)

func loadArches() {
	archTable = map[string]*archInfo{
		"amd64": newArch("amd64", "amd64", 0xc000003e, 64, true, tableAMD64Audit, syscallsAMD64[:], fixupsAMD64, nil),
		"arm64": newArch("arm64", "arm64", 0xc00000b7, 64, false, tableARM64Audit, syscallsARM64[:], fixupsARM64, dropARM64),
		"386":   newArch("386", "x86", 0x40000003, 32, false, tableI386Audit, syscallsI386[:], nil, nil),
		"arm":   newArch("arm", "arm", 0x40000028, 32, false, tableARMAudit, syscallsARM[:], nil, nil),
	}
}

func newArch(goarch, name string, audit uint32, bits int, x32 bool, tableAudit uint32, table []sysEntry, add map[string]uint32, drop func(string, int) bool) *archInfo {
	if tableAudit != audit {
		// The tables are keyed by the audit arch; a mismatch would mean a
		// wrong table, which must never reach the kernel.
		panic(fmt.Sprintf("seccomp: audit arch mismatch for %s: %#x != %#x", goarch, tableAudit, audit))
	}
	a := &archInfo{goarch: goarch, name: name, audit: audit, bits: bits, rejectX32: x32, names: make(map[string]uint32, len(table)+len(add))}
	for _, e := range table {
		if drop != nil && drop(e.name, e.nr) {
			continue
		}
		a.names[e.name] = uint32(e.nr)
	}
	for n, nr := range add {
		a.names[n] = nr
	}
	return a
}

// Fixups to elastic's v1.6.0 tables, found by comparing them with
// libseccomp's syscalls.csv (see TestSyscallTablesAgainstLibseccomp in the
// libseccomp_diff test). Numbers 424 and up are shared by every arch since
// Linux 5.1.
var (
	fixupsAMD64 = map[string]uint32{
		"file_getattr": 468,
		"file_setattr": 469,
		"listns":       470,
	}
	fixupsARM64 = map[string]uint32{
		// elastic names syscall 79 "fstatat"; the kernel, libseccomp and
		// every seccomp profile call it "newfstatat". Without this, stat(2)
		// family calls from glibc would be denied on arm64.
		"newfstatat":   79,
		"file_getattr": 468,
		"file_setattr": 469,
		"listns":       470,
	}
)

// dropARM64 removes entries of elastic's arm64 table that are not arm64
// syscalls: the 32-bit-only *_time64 calls (403-423 are unused on 64-bit
// arches), the placeholder "arch_specific_syscall" (244), and "fstatat",
// replaced by its real name above.
func dropARM64(name string, nr int) bool {
	return (nr >= 403 && nr <= 423) || name == "arch_specific_syscall" || name == "fstatat"
}

func lookupArch(goarch string) (*archInfo, error) {
	archOnce.Do(loadArches)
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	a, ok := archTable[goarch]
	if !ok {
		return nil, fmt.Errorf("seccomp: no syscall table for architecture %q (supported: amd64, arm64, 386, arm)", goarch)
	}
	return a, nil
}

// SyscallNumber returns the number of the named syscall on the given GOARCH
// ("" means the running one), as the compiler resolves it.
func SyscallNumber(goarch, name string) (int, bool) {
	a, err := lookupArch(goarch)
	if err != nil {
		return 0, false
	}
	nr, ok := a.names[name]
	return int(nr), ok
}
