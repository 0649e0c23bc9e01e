package spec

import "testing"

func TestParseDevice(t *testing.T) {
	tests := []struct {
		in   string
		want Device
	}{
		{"/dev/fuse", Device{"/dev/fuse", "/dev/fuse", "rwm"}},
		{"/dev/fuse:rw", Device{"/dev/fuse", "/dev/fuse", "rw"}},
		{"/dev/sda:/dev/xvda", Device{"/dev/sda", "/dev/xvda", "rwm"}},
		{"/dev/sda:/dev/xvda:r", Device{"/dev/sda", "/dev/xvda", "r"}},
		{"/dev/sda:/dev/xvda:mwr", Device{"/dev/sda", "/dev/xvda", "mwr"}},
		{"/dev//snd/:/dev/snd/", Device{"/dev/snd", "/dev/snd", "rwm"}},
		{"/dev/x:/dev/rwm2", Device{"/dev/x", "/dev/rwm2", "rwm"}},
	}
	for _, tt := range tests {
		got, err := ParseDevice(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if back, err := ParseDevice(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), back, err)
		}
	}
	errs := []struct{ in, hint string }{
		{"", "not an absolute path"},
		{"dev/fuse", "not an absolute path"},
		{"/dev/a:dev/b", "not an absolute path"},
		{"/dev/a:/dev/b:rwx", "bad permissions"},
		{"/dev/a:/dev/b:rr", "bad permissions"},
		{"/dev/a:/dev/b:", "bad permissions"},
		{"/dev/a::r", "empty container path"},
		{"/dev/a:", "empty container path"},
		{"/dev/a:/b:r:x", "too many"},
		{"/dev/a:/", `can't be "/"`},
		{"/dev/a:/x/../y", `".."`},
	}
	for _, tt := range errs {
		_, err := ParseDevice(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
}
