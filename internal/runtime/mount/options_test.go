package mount

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"rbind", "ro", "nosuid", "nodev", "noexec", "rprivate", "size=1m", "mode=755", "relatime"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.bind || !o.rec {
		t.Error("rbind not recognised")
	}
	if want := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME); o.flags != want {
		t.Errorf("flags = %s, want %s", flagNames(o.flags), flagNames(want))
	}
	if len(o.propagation) != 1 || o.propagation[0] != unix.MS_PRIVATE|unix.MS_REC {
		t.Errorf("propagation = %v", o.propagation)
	}
	if o.dataString() != "size=1m,mode=755" {
		t.Errorf("data = %q", o.dataString())
	}
	// The last of ro/rw wins, and rw is remembered as an explicit clear.
	o, _ = parseOptions([]string{"ro", "rw", "rro"})
	if o.flags&unix.MS_RDONLY != 0 || o.cleared&unix.MS_RDONLY == 0 || o.recursive != unix.MOUNT_ATTR_RDONLY {
		t.Errorf("ro,rw,rro: %+v", o)
	}
	if _, err := parseOptions([]string{"idmap"}); err == nil {
		t.Error("idmap accepted")
	}
}

func TestStatfsToMount(t *testing.T) {
	got := statfsToMount(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME)
	if want := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME); got != want {
		t.Errorf("got %s, want %s", flagNames(got), flagNames(want))
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Op: "mounting", FSType: "tmpfs", Target: "/run", Flags: unix.MS_NOSUID, Data: "size=x", Err: unix.EINVAL}
	if got := e.Error(); got != "mounting tmpfs at /run: invalid argument (flags nosuid; data size=x)" {
		t.Errorf("got %q", got)
	}
	if !errors.Is(e, unix.EINVAL) {
		t.Error("does not unwrap to the errno")
	}
	e = &Error{Op: "bind mounting", Source: "/src", Target: "/data", Err: unix.ENOENT}
	if got := e.Error(); got != "bind mounting /src on /data: no such file or directory" {
		t.Errorf("got %q", got)
	}
}

func TestFixDevptsGID(t *testing.T) {
	full := GIDMapFunc([]byte("         0     200000      65536\n"), nil)
	got := fixDevptsGID([]string{"newinstance", "gid=5", "mode=0620"}, full)
	if len(got) != 3 {
		t.Errorf("gid=5 dropped with a full mapping: %v", got)
	}
	// A single-ID mapping has no tty group.
	single := GIDMapFunc([]byte("0 1001 1\n"), nil)
	got = fixDevptsGID([]string{"newinstance", "gid=5", "mode=0620"}, single)
	if len(got) != 2 || got[1] != "mode=0620" {
		t.Errorf("gid=5 kept with a single-ID mapping: %v", got)
	}
}
