//go:build cgo

package initproc

// The C init (cinit_linux.c) runs from a constructor, before the Go
// runtime, for every container whose parent sent it a plan; this file only
// tells the parent that this binary has it, and lets the tests reach its
// parser.

/*
#include <stddef.h>
int cove_cinit_check_plan(const unsigned char *buf, size_t len);
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/cove-run/cove/internal/runtime/proto"
)

func init() { proto.CInitLinked = true }

// CheckPlan runs the C init's parser on b (for tests and fuzzing): nil
// when the C init would accept it as a plan.
func CheckPlan(b []byte) error {
	if len(b) == 0 {
		b = []byte{0}[:0:1]
	}
	// b holds no Go pointers, so C may read it for the call's duration.
	if C.cove_cinit_check_plan((*C.uchar)(unsafe.Pointer(unsafe.SliceData(b[:cap(b)]))), C.size_t(len(b))) != 0 {
		return errors.New("the C init rejects the plan")
	}
	return nil
}
