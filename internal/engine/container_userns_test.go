package engine

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOverlayMount(t *testing.T) {
	info := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
90 22 0:50 / /s/overlay/merged rw,relatime - overlay overlay rw,lowerdir=/s/overlay/l/A:/s/overlay/l/B,upperdir=/s/overlay/c1/diff,workdir=/s/overlay/c1/work,userxattr
91 22 0:51 / /s/overlay/c2/merged rw - overlay overlay rw,lowerdir=l/A:l/B,upperdir=c2/diff,workdir=c2/work
92 22 0:52 / /with\040space rw - overlay overlay rw,lowerdir=/a\040b,upperdir=/u,workdir=/w
93 22 0:53 / /nosupper rw - overlay overlay rw,lowerdir=/a:/b
`
	d, err := parseOverlayMount(strings.NewReader(info), "/s/overlay/merged", "/s/overlay")
	if err != nil || !reflect.DeepEqual(d, &overlayDirs{lower: []string{"/s/overlay/l/A", "/s/overlay/l/B"}, upper: "/s/overlay/c1/diff", work: "/s/overlay/c1/work"}) {
		t.Errorf("absolute: %+v, %v", d, err)
	}
	d, err = parseOverlayMount(strings.NewReader(info), "/s/overlay/c2/merged", "/s/overlay")
	if err != nil || !reflect.DeepEqual(d, &overlayDirs{lower: []string{"/s/overlay/l/A", "/s/overlay/l/B"}, upper: "/s/overlay/c2/diff", work: "/s/overlay/c2/work"}) {
		t.Errorf("relative: %+v, %v", d, err)
	}
	d, err = parseOverlayMount(strings.NewReader(info), "/with space", "/s")
	if err != nil || d.lower[0] != "/a b" {
		t.Errorf("escaped: %+v, %v", d, err)
	}
	for _, dir := range []string{"/nosupper", "/", "/missing"} {
		if _, err := parseOverlayMount(strings.NewReader(info), dir, "/s"); err == nil {
			t.Errorf("%s: accepted", dir)
		}
	}
}
