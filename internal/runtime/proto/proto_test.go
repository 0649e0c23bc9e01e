package proto

import (
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSendRecv(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Send(fds[1], Message{Kind: KindConsole}, f); err != nil {
		t.Fatal(err)
	}
	if err := Send(fds[1], Message{Kind: KindError, Stage: "mount", Errno: 2, Text: "x", ExitCode: 127}, nil); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1])
	m, got, err := Recv(fds[0])
	if err != nil || m.Kind != KindConsole || got < 0 {
		t.Fatalf("first: %+v %v %v", m, got, err)
	}
	var st1, st2 unix.Stat_t
	unix.Fstat(int(f.Fd()), &st1)
	unix.Fstat(got, &st2)
	if st1.Rdev != st2.Rdev {
		t.Error("the passed descriptor is not /dev/null")
	}
	if fl, _ := unix.FcntlInt(uintptr(got), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("the received descriptor is not close-on-exec")
	}
	unix.Close(got)
	m, got, err = Recv(fds[0])
	if err != nil || got >= 0 || m != (Message{Kind: KindError, Stage: "mount", Errno: 2, Text: "x", ExitCode: 127}) {
		t.Fatalf("second: %+v %v %v", m, got, err)
	}
	if _, _, err := Recv(fds[0]); err != io.EOF {
		t.Fatalf("third: %v, want EOF", err)
	}
}
