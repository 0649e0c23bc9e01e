package procstat

import (
	"os"
	"strconv"
	"testing"
)

func TestReadSelf(t *testing.T) {
	st, ok := Read(os.Getpid())
	if !ok || st.StartTime == 0 || st.PPid != os.Getppid() || st.IsZombie() {
		t.Fatalf("Read(self) = %+v, %v", st, ok)
	}
	if _, ok := Read(-1); ok {
		t.Fatal("Read(-1) found a process")
	}
}

func TestNamedOwnerGone(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for name, want := range map[string]bool{
		"view-" + self + "-123":  false, // this process lives
		"view-" + self:           false,
		"view-2147483646-1":      true, // above any pid_max
		"view-x-1":               false,
		"view--1":                false,
		"commit-2147483646-9":    false, // another prefix
		"viewer-2147483646-1":    false,
		"view-0-1":               false,
		"view-2147483646-1-more": true,
	} {
		if got := NamedOwnerGone(name, "view"); got != want {
			t.Errorf("NamedOwnerGone(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzNamedOwnerGone: any name is answered without a panic, and a name
// without the prefix is never gone.
func FuzzNamedOwnerGone(f *testing.F) {
	f.Add("view-1-2")
	f.Fuzz(func(t *testing.T, name string) {
		if NamedOwnerGone(name, "view") && len(name) < len("view-") {
			t.Errorf("%q is gone", name)
		}
	})
}
