package flock

import (
	"path/filepath"
	"testing"
	"time"
)

// TestExclusive: a second holder waits until the first lets go.
func TestExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	release, err := Exclusive(path)
	if err != nil {
		t.Fatal(err)
	}
	got := exclusiveLater(t, path)
	select {
	case <-got:
		t.Fatal("a second exclusive lock was granted while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the second lock was not granted after the first was released")
	}
	if _, err := Exclusive(filepath.Join(t.TempDir(), "missing", "lock")); err == nil {
		t.Error("a lock in a missing directory was granted")
	}
}

// TestTryExclusive: a held lock is reported busy, a free one is taken.
func TestTryExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	release, err := Exclusive(path)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok, err := TryExclusive(path); ok || err != nil {
		if r != nil {
			r()
		}
		t.Fatalf("TryExclusive of a held lock: ok %v, err %v", ok, err)
	}
	release()
	r, ok, err := TryExclusive(path)
	if !ok || err != nil {
		t.Fatalf("TryExclusive of a free lock: ok %v, err %v", ok, err)
	}
	r()
}

// TestShared: shared holders coexist, and an exclusive one waits for all.
func TestShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	r1, err := Shared(path)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Shared(path)
	if err != nil {
		t.Fatal(err)
	}
	got := exclusiveLater(t, path)
	r1()
	select {
	case <-got:
		t.Fatal("an exclusive lock was granted while a shared one was held")
	case <-time.After(100 * time.Millisecond):
	}
	r2()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the exclusive lock was not granted after the shared ones were released")
	}
}

// exclusiveLater takes (and lets go of) an exclusive lock on path in the
// background; the channel closes once it was granted.
func exclusiveLater(t *testing.T, path string) chan struct{} {
	got := make(chan struct{})
	go func() {
		r, err := Exclusive(path)
		if err != nil {
			t.Error(err)
		} else {
			r()
		}
		close(got)
	}()
	return got
}
