package idmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	in := `# comment
alice:100000:65536
1001:200000:1000
bob:300000:65536
broken line
alice:x:1
alice:500000:0
alice:400000:10
`
	got, err := ParseSubIDs(strings.NewReader(in), "alice", 1001)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{100000, 65536}, {200000, 1000}, {400000, 10}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("range %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if n := Total(got); n != 66546 {
		t.Fatalf("Total = %d", n)
	}
	none, _ := ParseSubIDs(strings.NewReader(in), "carol", 5)
	if len(none) != 0 {
		t.Fatalf("carol has no ranges, got %v", none)
	}
}

func TestReadSubIDsMissingFile(t *testing.T) {
	rs, err := ReadSubIDs(filepath.Join(t.TempDir(), "nope"), "a", 1)
	if err != nil || rs != nil {
		t.Fatalf("missing file: got %v, %v", rs, err)
	}
}

func TestReadMap(t *testing.T) {
	f := filepath.Join(t.TempDir(), "uid_map")
	os.WriteFile(f, []byte("         0       1000          1\n         1     100000      65536\n"), 0o644)
	m, err := ReadMap(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[1] != (Mapping{1, 100000, 65536}) {
		t.Fatalf("got %v", m)
	}
	os.WriteFile(f, []byte("0 x 1\n"), 0o644)
	if _, err := ReadMap(f); err == nil {
		t.Fatal("malformed map accepted")
	}
}

func FuzzParseSubIDs(f *testing.F) {
	f.Add("alice:100000:65536\n")
	f.Add("1000:1:2\nbad\n::\n")
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseSubIDs(strings.NewReader(s), "alice", 1000)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Start < 0 || r.Length <= 0 {
				t.Fatalf("invalid range accepted: %v", r)
			}
		}
	})
}
