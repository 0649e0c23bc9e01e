package engine

import "testing"

func TestPathInMount(t *testing.T) {
	for _, tt := range []struct{ in, dest, want string }{
		{"/data", "/data", "/"},
		{"/data/", "/data", "/"},
		{"/data/.", "/data", "/."},
		{"data/x", "/data", "/x"},
		{"/data/sub/", "/data", "/sub/"},
		{"/data/sub/.", "/data", "/sub/."},
		{"/data//a/../b", "/data", "/b"},
		{"/data/inner/f", "/data/inner", "/f"},
	} {
		if got := pathInMount(tt.in, tt.dest); got != tt.want {
			t.Errorf("pathInMount(%q, %q) = %q, want %q", tt.in, tt.dest, got, tt.want)
		}
	}
	for _, tt := range []struct {
		p, dir string
		want   bool
	}{
		{"/data", "/data", true},
		{"/data/x", "/data", true},
		{"/database", "/data", false},
		{"/", "/data", false},
	} {
		if got := pathUnder(tt.p, tt.dir); got != tt.want {
			t.Errorf("pathUnder(%q, %q) = %v", tt.p, tt.dir, got)
		}
	}
}
