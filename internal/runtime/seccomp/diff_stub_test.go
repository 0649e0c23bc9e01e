//go:build linux && !(cgo && libseccomp_diff)

package seccomp

import "testing"

func TestDifferentialLibseccomp(t *testing.T) {
	t.Skip("differential test against libseccomp needs CGO_ENABLED=1 and -tags libseccomp_diff (and libseccomp-dev)")
}
