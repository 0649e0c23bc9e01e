package spec

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{
		"ctrl-p,ctrl-q":  {16, 17},
		"a":              {'a'},
		"ctrl-@,ctrl-_":  {0, 31},
		"ctrl-[,ctrl-\\": {27, 28},
		"x,DEL,ctrl-z,,": nil, // empty keys are refused
	} {
		got, err := ParseDetachKeys(in, "--detach-keys")
		if want == nil {
			checkRejected(t, err, "--detach-keys")
			continue
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-P", "ctrl-1", "ab", "ctrl-pp", "ctrl-p,,ctrl-q"} {
		_, err := ParseDetachKeys(bad, "detach_keys")
		checkRejected(t, err, "detach_keys")
		if bad != "" && !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %q does not quote the value", bad, err)
		}
	}
}

func FuzzParseDetachKeys(f *testing.F) {
	f.Add("ctrl-p,ctrl-q")
	f.Add("a,DEL,ctrl-@")
	f.Add("ctrl-,x")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseDetachKeys(in, "--detach-keys")
		if err != nil {
			checkRejected(t, err, "--detach-keys")
			return
		}
		if len(got) == 0 || len(got) != len(strings.Split(in, ",")) {
			t.Fatalf("%q: %d keys for %d items", in, len(got), len(strings.Split(in, ",")))
		}
	})
}
