package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
nohome:x:1001:1001::
`

const testGroup = `root:x:0:root
bin:x:1:root,daemon
wheel:x:10:root,app
app:x:1000:
staff:x:50:app
audio:x:29:
`

// writeRootfs creates a rootfs with the given files (relative paths).
func writeRootfs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// bothResolvers runs f with openat2 and with the manual fallback.
func bothResolvers(t *testing.T, f func(t *testing.T)) {
	for _, use := range []bool{true, false} {
		name := "openat2"
		if !use {
			name = "manual"
		}
		t.Run(name, func(t *testing.T) {
			old := useOpenat2
			useOpenat2 = use
			defer func() { useOpenat2 = old }()
			f(t)
		})
	}
}

func TestResolveUser(t *testing.T) {
	root := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	tests := []struct {
		user     string
		groupAdd []string
		uid, gid uint32
		groups   []uint32
		home     string
	}{
		{"", nil, 0, 0, []uint32{0, 1, 10}, "/root"},
		{"root", nil, 0, 0, []uint32{0, 1, 10}, "/root"},
		{"0", nil, 0, 0, []uint32{0, 1, 10}, "/root"},
		{"app", nil, 1000, 1000, []uint32{1000, 10, 50}, "/home/app"},
		{"1000", nil, 1000, 1000, []uint32{1000, 10, 50}, "/home/app"},
		{"app:audio", nil, 1000, 29, []uint32{29}, "/home/app"},
		{"app:4242", nil, 1000, 4242, []uint32{4242}, "/home/app"},
		{"4242", nil, 4242, 0, []uint32{0}, "/"},
		{"4242:4343", nil, 4242, 4343, []uint32{4343}, "/"},
		{"daemon", []string{"audio", "777", "bin"}, 1, 1, []uint32{1, 29, 777}, "/usr/sbin"},
		{"nohome", nil, 1001, 1001, []uint32{1001}, "/"},
		{"", []string{"staff", "50"}, 0, 0, []uint32{0, 1, 10, 50}, "/root"},
	}
	bothResolvers(t, func(t *testing.T) {
		for _, tt := range tests {
			uid, gid, groups, home, err := ResolveUser(root, tt.user, tt.groupAdd)
			if err != nil {
				t.Errorf("ResolveUser(%q, %q): %v", tt.user, tt.groupAdd, err)
				continue
			}
			if uid != tt.uid || gid != tt.gid || !reflect.DeepEqual(groups, tt.groups) || home != tt.home {
				t.Errorf("ResolveUser(%q, %q) = %d, %d, %v, %q; want %d, %d, %v, %q",
					tt.user, tt.groupAdd, uid, gid, groups, home, tt.uid, tt.gid, tt.groups, tt.home)
			}
		}
	})
}

func TestResolveUserErrors(t *testing.T) {
	root := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	_, _, _, _, err := ResolveUser(root, "nobody", nil)
	wantInvalid(t, err, "nobody", "unable to find user nobody: no matching entries in passwd file")
	_, _, _, _, err = ResolveUser(root, "app:nogroup", nil)
	wantInvalid(t, err, "app:nogroup", "unable to find group nogroup")
	_, _, _, _, err = ResolveUser(root, "app", []string{"nogroup"})
	wantInvalid(t, err, "nogroup", "unable to find group nogroup")
	_, _, _, _, err = ResolveUser(root, "a:b:c", nil)
	wantInvalid(t, err, "a:b:c")
	_, _, _, _, err = ResolveUser(root, "", []string{""})
	wantInvalid(t, err, "")
}

func TestResolveUserNoFiles(t *testing.T) {
	for _, root := range []string{"", t.TempDir()} {
		uid, gid, groups, home, err := ResolveUser(root, "1000:1000", []string{"5"})
		if err != nil || uid != 1000 || gid != 1000 || !reflect.DeepEqual(groups, []uint32{1000, 5}) || home != "/" {
			t.Errorf("root %q: %d %d %v %q %v", root, uid, gid, groups, home, err)
		}
		_, _, _, _, err = ResolveUser(root, "root", nil)
		wantInvalid(t, err, "root", "unable to find user root")
		_, _, _, _, err = ResolveUser(root, "1000", []string{"staff"})
		wantInvalid(t, err, "staff", "unable to find group staff")
	}
}

// TestResolveUserSymlinkEscape plants symlinks in the image that point at a
// file outside the rootfs: the host file must never be read.
func TestResolveUserSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	hostPasswd := filepath.Join(outside, "passwd")
	if err := os.WriteFile(hostPasswd, []byte("hostonly:x:4242:4242::/host:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each case returns the target of etc/passwd for a given rootfs; ""
	// means the case sets the rootfs up itself.
	targets := map[string]func(root string) string{
		"absolute": func(string) string { return hostPasswd },
		"dotdot":   func(string) string { return "../../../../../../../../../../" + hostPasswd },
		"relative": func(root string) string {
			rel, err := filepath.Rel(filepath.Join(root, "etc"), hostPasswd)
			if err != nil {
				t.Fatal(err)
			}
			return rel // ../../<...>/passwd: right for the host, escapes the rootfs
		},
		"dotdot-in-path": func(string) string { return "/../../../../../../" + hostPasswd },
		"chained":        func(string) string { return "step" }, // etc/step -> host file
		"dir-link-abs":   func(string) string { return "" },     // etc -> outside dir
	}
	for name, target := range targets {
		bothResolvers(t, func(t *testing.T) {
			root := t.TempDir()
			if name == "dir-link-abs" {
				if err := os.Symlink(outside, filepath.Join(root, "etc")); err != nil {
					t.Fatal(err)
				}
			} else {
				os.MkdirAll(filepath.Join(root, "etc"), 0o755)
				if err := os.Symlink(target(root), filepath.Join(root, "etc", "passwd")); err != nil {
					t.Fatal(err)
				}
				if name == "chained" {
					os.Symlink(hostPasswd, filepath.Join(root, "etc", "step"))
				}
			}
			_, _, _, _, err := ResolveUser(root, "hostonly", nil)
			if err == nil {
				t.Fatalf("%s: the host's passwd file was read through the image's symlink", name)
			}
			wantInvalid(t, err, "hostonly", "unable to find user hostonly")
		})
	}
}

// TestResolveUserSymlinkInside follows symlinks that stay inside the rootfs,
// absolute ones resolved against the rootfs, as the container would.
func TestResolveUserSymlinkInside(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		root := writeRootfs(t, map[string]string{"usr/lib/passwd": "svc:x:77:78::/srv:/bin/sh\n", "usr/lib/group": "grp:x:99:svc\n"})
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		os.Symlink("/usr/lib/passwd", filepath.Join(root, "etc", "passwd"))
		os.Symlink("../usr/./lib/../lib/group", filepath.Join(root, "etc", "group"))
		uid, gid, groups, home, err := ResolveUser(root, "svc", nil)
		if err != nil || uid != 77 || gid != 78 || !reflect.DeepEqual(groups, []uint32{78, 99}) || home != "/srv" {
			t.Errorf("got %d %d %v %q %v", uid, gid, groups, home, err)
		}
	})
}

func TestResolveUserOddFiles(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		// A symlink loop is reported, not followed forever.
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		os.Symlink("/etc/passwd", filepath.Join(root, "etc", "passwd"))
		if _, _, _, _, err := ResolveUser(root, "0", nil); err == nil {
			t.Error("symlink loop: no error")
		}
		// A directory where the file should be is an error.
		root = t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc", "passwd"), 0o755)
		if _, _, _, _, err := ResolveUser(root, "0", nil); err == nil {
			t.Error("directory passwd: no error")
		}
		// /etc being a file means no passwd.
		root = writeRootfs(t, map[string]string{"etc": "not a dir"})
		if _, _, _, _, err := ResolveUser(root, "0", nil); err != nil {
			t.Errorf("/etc is a file: %v", err)
		}
	})
	// A FIFO must not block.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := mkfifo(filepath.Join(root, "etc", "passwd")); err != nil {
		t.Skip(err)
	}
	bothResolvers(t, func(t *testing.T) {
		_, _, _, _, err := ResolveUser(root, "0", nil)
		wantInvalidMsg(t, err, "/etc/passwd", "not a regular file")
	})
}
