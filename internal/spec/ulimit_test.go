package spec

import (
	"math"
	"testing"
)

func TestParseUlimit(t *testing.T) {
	tests := []struct {
		in   string
		want Ulimit
	}{
		{"nofile=1024", Ulimit{"nofile", 1024, 1024}},
		{"nofile=1024:4096", Ulimit{"nofile", 1024, 4096}},
		{"nproc=0:0", Ulimit{"nproc", 0, 0}},
		{"core=-1", Ulimit{"core", -1, -1}},
		{"core=unlimited", Ulimit{"core", -1, -1}},
		{"memlock=-1:-1", Ulimit{"memlock", -1, -1}},
		{"memlock=1024:unlimited", Ulimit{"memlock", 1024, -1}},
		{"stack=9223372036854775807", Ulimit{"stack", math.MaxInt64, math.MaxInt64}},
	}
	for _, tt := range tests {
		got, err := ParseUlimit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	errs := []struct{ in, hint string }{
		{"nofile", "NAME=SOFT"},
		{"as=1", `unknown limit "as"`},
		{"NOFILE=1", "unknown limit"},
		{"=1", "unknown limit"},
		{"nofile=", "empty limit"},
		{"nofile=1:", "empty limit"},
		{"nofile=:1", "empty limit"},
		{"nofile=2:1", "soft limit 2 is greater than hard limit 1"},
		{"nofile=-1:10", "soft limit is unlimited"},
		{"nofile=-2", "not a non-negative number"},
		{"nofile=1:2:3", "not a non-negative number"},
		{"nofile=1k", "not a non-negative number"},
		{"nofile=+1", "not a non-negative number"},
		{"nofile=99999999999999999999", "out of range"},
	}
	for _, tt := range errs {
		_, err := ParseUlimit(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
}

func TestUlimitRlimit(t *testing.T) {
	r := Ulimit{"nofile", 10, -1}.Rlimit()
	if r.Type != "RLIMIT_NOFILE" || r.Soft != 10 || r.Hard != math.MaxUint64 {
		t.Errorf("got %+v", r)
	}
	u := Ulimit{"rtprio", 1, 2}
	if back, err := ParseUlimit(u.String()); err != nil || back != u {
		t.Errorf("round trip of %v: %v, %v", u, back, err)
	}
}
