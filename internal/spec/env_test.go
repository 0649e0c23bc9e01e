package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fakeLookup(env map[string]string) LookupFunc {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

var hostEnv = fakeLookup(map[string]string{"HOSTVAR": "from host", "EMPTY": ""})

func TestParseEnv(t *testing.T) {
	tests := []struct{ in, want string }{
		{"A=b", "A=b"},
		{"A=", "A="},
		{"A==b", "A==b"},
		{`A="quoted"`, `A="quoted"`},
		{"A= spaced value  ", "A= spaced value  "},
		{"A=multi\nline", "A=multi\nline"},
		{"HOSTVAR", "HOSTVAR=from host"},
		{"EMPTY", "EMPTY="},
		{"UNSET_IN_HOST", "UNSET_IN_HOST"},
		{"lower.case-key", "lower.case-key"},
	}
	for _, tt := range tests {
		got, err := ParseEnv(tt.in, hostEnv)
		if err != nil || got != tt.want {
			t.Errorf("ParseEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "=x", "A B=c", " A=b", "A\t=b", "A\x00=b", "A=b\x00"} {
		_, err := ParseEnv(in, hostEnv)
		wantInvalid(t, err, in)
	}
}

func TestParseEnvFile(t *testing.T) {
	content := "\ufeff# comment\n" +
		"A=1\n" +
		"\n" +
		"   \t\n" +
		"  B=two words  \n" +
		`C="quoted"` + "\n" +
		"  # indented comment\n" +
		"HOSTVAR\n" +
		"UNSET_IN_HOST\n" +
		"D=\n" +
		"E=x=y\r\n" +
		"A=override\n"
	got, err := ParseEnvFile(strings.NewReader(content), "test.env", hostEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "B=two words  ", `C="quoted"`, "HOSTVAR=from host", "D=", "E=x=y", "A=override"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	tests := []struct{ content, hint string }{
		{"A=1\n=nokey\n", "line 2: empty variable name"},
		{"A=1\nB C=2\n", `line 2: variable name "B C" contains whitespace`},
		{"BARE \n", `line 1: variable name "BARE " contains whitespace`},
		{"A=1\nB=\xff\n", "line 2: invalid UTF-8"},
		{"A=\x00\n", "line 1: NUL"},
		{"A=1\nB=" + strings.Repeat("x", maxEnvLine+1) + "\n", "line 2: line longer than"},
	}
	for _, tt := range tests {
		_, err := ParseEnvFile(strings.NewReader(tt.content), "/path/to/my.env", hostEnv)
		if err == nil {
			t.Errorf("%q: no error", tt.content)
			continue
		}
		wantInvalidMsg(t, err, tt.hint, "env file /path/to/my.env")
	}
}

func TestReadEnvFileMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing.env")
	_, err := ReadEnvFile(p, nil)
	wantInvalidMsg(t, err, p, "no such file")
}

func TestUserEnvOrder(t *testing.T) {
	dir := t.TempDir()
	f1 := filepath.Join(dir, "1.env")
	f2 := filepath.Join(dir, "2.env")
	os.WriteFile(f1, []byte("A=file1\nB=file1\n"), 0o644)
	os.WriteFile(f2, []byte("B=file2\nC=file2\n"), 0o644)
	got, err := UserEnv([]string{f1, f2}, []string{"C=flag", "HOSTVAR"}, hostEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=file1", "B=file1", "B=file2", "C=file2", "C=flag", "HOSTVAR=from host"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	merged := MergeEnv(nil, got)
	if want := []string{"A=file1", "B=file2", "C=flag", "HOSTVAR=from host"}; !reflect.DeepEqual(merged, want) {
		t.Errorf("merged %q, want %q", merged, want)
	}
	if _, err := UserEnv(nil, []string{"BAD KEY=1"}, hostEnv); err == nil {
		t.Error("bad -e accepted")
	}
}

func TestMergeEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOSTNAME=h", "junk"}
	got := MergeEnv(base, []string{"A=1", "PATH=/usr/bin", "HOSTNAME", "A=2"}, []string{"B=3", "HOSTNAME=again"})
	want := []string{"PATH=/usr/bin", "A=2", "B=3", "HOSTNAME=again"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if base[1] != "HOSTNAME=h" {
		t.Error("MergeEnv modified its input")
	}
}
