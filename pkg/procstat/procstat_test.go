package procstat

import (
	"os"
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
