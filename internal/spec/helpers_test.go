package spec

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
)

// wantInvalid checks that err is a user-input error (exit 125) whose
// message names the offending value (quoted) and contains each hint.
func wantInvalid(t *testing.T, err error, value string, hints ...string) {
	t.Helper()
	wantInvalidMsg(t, err, append([]string{strconv.Quote(value)}, hints...)...)
}

// wantInvalidMsg checks that err is a user-input error (exit 125) whose
// message contains each of parts.
func wantInvalidMsg(t *testing.T, err error, parts ...string) {
	t.Helper()
	value := strings.Join(parts, " ")
	if err == nil {
		t.Fatalf("%q: expected an error", value)
	}
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("%q: error %q is not ErrInvalidArgument", value, err)
	}
	if c := errdefs.ExitCode(err); c != 125 {
		t.Errorf("%q: exit code %d, want 125", value, c)
	}
	for _, h := range parts {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("error %q does not contain %q", err, h)
		}
	}
}
