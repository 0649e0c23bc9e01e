package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
)

func newID(i int) string { return fmt.Sprintf("%064x", i+1) }

func TestCreateGetLookupDelete(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: newID(1), Name: "web", Created: time.Now(), Config: []byte(`{"Image":"busybox"}`), State: State{Status: Created}}
	if err := s.Create(c); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"web", "/web", newID(1), newID(1)[:12]} {
		id, err := s.Lookup(ref)
		if err != nil || id != newID(1) {
			t.Errorf("Lookup(%q) = %q, %v", ref, id, err)
		}
	}
	if _, err := s.Lookup("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Lookup(nope) = %v, want ErrNotFound", err)
	}
	got, err := s.Get(newID(1))
	if err != nil || got.Name != "web" || got.State.Status != Created || string(got.Config) != `{"Image":"busybox"}` {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	dup := &Container{ID: newID(2), Name: "web", State: State{Status: Created}}
	if err := s.Create(dup); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if err := s.Delete(newID(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup("web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Create(dup); err != nil {
		t.Fatalf("name should be free after delete: %v", err)
	}
}

func TestInvalidName(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, n := range []string{"", "-x", "a b", "a/b", "ü"} {
		err := s.Create(&Container{ID: newID(3), Name: n})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("name %q: %v", n, err)
		}
	}
}

// TestDanglingNameRecovered simulates a creator killed between claiming
// the name and writing the container.
func TestDanglingNameRecovered(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	os.Symlink(filepath.Join("..", "containers", newID(9)), filepath.Join(root, "names", "ghost"))
	if err := s.Create(&Container{ID: newID(1), Name: "ghost", State: State{Status: Created}}); err != nil {
		t.Fatalf("dangling name link should be reclaimed: %v", err)
	}
}

func TestConcurrentCreateSameName(t *testing.T) {
	s, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if s.Create(&Container{ID: newID(i), Name: "same", State: State{Status: Created}}) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d creates with the same name succeeded, want 1", ok)
	}
	ids, _ := s.IDs()
	if len(ids) != 1 {
		t.Fatalf("%d containers on disk, want 1", len(ids))
	}
}

func TestStateMachine(t *testing.T) {
	s, _ := Open(t.TempDir())
	s.Create(&Container{ID: newID(1), Name: "m", State: State{Status: Created}})
	step := func(to Status) error {
		return s.SetState(newID(1), func(st *State) error { st.Status = to; return nil })
	}
	for _, to := range []Status{Running, Paused, Running, Exited, Running, Exited, Removing} {
		if err := step(to); err != nil {
			t.Fatalf("-> %s: %v", to, err)
		}
	}
	if err := step(Running); !errors.Is(err, errdefs.ErrInvalidState) {
		t.Fatalf("removing -> running must be refused, got %v", err)
	}
	if CanTransition(Created, Paused) {
		t.Error("created -> paused must be refused")
	}
}

func TestConcurrentUpdates(t *testing.T) {
	s, _ := Open(t.TempDir())
	s.Create(&Container{ID: newID(1), Name: "n", State: State{Status: Running}})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Update(newID(1), func(c *Container) error { c.State.RestartCount++; return nil })
		}()
	}
	wg.Wait()
	c, _ := s.Get(newID(1))
	if c.State.RestartCount != 50 {
		t.Fatalf("lost updates: RestartCount = %d, want 50", c.State.RestartCount)
	}
}

func TestRename(t *testing.T) {
	s, _ := Open(t.TempDir())
	s.Create(&Container{ID: newID(1), Name: "a", State: State{Status: Created}})
	s.Create(&Container{ID: newID(2), Name: "b", State: State{Status: Created}})
	if err := s.Rename(newID(1), "b"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	if err := s.Rename(newID(1), "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup("a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal("old name still resolves")
	}
	if id, _ := s.Lookup("c"); id != newID(1) {
		t.Fatal("new name does not resolve")
	}
}

// TestTornStateReadsAsExited: a state.json emptied by a power loss must not
// make the container unreadable (ps, rm must keep working).
func TestTornStateReadsAsExited(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	s.Create(&Container{ID: newID(1), Name: "torn", State: State{Status: Running, Pid: 123}})
	os.WriteFile(filepath.Join(root, "containers", newID(1), "state.json"), nil, 0o600)
	c, err := s.Get(newID(1))
	if err != nil {
		t.Fatalf("torn state: %v", err)
	}
	if c.State.Status != Exited || c.State.Error == "" {
		t.Fatalf("torn state reads as %+v", c.State)
	}
	if err := s.Delete(newID(1)); err != nil {
		t.Fatalf("removing a container with a torn state: %v", err)
	}
}

// TestUnchangedStateNotWritten: a state change that changes nothing must not
// replace the record (each replacement costs on every run); a real change
// must, and must leave no temporary file behind.
func TestUnchangedStateNotWritten(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	id := newID(1)
	if err := s.Create(&Container{ID: id, Name: "u", State: State{Status: Running, MonitorPid: 42}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(id), "state.json")
	inode := func() uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	before := inode()
	if err := s.SetState(id, func(st *State) error { st.MonitorPid = 42; return nil }); err != nil {
		t.Fatalf("no-op SetState: %v", err)
	}
	if after := inode(); after != before {
		t.Fatalf("a change that changed nothing replaced state.json (inode %d -> %d)", before, after)
	}
	if err := s.SetState(id, func(st *State) error { st.MonitorPid = 43; return nil }); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	if after := inode(); after == before {
		t.Fatal("a real change did not replace state.json")
	}
	c, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.MonitorPid != 43 {
		t.Fatalf("MonitorPid = %d, want 43", c.State.MonitorPid)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary state file left behind: %v", err)
	}
}
