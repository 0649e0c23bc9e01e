package engine

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestDetachReader: the detach sequence ends the input and none of it is
// passed on; a broken-off prefix is ordinary input, also across reads.
func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17} // ctrl-p,ctrl-q
	for _, tc := range []struct {
		in       string
		want     string
		detached bool
	}{
		{"hello", "hello", false},
		{"ab\x10\x11cd", "ab", true},
		{"\x10\x11", "", true},
		{"a\x10b", "a\x10b", false},
		{"a\x10\x10\x11", "a\x10", true},
		{"x\x10", "x\x10", false}, // a prefix at the input's end is input
	} {
		for _, one := range []bool{false, true} {
			var r io.Reader = bytes.NewReader([]byte(tc.in))
			if one {
				r = iotest.OneByteReader(r)
			}
			d := &detachReader{r: r, keys: keys}
			got, err := io.ReadAll(d)
			if tc.detached != errors.Is(err, ErrDetached) || string(got) != tc.want {
				t.Errorf("%q (one byte at a time %v): got %q, %v; want %q, detached %v", tc.in, one, got, err, tc.want, tc.detached)
			}
		}
	}
	// No keys: a plain pass-through.
	got, err := io.ReadAll(&detachReader{r: bytes.NewReader([]byte("a\x10\x11"))})
	if err != nil || string(got) != "a\x10\x11" {
		t.Errorf("without keys: %q %v", got, err)
	}
}
