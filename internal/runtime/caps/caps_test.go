package caps

import "testing"

func TestParse(t *testing.T) {
	s, err := Parse([]string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
		"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"})
	if err != nil {
		t.Fatal(err)
	}
	// The value /proc/PID/status shows for the eleven default
	// capabilities (Docker's 0xa80425fb adds NET_RAW, MKNOD, AUDIT_WRITE).
	if s != 0x800405fb {
		t.Errorf("default set = %#x, want 0x800405fb", uint64(s))
	}
	if s2, _ := Parse([]string{"chown", "Cap_Kill"}); s2 != 1|1<<5 {
		t.Errorf("case-insensitive names: %#x", uint64(s2))
	}
	if _, err := Parse([]string{"CAP_NOPE"}); err == nil {
		t.Error("unknown name accepted")
	}
	if n := s.Names(); len(n) != 11 || n[0] != "CAP_CHOWN" || n[10] != "CAP_SETFCAP" {
		t.Errorf("Names = %v", n)
	}
}
