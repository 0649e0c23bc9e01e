package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cove-run/cove/pkg/procstat"
)

// The keeper is the process that holds the user's shared user namespace;
// the C constructor (entry_linux.c, keeper_namespace) creates and joins it.
// This side only finds and retires it: `cove system migrate`, and tests.

// KeeperDir is the directory of the keeper's record for host user uid, as
// the constructor chooses it: $XDG_RUNTIME_DIR/cove when that is a private
// directory of the user's, else $TMPDIR (or /tmp)/cove-run-UID.
func KeeperDir(uid int) string {
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); strings.HasPrefix(xdg, "/") {
		if st, err := os.Stat(xdg); err == nil && st.IsDir() && st.Mode().Perm()&0o022 == 0 {
			if s, ok := st.Sys().(*syscall.Stat_t); ok && int(s.Uid) == uid {
				return filepath.Join(xdg, "cove")
			}
		}
	}
	tmp := os.Getenv("TMPDIR")
	if !strings.HasPrefix(tmp, "/") {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, fmt.Sprintf("cove-run-%d", uid))
}

// Keeper returns the PID of the live keeper recorded in dir, or 0.
func Keeper(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "userns.pid"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 1 {
		return 0
	}
	if st, ok := procstat.Read(pid); !ok || st.StartTime != start || st.IsZombie() {
		return 0
	}
	return pid
}

// RetireKeeper kills the keeper recorded in dir, so that the next command
// creates a new namespace with the current /etc/subuid and /etc/subgid
// ranges. Running containers keep the old namespace until they exit. It
// returns the PID killed, or 0 when there was none.
func RetireKeeper(dir string) (int, error) {
	// Under the constructor's lock, so that a keeper a concurrent command
	// creates is not unrecorded by the Remove below.
	if lf, err := os.OpenFile(filepath.Join(dir, "userns.lock"), os.O_RDWR|syscall.O_NOFOLLOW, 0); err == nil {
		defer lf.Close()
		syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
	}
	pid := Keeper(dir)
	if pid == 0 {
		return 0, nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("stopping cove's user namespace keeper (PID %d): %w", pid, err)
	}
	os.Remove(filepath.Join(dir, "userns.pid"))
	return pid, nil
}
