package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseVolume(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want Mount
	}{
		{"/data", Mount{Type: MountVolume, Destination: "/data"}},
		{"/data/", Mount{Type: MountVolume, Destination: "/data"}},
		{"//data//x/./", Mount{Type: MountVolume, Destination: "/data/x"}},
		{"/srv:/data", Mount{Type: MountBind, Source: "/srv", Destination: "/data", CreateSource: true}},
		{"/srv/../etc/:/data", Mount{Type: MountBind, Source: "/etc", Destination: "/data", CreateSource: true}},
		{"/:/host:ro", Mount{Type: MountBind, Source: "/", Destination: "/host", ReadOnly: true, CreateSource: true}},
		{"/srv:/data:rw", Mount{Type: MountBind, Source: "/srv", Destination: "/data", CreateSource: true}},
		{"/srv:/data:ro,Z", Mount{Type: MountBind, Source: "/srv", Destination: "/data", ReadOnly: true, Relabel: "Z", CreateSource: true}},
		{"/srv:/data:z,U,rshared", Mount{Type: MountBind, Source: "/srv", Destination: "/data", Relabel: "z", Chown: true, Propagation: "rshared", CreateSource: true}},
		{"/srv:/data:O", Mount{Type: MountBind, Source: "/srv", Destination: "/data", Overlay: true, CreateSource: true}},
		{"/srv:/data:slave,cached", Mount{Type: MountBind, Source: "/srv", Destination: "/data", Propagation: "slave", CreateSource: true}},
		{"./src:/src", Mount{Type: MountBind, Source: filepath.Join(wd, "src"), Destination: "/src", CreateSource: true}},
		{".:/src", Mount{Type: MountBind, Source: wd, Destination: "/src", CreateSource: true}},
		{"../x:/src", Mount{Type: MountBind, Source: filepath.Join(filepath.Dir(wd), "x"), Destination: "/src", CreateSource: true}},
		{"data:/var/lib/data", Mount{Type: MountVolume, Source: "data", Destination: "/var/lib/data"}},
		{"dd:/x", Mount{Type: MountVolume, Source: "dd", Destination: "/x"}},
		{"my_vol-1.2:/x:ro,nocopy", Mount{Type: MountVolume, Source: "my_vol-1.2", Destination: "/x", ReadOnly: true, NoCopy: true}},
		{"vol:/x:U,z", Mount{Type: MountVolume, Source: "vol", Destination: "/x", Chown: true, Relabel: "z"}},
	}
	for _, tt := range tests {
		got, err := ParseVolume(tt.in)
		if err != nil {
			t.Errorf("ParseVolume(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseVolume(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("ParseVolume(%q) result does not validate: %v", tt.in, err)
		}
	}
}

func TestParseVolumeErrors(t *testing.T) {
	tests := []struct{ in, hint string }{
		{"", "empty"},
		{"data", "not an absolute path"},
		{"/", `can't be "/"`},
		{"/srv:/", `can't be "/"`},
		{"/srv:/a/../..", `".." component`},
		{"/srv:/a/..", `".." component`},
		{"/srv:data", "not an absolute path"},
		{"/srv:ro", "not an absolute path"},
		{":/data", "empty host path"},
		{"/srv:", "empty container path"},
		{"/srv::ro", "empty container path"},
		{"/srv:/data:", "empty options"},
		{"/srv:/data:ro:z", "too many"},
		{"/srv:/data:ro,,z", "empty option"},
		{"/srv:/data:ro,rw", `conflicting options "ro" and "rw"`},
		{"/srv:/data:ro,ro", `duplicate option "ro"`},
		{"/srv:/data:z,Z", "conflicting"},
		{"/srv:/data:shared,slave", "conflicting"},
		{"/srv:/data:U,U", "duplicate"},
		{"/srv:/data:nocopy", "volumes only"},
		{"vol:/data:shared", "bind mounts only"},
		{"/srv:/data:bogus", `unknown option "bogus"`},
		{"/srv:/data:RO", "unknown option"},
		{"foo/bar:/data", "invalid characters"},
		{"~/x:/data", "invalid characters"},
		{"_vol:/data", "invalid characters"},
		{"/srv\x00:/data", "NUL"},
	}
	for _, tt := range tests {
		_, err := ParseVolume(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
}

func TestParseMount(t *testing.T) {
	wd, _ := os.Getwd()
	tests := []struct {
		in   string
		want Mount
	}{
		{"type=bind,source=/srv,target=/data", Mount{Type: MountBind, Source: "/srv", Destination: "/data"}},
		{"type=bind,src=/srv/,dst=/data/,readonly", Mount{Type: MountBind, Source: "/srv", Destination: "/data", ReadOnly: true}},
		{"TYPE=bind,Src=/srv,destination=/data,ro=true", Mount{Type: MountBind, Source: "/srv", Destination: "/data", ReadOnly: true}},
		{"type=bind,src=/srv,dst=/data,ro=0", Mount{Type: MountBind, Source: "/srv", Destination: "/data"}},
		{"type=bind,src=/srv,dst=/data,readonly=false,bind-propagation=rslave", Mount{Type: MountBind, Source: "/srv", Destination: "/data", Propagation: "rslave"}},
		{"type=bind,src=./x,dst=/data", Mount{Type: MountBind, Source: filepath.Join(wd, "x"), Destination: "/data"}},
		{`type=bind,"src=/a,b",dst=/data`, Mount{Type: MountBind, Source: "/a,b", Destination: "/data"}},
		{"type=bind,src=/a:b,dst=/data,consistency=cached", Mount{Type: MountBind, Source: "/a:b", Destination: "/data"}},
		{"type=volume,src=vol,dst=/data", Mount{Type: MountVolume, Source: "vol", Destination: "/data"}},
		{"src=vol,dst=/data,volume-nocopy", Mount{Type: MountVolume, Source: "vol", Destination: "/data", NoCopy: true}},
		{"dst=/data,volume-nocopy=true,volume-driver=local", Mount{Type: MountVolume, Destination: "/data", NoCopy: true}},
		{"type=volume,target=/data", Mount{Type: MountVolume, Destination: "/data"}},
		{"type=volume,src=tv,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=10m",
			Mount{Type: MountVolume, Source: "tv", Destination: "/t", VolumeOptions: []string{"type=tmpfs", "device=tmpfs", "o=size=10m"}}},
		{`dst=/t,"volume-opt=o=size=1m,mode=700",volume-opt=type=tmpfs`,
			Mount{Type: MountVolume, Destination: "/t", VolumeOptions: []string{"o=size=1m,mode=700", "type=tmpfs"}}},
		{"type=tmpfs,dst=/run", Mount{Type: MountTmpfs, Destination: "/run"}},
		{"type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770", Mount{Type: MountTmpfs, Destination: "/run", TmpfsSize: 64 << 20, TmpfsMode: 0o1770}},
		{"type=tmpfs,dst=/run,tmpfs-size=1024,readonly", Mount{Type: MountTmpfs, Destination: "/run", TmpfsSize: 1024, ReadOnly: true}},
		{"type=tmpfs,dst=/run,tmpfs-size=1.5GiB", Mount{Type: MountTmpfs, Destination: "/run", TmpfsSize: 3 << 29}},
	}
	for _, tt := range tests {
		got, err := ParseMount(tt.in)
		if err != nil {
			t.Errorf("ParseMount(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMount(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("ParseMount(%q) result does not validate: %v", tt.in, err)
		}
	}
}

func TestParseMountErrors(t *testing.T) {
	tests := []struct{ in, hint string }{
		{"", "empty"},
		{"type=bind,src=/srv", "target is required"},
		{"type=bind,dst=/data", "source is required"},
		{"type=bind,src=vol,dst=/data", "not an absolute path"},
		{"type=bind,src=/srv,dst=data", "not an absolute path"},
		{"type=bind,src=/srv,dst=/", `can't be "/"`},
		{"type=bind,src=/srv,dst=/x/../y", `".."`},
		{"type=nfs,dst=/data", `unsupported type "nfs"`},
		{"type=,dst=/data", `"type" needs a value`},
		{"type=bind,src=/srv,dst=/data,foo=bar", `unknown key "foo"`},
		{"type=bind,src=/srv,dst=/data,,", "empty field"},
		{"type=bind,src=/srv,dst=/data,ro=yes", "expected true, false, 1 or 0"},
		{"type=bind,src=/srv,source=/x,dst=/data", "given twice"},
		{"type=bind,src=/srv,dst=/data,target=/x", "given twice"},
		{"type=volume,src=vol,dst=/data,bind-propagation=shared", `"bind-propagation" does not apply to type volume`},
		{"type=bind,src=/srv,dst=/data,volume-nocopy", `"volume-nocopy" does not apply to type bind`},
		{"type=bind,src=/srv,dst=/data,tmpfs-size=1m", "does not apply to type bind"},
		{"type=tmpfs,dst=/data,volume-nocopy", "does not apply to type tmpfs"},
		{"dst=/data,tmpfs-mode=700", "does not apply to type volume"},
		{"type=tmpfs,src=/x,dst=/data", "source is not supported"},
		{"type=tmpfs,dst=/data,tmpfs-size=lots", "tmpfs-size"},
		{"type=tmpfs,dst=/data,tmpfs-size=-1", "tmpfs-size"},
		{"type=tmpfs,dst=/data,tmpfs-size=1e3", "tmpfs-size"},
		{"type=tmpfs,dst=/data,tmpfs-size=99999999999999999999p", "too large"},
		{"type=tmpfs,dst=/data,tmpfs-mode=999", "octal"},
		{"type=tmpfs,dst=/data,tmpfs-mode=17777", "larger than 7777"},
		{"type=bind,src=/srv,dst=/data,bind-propagation=weird", "bind-propagation"},
		{"type=volume,src=bad/name,dst=/data", "invalid characters"},
		{"type=volume,src=vol,dst=/data,volume-driver=nfs", "not supported"},
		{"type=bind,src=/srv,dst=/data,volume-opt=type=tmpfs", `"volume-opt" does not apply to type bind`},
		{"type=volume,dst=/data,volume-opt=type", "expected KEY=VALUE"},
		{"type=volume,dst=/data,volume-opt==x", "expected KEY=VALUE"},
		{"type=volume,dst=/data,volume-opt=", `"volume-opt" needs a value`},
		{`type=bind,src="/srv,dst=/data`, "CSV"},
		{"type=bind,src=/srv,dst=/data\nro", "newline"},
	}
	for _, tt := range tests {
		_, err := ParseMount(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want Mount
	}{
		{"/run", Mount{Type: MountTmpfs, Destination: "/run"}},
		{"/run/", Mount{Type: MountTmpfs, Destination: "/run"}},
		{"/run:rw,size=64m", Mount{Type: MountTmpfs, Destination: "/run", TmpfsSize: 64 << 20}},
		{"/run:ro,mode=1777", Mount{Type: MountTmpfs, Destination: "/run", ReadOnly: true, TmpfsMode: 0o1777}},
		{"/run:exec,nosuid,size=65536k,nr_inodes=10k,uid=1000,gid=0", Mount{Type: MountTmpfs, Destination: "/run", TmpfsSize: 65536 << 10,
			TmpfsOptions: []string{"exec", "nosuid", "nr_inodes=10k", "uid=1000", "gid=0"}}},
		{"/run:size=50%,huge=within_size,noatime", Mount{Type: MountTmpfs, Destination: "/run", TmpfsOptions: []string{"size=50%", "huge=within_size", "noatime"}}},
	}
	for _, tt := range tests {
		got, err := ParseTmpfs(tt.in)
		if err != nil {
			t.Errorf("ParseTmpfs(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseTmpfs(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("ParseTmpfs(%q) result does not validate: %v", tt.in, err)
		}
	}
}

func TestParseTmpfsErrors(t *testing.T) {
	tests := []struct{ in, hint string }{
		{"", "empty destination"},
		{"run", "not an absolute path"},
		{"/", `can't be "/"`},
		{"/run/../x", `".."`},
		{"/run:", "empty options"},
		{"/run:exec,noexec", `conflicting options "exec" and "noexec"`},
		{"/run:ro,rw", "conflicting"},
		{"/run:size=1m,size=2m", `duplicate option "size"`},
		{"/run:nosuid,nosuid", "duplicate"},
		{"/run:size=big", "size"},
		{"/run:size=0%", "percentage"},
		{"/run:size=101%", "percentage"},
		{"/run:mode=8", "octal"},
		{"/run:mode=", "empty mode"},
		{"/run:nr_inodes=x", "nr_inodes"},
		{"/run:uid=-1", "uid"},
		{"/run:huge=sometimes", "huge"},
		{"/run:bind", `unknown option "bind"`},
		{"/run:foo=bar", `unknown option "foo=bar"`},
		{"/run:,", "empty option"},
	}
	for _, tt := range tests {
		_, err := ParseTmpfs(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
}

func TestValidVolumeName(t *testing.T) {
	for _, n := range []string{"ab", "A1", "00", "a.b-c_d", "vol..x"} {
		if !ValidVolumeName(n) {
			t.Errorf("ValidVolumeName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "a", "0", ".a", "-a", "_a", "a/b", "a b", "a:b", "é"} {
		if ValidVolumeName(n) {
			t.Errorf("ValidVolumeName(%q) = true", n)
		}
	}
}
