package spec

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseUserns(t *testing.T) {
	for in, want := range map[string]Userns{
		"":                     {UID: -1, GID: -1},
		"host":                 {UID: -1, GID: -1},
		"keep-id":              {KeepID: true, UID: -1, GID: -1},
		"keep-id:uid=5":        {KeepID: true, UID: 5, GID: -1},
		"keep-id:uid=5,gid=7":  {KeepID: true, UID: 5, GID: 7},
		"keep-id:gid=0,uid=10": {KeepID: true, UID: 10, GID: 0},
	} {
		got, err := ParseUserns(in)
		if err != nil || got != want {
			t.Errorf("ParseUserns(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"auto", "keep-id:", "keep-id:uid=x", "keep-id:uid=1,uid=2", "keep-id:name=x", "host:x", "keep-id:uid=-1", "keep-id:uid=+1", "private"} {
		_, err := ParseUserns(bad)
		checkRejected(t, err, bad)
	}
}

func TestKeepIDMap(t *testing.T) {
	got, err := KeepIDMap(1001, 65537)
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1, Size: 1001}, {ContainerID: 1001, HostID: 0, Size: 1}, {ContainerID: 1002, HostID: 1002, Size: 64535}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("KeepIDMap = %v, %v", got, err)
	}
	if got, _ := KeepIDMap(0, 65537); len(got) != 2 || got[0].HostID != 0 || got[1].ContainerID != 1 || got[1].Size != 65536 {
		t.Errorf("KeepIDMap(0) = %v", got)
	}
	if _, err := KeepIDMap(1001, 1); err == nil || !strings.Contains(err.Error(), "subordinate") {
		t.Errorf("KeepIDMap without subordinate IDs: %v", err)
	}
	if _, err := KeepIDMap(70000, 65537); err == nil {
		t.Error("KeepIDMap beyond the range accepted")
	}
	if id, ok := MapID(want, 1001); !ok || id != 0 {
		t.Errorf("MapID(1001) = %d, %v", id, ok)
	}
	if id, ok := MapID(want, 0); !ok || id != 1 {
		t.Errorf("MapID(0) = %d, %v", id, ok)
	}
}

func TestAddPasswdEntry(t *testing.T) {
	in := []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh")
	out := AddPasswdEntry(in, "me:x:1001:1001:me:/home/me:/bin/sh", 1001)
	if string(out) != string(in)+"\nme:x:1001:1001:me:/home/me:/bin/sh\n" {
		t.Errorf("added: %q", out)
	}
	if out := AddPasswdEntry(in, "me:x:1000:1000::/:/bin/sh", 1000); string(out) != string(in) {
		t.Errorf("an existing ID was added again: %q", out)
	}
}

// FuzzParseUserns: accepted values round-trip to a consistent Userns;
// rejections are invalid arguments naming the input.
func FuzzParseUserns(f *testing.F) {
	for _, s := range []string{"", "host", "keep-id", "keep-id:uid=1000,gid=1000", "keep-id:", "auto", "keep-id:uid=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		u, err := ParseUserns(in)
		if err != nil {
			checkRejected(t, err, "--userns")
			return
		}
		if !u.KeepID && (u.UID != -1 || u.GID != -1) {
			t.Fatalf("%q: IDs without keep-id: %+v", in, u)
		}
		if u.UID < -1 || u.GID < -1 {
			t.Fatalf("%q: negative ID %+v", in, u)
		}
	})
}

// FuzzParseIDMap: an accepted mapping has a size and fits in 32 bits.
func FuzzParseIDMap(f *testing.F) {
	for _, s := range []string{"0:1:1000", "0:100000:65536", "1:2", "a:b:c", "0:0:0", "4294967295:0:1", "+1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseIDMap("uidmap", in)
		if err != nil {
			checkRejected(t, err, "--uidmap")
			return
		}
		if m.Size == 0 || uint64(m.ContainerID)+uint64(m.Size) > 1<<32-1 || uint64(m.HostID)+uint64(m.Size) > 1<<32-1 {
			t.Fatalf("%q: accepted %+v", in, m)
		}
	})
}
