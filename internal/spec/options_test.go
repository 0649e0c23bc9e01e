package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

func TestParseSysctl(t *testing.T) {
	ok := map[string][2]string{
		"net.ipv4.ip_forward=1":                   {"net.ipv4.ip_forward", "1"},
		"net.ipv4.conf.eth0@1.forwarding=1":       {"net.ipv4.conf.eth0@1.forwarding", "1"},
		"net.ipv4.ip_local_port_range=1024 65000": {"net.ipv4.ip_local_port_range", "1024 65000"},
		"kernel.shmmax=1000":                      {"kernel.shmmax", "1000"},
		"kernel.shm_rmid_forced=1":                {"kernel.shm_rmid_forced", "1"},
		"kernel.sem=250 32000 32 128":             {"kernel.sem", "250 32000 32 128"},
		"kernel.msgmax=8192":                      {"kernel.msgmax", "8192"},
		"fs.mqueue.msg_max=100":                   {"fs.mqueue.msg_max", "100"},
		"kernel.domainname=example.com":           {"kernel.domainname", "example.com"},
		"net.core.somaxconn=":                     {"net.core.somaxconn", ""},
	}
	for in, want := range ok {
		k, v, err := ParseSysctl(in)
		if err != nil || k != want[0] || v != want[1] {
			t.Errorf("ParseSysctl(%q) = %q, %q, %v", in, k, v, err)
		}
	}
	errs := []struct{ in, hint string }{
		{"net.ipv4.ip_forward", "KEY=VALUE"},
		{"=1", "empty key"},
		{"kernel.hostname=x", "--hostname"},
		{"kernel.panic=1", "not a namespaced sysctl"},
		{"vm.swappiness=0", "not a namespaced sysctl"},
		{"fs.file-max=1", "not a namespaced sysctl"},
		{"kernel.msgmaxx=1", "not a namespaced sysctl"},
		{"net..x=1", "empty component"},
		{"net.x/../y=1", "contains"},
		{"net.x=1\n2", "newline"},
	}
	for _, tt := range errs {
		_, _, err := ParseSysctl(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
}

func TestCapabilities(t *testing.T) {
	def := DefaultCapabilities()
	all := AllCapabilities()
	without := func(list []string, drop ...string) []string {
		var out []string
	next:
		for _, c := range list {
			for _, d := range drop {
				if c == d {
					continue next
				}
			}
			out = append(out, c)
		}
		return out
	}
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		want       []string
	}{
		{"default", nil, nil, false, def},
		{"add", []string{"net_admin", "CAP_SYS_PTRACE", "Sys_Admin"}, nil, false, append(append([]string(nil), def...), "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN")},
		{"add existing", []string{"chown"}, nil, false, def},
		{"drop", nil, []string{"chown", "cap_kill"}, false, without(def, "CAP_CHOWN", "CAP_KILL")},
		{"drop all add one", []string{"NET_BIND_SERVICE"}, []string{"ALL"}, false, []string{"CAP_NET_BIND_SERVICE"}},
		{"drop all", nil, []string{"all"}, false, nil},
		{"add all drop one", []string{"ALL"}, []string{"SYS_ADMIN"}, false, without(all, "CAP_SYS_ADMIN")},
		{"add all drop all", []string{"ALL"}, []string{"ALL"}, false, all},
		{"drop then add same", []string{"KILL"}, []string{"KILL"}, false, append(without(def, "CAP_KILL"), "CAP_KILL")},
		{"privileged", nil, []string{"ALL"}, true, all},
	}
	for _, tt := range tests {
		got, err := Capabilities(tt.add, tt.drop, tt.privileged)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v\nwant %v", tt.name, got, tt.want)
		}
	}
	_, err := Capabilities([]string{"CAP_NOPE"}, nil, false)
	wantInvalid(t, err, "CAP_NOPE", "unknown capability")
	_, err = Capabilities(nil, []string{"bogus"}, false)
	wantInvalid(t, err, "bogus", "unknown capability")
	if len(all) < 38 || all[0] != "CAP_CHOWN" {
		t.Errorf("AllCapabilities() = %v", all)
	}
}

func TestParseSecurityOpts(t *testing.T) {
	tests := []struct {
		in   []string
		want SecurityOptions
	}{
		{nil, SecurityOptions{}},
		{[]string{"no-new-privileges"}, SecurityOptions{NoNewPrivileges: true}},
		{[]string{"no-new-privileges:true"}, SecurityOptions{NoNewPrivileges: true}},
		{[]string{"no-new-privileges=1", "no-new-privileges=false"}, SecurityOptions{}},
		{[]string{"seccomp=unconfined"}, SecurityOptions{Seccomp: Seccomp{Mode: SeccompUnconfined}}},
		{[]string{"seccomp=builtin"}, SecurityOptions{Seccomp: Seccomp{Mode: SeccompDefault}}},
		{[]string{"seccomp:unconfined", "label:disable"}, SecurityOptions{Seccomp: Seccomp{Mode: SeccompUnconfined}, LabelDisable: true}},
		{[]string{"no-new-privileges:false"}, SecurityOptions{}},
		{[]string{"seccomp=/etc/profile.json"}, SecurityOptions{Seccomp: Seccomp{Mode: SeccompCustom, Profile: "/etc/profile.json"}}},
		{[]string{"label=disable"}, SecurityOptions{LabelDisable: true}},
		{[]string{"label=type:container_t", "label=level:s0:c1,c2"}, SecurityOptions{Labels: []string{"type:container_t", "level:s0:c1,c2"}}},
		{[]string{"apparmor=unconfined"}, SecurityOptions{AppArmor: "unconfined"}},
		{[]string{"systempaths=unconfined"}, SecurityOptions{UnmaskSystemPaths: true}},
	}
	for _, tt := range tests {
		got, err := ParseSecurityOpts(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSecurityOpts(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	errs := []struct{ in, hint string }{
		{"seccomp", "needs a value"},
		{"seccomp=", "needs a value"},
		{"no-new-privileges=maybe", "expected true"},
		{"label=bogus", "unknown label option"},
		{"label=type:", "needs a value"},
		{"systempaths=confined", "only \"unconfined\""},
		{"privileged", "unknown option"},
		{"mask=/proc/x", "unknown option"},
		{"seccomp:", "needs a value"},
		{"bogus:x", "unknown option"},
	}
	for _, tt := range errs {
		_, err := ParseSecurityOpts([]string{"no-new-privileges", tt.in})
		wantInvalid(t, err, tt.in, tt.hint)
	}
	wd, _ := os.Getwd()
	so, err := ParseSecurityOpts([]string{"seccomp=profiles/p.json"})
	if err != nil || so.Seccomp != (Seccomp{Mode: SeccompCustom, Profile: filepath.Join(wd, "profiles/p.json")}) {
		t.Errorf("relative profile: %+v, %v", so.Seccomp, err)
	}
}

func TestParseSignal(t *testing.T) {
	tests := map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "SIGTERM": syscall.SIGTERM, "sigkill": syscall.SIGKILL,
		"Usr1": syscall.SIGUSR1, "9": syscall.SIGKILL, "15": syscall.SIGTERM, "64": 64,
		"SIGRTMIN": 34, "RTMIN+3": 37, "rtmax": 64, "SIGRTMAX-2": 62, "CLD": syscall.SIGCHLD,
		"IOT": syscall.SIGABRT, "SIGWINCH": syscall.SIGWINCH,
	}
	for in, want := range tests {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "SIGFOO", "SIG", "RTMIN+31", "RTMAX+1", "RTMIN-1", "RTMIN+", "RTMIN++1", "9x", "1e1"} {
		_, err := ParseSignal(in)
		wantInvalid(t, err, in)
	}
	if s, err := StopSignal("", ""); err != nil || s != syscall.SIGTERM {
		t.Errorf("StopSignal default = %v, %v", s, err)
	}
	if s, err := StopSignal("", "SIGQUIT"); err != nil || s != syscall.SIGQUIT {
		t.Errorf("StopSignal image = %v, %v", s, err)
	}
	if s, err := StopSignal("INT", "SIGQUIT"); err != nil || s != syscall.SIGINT {
		t.Errorf("StopSignal flag = %v, %v", s, err)
	}
}

func TestParseShmSize(t *testing.T) {
	tests := map[string]int64{
		"64m": 64 << 20, "64M": 64 << 20, "1g": 1 << 30, "1GiB": 1 << 30, "512mb": 512 << 20,
		"1024": 1024, "1024b": 1024, "1.5k": 1536, "0": 0, "64 m": 64 << 20,
	}
	for in, want := range tests {
		got, err := ParseShmSize(in)
		if err != nil || got != want {
			t.Errorf("ParseShmSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "-1", "64x", "64mm", "1e3", "0x10", ".5m", "5.m", "1.2.3", "9999999999p", "64mib b"} {
		_, err := ParseShmSize(in)
		wantInvalid(t, err, in)
	}
}

func TestLabels(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "labels")
	os.WriteFile(f, []byte("# c\na=file\nbare\nb=file b\n"), 0o644)
	got, err := Labels([]string{f}, []string{"b=flag", "c", "d=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "file", "b": "flag", "c": "", "d": "x=y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, in := range []string{"=x", "a b=c", ""} {
		_, _, err := ParseLabel(in)
		wantInvalid(t, err, in)
	}
	os.WriteFile(f, []byte("ok=1\nbad key=2\n"), 0o644)
	_, err = Labels([]string{f}, nil)
	wantInvalidMsg(t, err, f, "line 2")
}

func TestValidateHostname(t *testing.T) {
	for _, h := range []string{"a", "web-1", "abc123def456", "my.host.example", "A-B", "1"} {
		if err := ValidateHostname(h); err != nil {
			t.Errorf("ValidateHostname(%q): %v", h, err)
		}
	}
	long := "a123456789012345678901234567890123456789012345678901234567890123" // 64
	if err := ValidateHostname(long); err == nil {
		t.Errorf("64-char label accepted")
	}
	for _, h := range []string{"", "-a", "a-", "a..b", "a.", ".a", "a_b", "a b", "é", long + "x", "a.-b"} {
		wantInvalid(t, ValidateHostname(h), h)
	}
}

func TestValidateName(t *testing.T) {
	for in, want := range map[string]string{"web": "web", "/web": "web", "a1": "a1", "my_app.v2-1": "my_app.v2-1", "0x": "0x"} {
		got, err := ValidateName(in)
		if err != nil || got != want {
			t.Errorf("ValidateName(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "a", "/a", "_web", ".web", "-web", "we b", "we/b", "//web", "wéb"} {
		_, err := ValidateName(in)
		wantInvalid(t, err, in, "[a-zA-Z0-9][a-zA-Z0-9_.-]")
	}
}

func TestParseRestart(t *testing.T) {
	tests := map[string]RestartPolicy{
		"": {Name: "no"}, "no": {Name: "no"}, "always": {Name: "always"},
		"unless-stopped": {Name: "unless-stopped"}, "on-failure": {Name: "on-failure"},
		"on-failure:5": {Name: "on-failure", MaximumRetryCount: 5}, "on-failure:0": {Name: "on-failure"},
	}
	for in, want := range tests {
		got, err := ParseRestart(in)
		if err != nil || got != want {
			t.Errorf("ParseRestart(%q) = %+v, %v", in, got, err)
		}
	}
	errs := []struct{ in, hint string }{
		{"sometimes", "use no, always"},
		{"always:3", "on-failure only"},
		{"no:1", "on-failure only"},
		{"on-failure:-1", "negative"},
		{"on-failure:x", "not a number"},
		{"on-failure:", "not a number"},
		{"on-failure:+1", "not a number"},
		{"On-Failure", "use no"},
	}
	for _, tt := range errs {
		_, err := ParseRestart(tt.in)
		wantInvalid(t, err, tt.in, tt.hint)
	}
	if s := (RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}).String(); s != "on-failure:3" {
		t.Errorf("String() = %q", s)
	}
}

func TestValidateUser(t *testing.T) {
	for _, u := range []string{"", "root", "1000", "1000:1000", "app:staff", "0:0", "2147483647"} {
		if err := ValidateUser(u); err != nil {
			t.Errorf("ValidateUser(%q): %v", u, err)
		}
	}
	for _, u := range []string{":", "app:", ":grp", "a:b:c", "a b", "-1", "2147483648", "1:-5", "99999999999999999999", "a\nb"} {
		wantInvalid(t, ValidateUser(u), u)
	}
	wantInvalid(t, ValidateGroup(""), "")
	wantInvalid(t, ValidateGroup("a:b"), "a:b")
}
