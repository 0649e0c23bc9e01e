package netd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/pkg/atomicfile"
	"github.com/cove-run/cove/pkg/flock"
	"github.com/cove-run/cove/pkg/procstat"
)

// Attach has netd (started if none is alive) connect a container whose
// init is pid to networks: it makes the bridges, plugs the container in
// and resolves its names until it exits. dir is RUNROOT/netd.
func Attach(dir, containerID string, pid int, eps []Endpoint) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Held until netd has the container: netd takes the same lock before
	// it exits for want of containers.
	unlock, err := flock.Exclusive(filepath.Join(dir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	req := &request{Op: "attach", ContainerID: containerID, Pid: pid, Endpoints: eps}
	if rec, ok := alive(dir); ok && !sameUserNamespace(rec.Pid) {
		// A netd of an earlier user namespace (cove system migrate
		// replaced the keeper): it has no privilege over containers of
		// this one. Replace it; the containers it served, which are in
		// the old namespace, lose their user networks.
		syscall.Kill(rec.Pid, syscall.SIGKILL)
	} else if ok {
		err := send(dir, req)
		if err == nil {
			return nil
		}
		var re *remoteError
		if errors.As(err, &re) {
			return err
		}
		// Alive but not answering: replace it. Its containers lose their
		// links to the others (documented).
		syscall.Kill(rec.Pid, syscall.SIGKILL)
	}
	if err := start(dir); err != nil {
		return err
	}
	return send(dir, req)
}

// Detach has a running netd unplug a running container from a network.
func Detach(dir, containerID, networkID string) error {
	if _, ok := alive(dir); !ok {
		return nil
	}
	return send(dir, &request{Op: "detach", ContainerID: containerID, NetworkID: networkID})
}

// alive reads netd's record and checks that the process is still that
// netd (PID and start time).
func alive(dir string) (record, bool) {
	rec, err := readRecord(dir)
	if err != nil || rec.Pid <= 0 {
		return rec, false
	}
	st, ok := procstat.Read(rec.Pid)
	return rec, ok && st.StartTime == rec.Start && !st.IsZombie()
}

// sameUserNamespace reports whether pid is in this process's user
// namespace.
func sameUserNamespace(pid int) bool {
	mine, err1 := os.Readlink("/proc/self/ns/user")
	theirs, err2 := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/user")
	return err1 == nil && err2 == nil && mine == theirs
}

// start runs `cove-netd --spawn DIR`, which starts netd in its own
// session and exits; netd reports on the pipe once its socket listens.
// The caller holds the lock.
func start(dir string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path: "/proc/self/exe", Args: []string{Role, "--spawn", dir}, Dir: "/",
		ExtraFiles: []*os.File{w},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting cove-netd: %w", err)
	}
	w.Close()
	// The intermediate exits at once; netd keeps the pipe until ready.
	cmd.Wait()
	msg, _ := io.ReadAll(io.LimitReader(r, 4096))
	line := strings.TrimSpace(string(msg))
	tidText, ok := strings.CutPrefix(line, "ok ")
	tid, terr := strconv.Atoi(tidText)
	if !ok || terr != nil {
		if line == "" {
			line = "it exited without a word (see " + filepath.Join(dir, logFile) + ")"
		}
		return fmt.Errorf("starting cove-netd, the shared network namespace of user networks: %s", strings.TrimPrefix(line, "error "))
	}
	pid, err := socketPeer(dir)
	if err != nil {
		return err
	}
	rec := record{Pid: pid, Start: procstat.StartTime(pid), Tid: tid}
	b, _ := json.Marshal(&rec)
	return atomicfile.Write(filepath.Join(dir, recordFile), b, 0o600)
}

// dial connects to netd's socket through a descriptor of its directory
// (socket paths are limited to 108 bytes).
func dial(dir string) (net.Conn, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return net.DialTimeout("unix", "/proc/self/fd/"+strconv.Itoa(fd)+"/"+socketFile, 2*time.Second)
}

// socketPeer is the PID of the process listening on netd's socket
// (SO_PEERCRED): netd, who has no parent to tell it.
func socketPeer(dir string) (int, error) {
	c, err := dial(dir)
	if err != nil {
		return 0, fmt.Errorf("connecting to cove-netd: %w", err)
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return 0, cerr
	}
	return int(cred.Pid), nil
}

// remoteError is an error netd reported.
type remoteError struct{ msg string }

func (e *remoteError) Error() string { return e.msg }

func send(dir string, req *request) error {
	c, err := dial(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("cove-netd did not answer: %w", err)
	}
	var rep reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return err
	}
	if rep.Error != "" {
		return &remoteError{"cove-netd: " + rep.Error}
	}
	return nil
}
