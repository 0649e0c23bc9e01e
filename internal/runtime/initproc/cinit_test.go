//go:build cgo

package initproc

import (
	"bytes"
	"testing"
)

// FuzzCInitPlan: the C init's plan parser never crashes or reads past its
// input, whatever the bytes; it accepts only input that starts and ends
// like a plan. Seeds are plans the parent wrote (see TestCPlanParses in
// package runtime, which regenerates them with COVE_WRITE_FUZZ_SEEDS=1).
func FuzzCInitPlan(f *testing.F) {
	f.Add([]byte("COVEPLN1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// An exact-length copy, so that a read past the end would leave
		// Go's allocation (and show under -asan builds).
		in := bytes.Clone(b)
		if CheckPlan(in) == nil && (!bytes.HasPrefix(in, []byte("COVEPLN1")) || !bytes.HasSuffix(in, []byte("END!"))) {
			t.Errorf("accepted a plan without its markers: %q", in)
		}
	})
}
