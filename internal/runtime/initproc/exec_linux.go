package initproc

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
)

// defaultPath is used when the container's environment has no PATH, as in
// Docker.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds the command the way Docker (Go's exec.LookPath inside
// runc) does: a name with a slash is used as is; otherwise the first
// executable regular file in the container's PATH. It runs after
// pivot_root, so the search is inside the container, and after the user
// switch, so "executable" means executable by the container user.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	pathEnv, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv, found = v, true // the last one wins, as in execve users
		}
	}
	if !found {
		pathEnv = defaultPath
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
			continue
		}
		if unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS) == nil {
			return p, nil
		}
	}
	return "", &stageError{stage: "exec", exitCode: errdefs.ExitNotFound,
		err: fmt.Errorf("exec: %q: executable file not found in $PATH", file)}
}

// execError classifies a failed execve like Docker: 127 when the command
// (or its interpreter) does not exist, 126 when it exists but cannot be run.
func execError(arg0, path string, err error) error {
	code := errdefs.ExitCannotInvoke
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.ENOENT, unix.ENOTDIR, unix.ELOOP, unix.ENAMETOOLONG:
			code = errdefs.ExitNotFound
		}
	}
	msg := fmt.Errorf("exec %s: %w", arg0, err)
	if errno == unix.EACCES {
		// execve says EACCES for a directory; say what it is.
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			msg = fmt.Errorf("exec %s: %w", arg0, unix.EISDIR)
		}
	}
	return &stageError{stage: "exec", exitCode: code, err: msg}
}
