package spec

import (
	"encoding/csv"
	"errors"
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
)

// Seeds live in testdata/fuzz/FuzzXxx; the f.Add calls below cover the
// basic shapes so that `go test` exercises each fuzzer even without them.

// checkRejected asserts the error contract of every parser: class
// ErrInvalidArgument and the input named in the message.
func checkRejected(t *testing.T, err error, named string) {
	t.Helper()
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("error %q is not ErrInvalidArgument", err)
	}
	if !strings.Contains(err.Error(), named) {
		t.Fatalf("error %q does not name %s", err, named)
	}
}

// checkDest asserts the destination invariants.
func checkDest(t *testing.T, d string) {
	t.Helper()
	if !path.IsAbs(d) || path.Clean(d) != d || d == "/" || strings.IndexByte(d, 0) >= 0 {
		t.Fatalf("bad destination %q", d)
	}
}

func checkMount(t *testing.T, m Mount) {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatalf("accepted mount %+v does not validate: %v", m, err)
	}
	checkDest(t, m.Destination)
	if m.Type == MountBind && (!path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source) {
		t.Fatalf("bind source %q is not absolute and clean", m.Source)
	}
	if m.Type == MountVolume && m.Source != "" && !ValidVolumeName(m.Source) {
		t.Fatalf("bad volume name %q", m.Source)
	}
}

// volumeString renders a -v value for m.
func volumeString(m Mount) string {
	if m.Type == MountVolume && m.Source == "" {
		return m.Destination
	}
	var opts []string
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	if m.Relabel != "" {
		opts = append(opts, m.Relabel)
	}
	if m.Chown {
		opts = append(opts, "U")
	}
	if m.Overlay {
		opts = append(opts, "O")
	}
	if m.Propagation != "" {
		opts = append(opts, m.Propagation)
	}
	if m.NoCopy {
		opts = append(opts, "nocopy")
	}
	s := m.Source + ":" + m.Destination
	if len(opts) > 0 {
		s += ":" + strings.Join(opts, ",")
	}
	return s
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/data", "/srv:/data:ro,Z", "vol:/x:nocopy", "./a:/b:rshared", "/a:/b:ro,rw", ":/x", "/x:/y/../z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s)
		if err != nil {
			checkRejected(t, err, strconv.Quote(s))
			return
		}
		checkMount(t, m)
		if m.Type == MountTmpfs || m.TmpfsSize != 0 || m.TmpfsMode != 0 || m.TmpfsOptions != nil {
			t.Fatalf("-v gave tmpfs fields: %+v", m)
		}
		if m.CreateSource != (m.Type == MountBind) {
			t.Fatalf("CreateSource %v for %s", m.CreateSource, m.Type)
		}
		again, err := ParseVolume(volumeString(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", s, volumeString(m), again, err, m)
		}
	})
}

// mountString renders a --mount value for m.
func mountString(m Mount) string {
	fields := []string{"type=" + string(m.Type)}
	if m.Source != "" {
		fields = append(fields, "source="+m.Source)
	}
	fields = append(fields, "target="+m.Destination)
	if m.ReadOnly {
		fields = append(fields, "readonly")
	}
	if m.Propagation != "" {
		fields = append(fields, "bind-propagation="+m.Propagation)
	}
	if m.NoCopy {
		fields = append(fields, "volume-nocopy=true")
	}
	for _, o := range m.VolumeOptions {
		fields = append(fields, "volume-opt="+o)
	}
	if m.TmpfsSize != 0 {
		fields = append(fields, "tmpfs-size="+strconv.FormatInt(m.TmpfsSize, 10))
	}
	if m.TmpfsMode != 0 {
		fields = append(fields, fmt.Sprintf("tmpfs-mode=%o", m.TmpfsMode))
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{
		"type=bind,src=/srv,dst=/data,readonly,bind-propagation=rslave",
		"type=volume,source=v,target=/x,volume-nocopy",
		"type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1777",
		`type=bind,"src=/a,b",dst=/c`,
		"dst=/x,ro=false",
		"type=volume,src=tv,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=10m",
		`type=volume,dst=/t,"volume-opt=o=size=1m,uid=1",volume-opt=type=tmpfs`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s)
		if err != nil {
			checkRejected(t, err, strconv.Quote(s))
			return
		}
		checkMount(t, m)
		if m.Relabel != "" || m.Chown || m.Overlay || m.CreateSource || m.TmpfsOptions != nil {
			t.Fatalf("--mount set -v/--tmpfs-only fields: %+v", m)
		}
		again, err := ParseMount(mountString(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", s, mountString(m), again, err, m)
		}
	})
}

// tmpfsString renders a --tmpfs value for m.
func tmpfsString(m Mount) string {
	var opts []string
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	if m.TmpfsSize != 0 {
		opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
	}
	if m.TmpfsMode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", m.TmpfsMode))
	}
	opts = append(opts, m.TmpfsOptions...)
	if len(opts) == 0 {
		return m.Destination
	}
	return m.Destination + ":" + strings.Join(opts, ",")
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/run", "/run:rw,noexec,nosuid,size=65536k", "/tmp:mode=1777,size=50%", "/x:exec,noexec", "/x:nr_inodes=1k,uid=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTmpfs(s)
		if err != nil {
			checkRejected(t, err, strconv.Quote(s))
			return
		}
		checkMount(t, m)
		if m.Type != MountTmpfs {
			t.Fatalf("type %s", m.Type)
		}
		for _, o := range m.TmpfsOptions {
			if o == "" || strings.ContainsAny(o, ",:\x00") {
				t.Fatalf("bad option %q", o)
			}
		}
		// The options reach the kernel as one comma-joined string: no
		// option may be able to smuggle another.
		again, err := ParseTmpfs(tmpfsString(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", s, tmpfsString(m), again, err, m)
		}
	})
}

func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n# c\n\n  B=two words \nHOSTVAR\nUNSET\n", "\ufeffX=\"q\"\r\n", "=x\n", "A B=1\n", "A=\xff\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lookup := fakeLookup(map[string]string{"HOSTVAR": "v", "A": "host a"})
		env, err := ParseEnvFile(strings.NewReader(string(data)), "fuzz.env", lookup)
		if err != nil {
			checkRejected(t, err, "env file fuzz.env")
			return
		}
		if n := strings.Count(string(data), "\n") + 1; len(env) > n {
			t.Fatalf("%d entries from %d lines", len(env), n)
		}
		for _, e := range env {
			k, v, ok := strings.Cut(e, "=")
			if !ok {
				t.Fatalf("entry %q has no '='", e)
			}
			if err := checkEnvKey(k); err != nil {
				t.Fatalf("entry %q: %v", e, err)
			}
			if strings.ContainsAny(v, "\n\x00") {
				t.Fatalf("entry %q: value has a newline or NUL", e)
			}
			// Every accepted entry is also a valid -e value, unchanged.
			if got, err := ParseEnv(e, lookup); err != nil || got != e {
				t.Fatalf("-e %q: %q, %v", e, got, err)
			}
		}
	})
}

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1024:4096", "core=-1", "nproc=unlimited", "memlock=1:-1", "nofile=2:1", "as=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUlimit(s)
		if err != nil {
			checkRejected(t, err, strconv.Quote(s))
			return
		}
		if !ulimitNames[u.Name] || u.Soft < -1 || u.Hard < -1 {
			t.Fatalf("bad ulimit %+v", u)
		}
		if u.Hard != -1 && (u.Soft == -1 || u.Soft > u.Hard) {
			t.Fatalf("soft above hard: %+v", u)
		}
		r := u.Rlimit()
		if u.Hard != -1 && r.Soft > r.Hard {
			t.Fatalf("rlimit soft above hard: %+v", r)
		}
		if again, err := ParseUlimit(u.String()); err != nil || again != u {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, u.String(), again, err)
		}
	})
}

func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{"/dev/fuse", "/dev/sda:/dev/xvda:r", "/dev/a:rw", "/dev/a:/b:rwx", "/dev/a:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDevice(s)
		if err != nil {
			checkRejected(t, err, strconv.Quote(s))
			return
		}
		checkDest(t, d.ContainerPath)
		if !path.IsAbs(d.HostPath) || path.Clean(d.HostPath) != d.HostPath {
			t.Fatalf("bad host path %q", d.HostPath)
		}
		if !validDeviceMode(d.Permissions) {
			t.Fatalf("bad permissions %q", d.Permissions)
		}
		if again, err := ParseDevice(d.String()); err != nil || again != d {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, d.String(), again, err)
		}
	})
}
