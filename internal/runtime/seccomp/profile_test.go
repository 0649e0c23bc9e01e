//go:build linux

package seccomp

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const sampleProfile = `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 38,
	"archMap": [
		{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
	],
	"flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
	"syscalls": [
		{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
		 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
		 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
		 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errno": "EROFS"},
		{"names": ["statmount"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.8"}},
		{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.0"}}
	]
}`

func TestLoadProfileJSON(t *testing.T) {
	defer pinKernel(6, 1)()
	p, err := LoadProfileJSON([]byte(sampleProfile))
	if err != nil {
		t.Fatal(err)
	}
	// statmount needs 6.8 (we pinned 6.1); getpid is excluded from 4.0 on.
	if len(p.Syscalls) != 4 {
		t.Fatalf("%d syscall entries after minKernel, want 4", len(p.Syscalls))
	}
	f, _, run := compileVM(t, p, nil, "amd64")
	if f.Flags != unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW {
		t.Errorf("Flags %#x", f.Flags)
	}
	a := "amd64"
	for _, c := range []struct {
		d    sdata
		want uint32
	}{
		{call(nr(t, a, "read")), allow},
		{call(nr(t, a, "personality"), 8), allow},
		{call(nr(t, a, "personality"), 9), errno(unix.ENOSYS)},
		{call(nr(t, a, "clone"), unix.CLONE_NEWUSER), errno(unix.ENOSYS)},
		{call(nr(t, a, "clone"), unix.CLONE_VM), allow},
		{call(nr(t, a, "mkdir")), errno(unix.EROFS)},
		{call(nr(t, a, "statmount")), errno(unix.ENOSYS)},
		{call(nr(t, a, "getpid")), errno(unix.ENOSYS)},
	} {
		if got := run(c.d); got != c.want {
			t.Errorf("%+v: got %#x, want %#x", c.d, got, c.want)
		}
	}

	defer pinKernel(6, 8)()
	p, err = LoadProfileJSON([]byte(sampleProfile))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Syscalls) != 5 {
		t.Fatalf("%d syscall entries on 6.8, want 5", len(p.Syscalls))
	}
}

func pinKernel(major, minor int) func() {
	old := kernelVersion
	kernelVersion = func() (int, int, error) { return major, minor, nil }
	return func() { kernelVersion = old }
}

// The default profile survives a JSON round trip and compiles identically.
func TestDefaultProfileJSONRoundTrip(t *testing.T) {
	data, err := json.Marshal(DefaultProfile())
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfileJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Compile(p, defaultCaps, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(DefaultProfile(), defaultCaps, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Program) != len(b.Program) {
		t.Fatalf("round trip changed the program: %d vs %d instructions", len(a.Program), len(b.Program))
	}
	for i := range a.Program {
		if a.Program[i] != b.Program[i] {
			t.Fatalf("instruction %d differs", i)
		}
	}
}

func TestLoadProfileJSONErrors(t *testing.T) {
	for _, c := range []struct {
		json, want string
	}{
		{`{"defaultAction": "SCMP_ACT_ERRNO",`, "unexpected end of JSON input"},
		{"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\"\n  \"syscalls\": []}", "line 3, column 3"},
		{`{"defaultAction": 1}`, `line 1, column 19: field "defaultAction"`},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}`,
			`syscalls[0] ("read"): unknown action "SCMP_ACT_ALOW"`},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}`,
			`syscalls[0] ("read"): args[0]: unknown operator "SCMP_CMP_EQUAL"`},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errno": "ENOPE"}]}`,
			`unknown errno "ENOPE"`},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`,
			"index 7 out of range"},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
			`both "name" and "names"`},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}`, "syscalls[0]: no syscall name"},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}`,
			"syscalls[0]: includes.minKernel: bad kernel version"},
		{`{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`, "defaultAction: missing action"},
		{`{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}`, "SCMP_ACT_NOTIFY is not supported"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOGG"]}`, `unknown flag "SECCOMP_FILTER_FLAG_LOGG"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AMD64"]}`, `unknown architecture "SCMP_ARCH_AMD64"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [null]}`, "syscalls[0]: null entry"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [null]}]}`, "args[0]: null argument"},
	} {
		_, err := LoadProfileJSON([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n  err = %v\n  want it to contain %q", c.json, err, c.want)
		}
	}
}

func TestLoadProfileJSONEmpty(t *testing.T) {
	for _, s := range []string{`{}`, `null`, `{"syscalls": []}`} {
		p, err := LoadProfileJSON([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if f, err := Compile(p, nil, ""); f != nil || err != nil {
			t.Fatalf("%s: Compile = %v, %v; want no filter", s, f, err)
		}
	}
}

func TestParseKernelVersion(t *testing.T) {
	for _, c := range []struct {
		in         string
		maj, minor int
		ok         bool
	}{
		{"6.18.44-fc-v595", 6, 18, true},
		{"4.8", 4, 8, true},
		{"5.10.0-rc1", 5, 10, true},
		{"6", 0, 0, false},
		{"x.y", 0, 0, false},
		{"", 0, 0, false},
	} {
		maj, minor, err := parseKernelVersion(c.in)
		if (err == nil) != c.ok || maj != c.maj || minor != c.minor {
			t.Errorf("%q: %d %d %v", c.in, maj, minor, err)
		}
	}
}
