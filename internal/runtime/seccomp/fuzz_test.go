//go:build linux

package seccomp

import (
	"strings"
	"testing"
)

// FuzzLoadProfileJSON checks that no input makes the loader or the compiler
// panic, that every profile the loader accepts compiles (the only permitted
// failure is the kernel's size limit), and that compiled programs are valid
// for x/net/bpf's VM. Seeds: testdata/fuzz/FuzzLoadProfileJSON.
func FuzzLoadProfileJSON(f *testing.F) {
	f.Add([]byte(sampleProfile))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := LoadProfileJSON(data)
		if err != nil {
			if p != nil {
				t.Fatalf("profile returned with error %v", err)
			}
			return
		}
		for _, arch := range []string{"amd64", "arm64", "386"} {
			fl, err := Compile(p, defaultCaps, arch)
			if err != nil {
				if !strings.Contains(err.Error(), "kernel limit") {
					t.Fatalf("%s: accepted profile does not compile: %v", arch, err)
				}
				continue
			}
			if fl == nil {
				if p.DefaultAction != "" || len(p.Syscalls) != 0 {
					t.Fatalf("%s: nil filter for a non-empty profile", arch)
				}
				continue
			}
			if fl.Len() == 0 || fl.Len() > maxInsns {
				t.Fatalf("%s: %d instructions", arch, fl.Len())
			}
			vm := vmFor(t, fl.Program)
			for _, d := range []sdata{{nr: 0}, {nr: 59, arch: auditX86_64}, {nr: 0xffffffff, arch: auditAARCH64, args: [6]uint64{1, 2, 3}}} {
				runVM(t, vm, d)
			}
		}
	})
}
