package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("one"), 0o600); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := Write(p, []byte("two, longer"), 0o600); err != nil {
		t.Fatalf("second write: %v", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "two, longer" {
		t.Fatalf("content = %q, want the second write's", b)
	}
	// The exchanged-out old content must not be left behind.
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestWriteOverStaleTemporary(t *testing.T) {
	// A writer killed after creating the temporary file leaves it; the next
	// write must truncate it, not append or fail.
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := os.WriteFile(p+".tmp", []byte("stale content that is long"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), 0o600); err != nil {
		t.Fatalf("write: %v", err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "new" {
		t.Fatalf("content = %q, want %q", b, "new")
	}
}

func TestReplaceMissingSource(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	os.WriteFile(p, []byte("keep"), 0o600)
	if err := Replace(filepath.Join(dir, "missing"), p); err == nil {
		t.Fatal("Replace of a missing file succeeded")
	}
	b, _ := os.ReadFile(p)
	if string(b) != "keep" {
		t.Fatalf("target changed to %q", b)
	}
}

func BenchmarkWrite(b *testing.B) {
	p := filepath.Join(b.TempDir(), "state.json")
	data := make([]byte, 300)
	for i := 0; i < b.N; i++ {
		if err := Write(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}
