package execproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/nsenter"
	"github.com/cove-run/cove/internal/runtime/caps"
	"github.com/cove-run/cove/internal/runtime/initproc"
	"github.com/cove-run/cove/internal/runtime/proto"
	"github.com/cove-run/cove/internal/runtime/seccomp"
	"github.com/cove-run/cove/internal/spec"
)

// init pins the main goroutine to the main thread before main runs when
// this process is the joining process: capabilities, no_new_privs and the
// keep-capabilities bit are per-thread, and execve keeps only the calling
// thread's (see initproc's init).
func init() {
	if len(os.Args) > 0 && os.Args[0] == Role {
		runtime.LockOSThread()
	}
}

// setupError is a failed step, with the exit code the caller reports.
type setupError struct {
	stage    string
	exitCode int
	err      error
}

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

func fail(stage string, code int, err error) error {
	return &setupError{stage: stage, exitCode: code, err: err}
}

// Main is the entry point of the role, in the container's namespaces. It
// returns only when setup failed, after telling the caller; its result is
// the exit code.
func Main() int {
	var err error
	if nsenter.Joined() {
		// Close-on-exec, so that the caller sees EOF exactly when the
		// command has replaced us.
		unix.CloseOnExec(nsenter.SyncFD)
		err = run()
	} else {
		err = fail("join", 0, errors.New("not in the container's namespaces: not started by cove exec, or this cove was built without cgo"))
	}
	m := proto.Message{Kind: proto.KindError, Stage: "exec", Text: err.Error()}
	var se *setupError
	if errors.As(err, &se) {
		m.Stage, m.ExitCode = se.stage, se.exitCode
	}
	if stage, code, ok := initproc.Stage(err); ok {
		m.Stage, m.ExitCode = stage, code
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	}
	if serr := proto.Send(nsenter.SyncFD, m, nil); serr != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Role, err)
	}
	if m.ExitCode != 0 {
		return m.ExitCode
	}
	return errdefs.ExitCove
}

func readConfig() (*Config, error) {
	f := os.NewFile(nsenter.ConfigFD, "config")
	defer f.Close()
	var c Config
	if err := json.NewDecoder(f).Decode(&c); err != nil {
		return nil, fmt.Errorf("reading the exec configuration: %w", err)
	}
	if len(c.Args) == 0 || !strings.HasPrefix(c.Cwd, "/") {
		return nil, errors.New("reading the exec configuration: no command or no absolute working directory")
	}
	return &c, nil
}

func run() error {
	c, err := readConfig()
	if err != nil {
		return fail("config", 0, err)
	}
	// The container's processes run with umask 022, as in Docker.
	unix.Umask(0o022)
	// A session of our own: the caller's session and terminal are the
	// host's; a terminal of the container's needs a session leader to
	// become its controlling terminal.
	if _, err := unix.Setsid(); err != nil {
		return fail("exec", 0, fmt.Errorf("setsid: %w", err))
	}

	// 1. The user, looked up in the container's files: our root is the
	// container's since the constructor joined its mount namespace.
	uid, gid, groups, home, err := spec.ResolveUser("/", c.User, c.GroupAdd)
	if err != nil {
		// Docker's wording, without the class prefix: the error is about
		// the container's files, not the user's input.
		return fail("user", errdefs.ExitCannotInvoke, errors.New(strings.TrimPrefix(err.Error(), errdefs.ErrInvalidArgument.Error()+": ")))
	}
	env := c.Env
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "HOME=") }) {
		env = append(env, "HOME="+home)
	}

	// 2. The terminal, in the container's devpts instance, while we are
	// root (the slave is given to the user).
	if c.Terminal {
		// In the container's devpts instance (reachable as /dev/pts since
		// the constructor joined the mount namespace): a pty of the host's
		// would not exist in the container's /dev/pts.
		master, err := initproc.SetupConsole(c.ConsoleRows, c.ConsoleCols, uid, false)
		if err != nil {
			return fail("console", 0, err)
		}
		err = proto.Send(nsenter.SyncFD, proto.Message{Kind: proto.KindConsole}, master)
		master.Close()
		if err != nil {
			return fail("console", 0, fmt.Errorf("sending the terminal to cove exec: %w", err))
		}
	}

	// 3. Resource limits while we are root: raising a hard limit needs
	// CAP_SYS_RESOURCE.
	if err := initproc.SetRlimits(c.Rlimits); err != nil {
		return fail("rlimits", 0, err)
	}

	// 4. Privileges, most privileged step first (see initproc.run).
	filter := initproc.SeccompFilter(c.Seccomp)
	if c.Caps != nil {
		if err := caps.DropBounding(caps.Set(c.Caps.Bounding)); err != nil {
			return fail("capabilities", 0, err)
		}
	}
	if !c.NoNewPrivileges {
		if err := seccomp.Load(filter, false); err != nil {
			return fail("seccomp", 0, err)
		}
	}
	if err := initproc.SetUser(uid, gid, groups); err != nil {
		return fail("user", errdefs.ExitCannotInvoke, err)
	}
	// As the user, before capset gives a root user its effective set
	// back: a directory the user may not enter is an error.
	if err := unix.Chdir(c.Cwd); err != nil {
		code := errdefs.ExitCannotInvoke
		if err == unix.ENOENT || err == unix.ENOTDIR {
			code = errdefs.ExitNotFound
		}
		return fail("cwd", code, fmt.Errorf("chdir to working directory %q: %w", c.Cwd, err))
	}
	if c.Caps != nil {
		eff, perm, amb := caps.Set(c.Caps.Effective), caps.Set(c.Caps.Permitted), caps.Set(c.Caps.Ambient)
		if uid != 0 {
			// As for the container's own process (spec.Generate): a
			// non-root user keeps the bounding set only.
			eff, perm, amb = 0, 0, 0
		}
		if err := caps.Apply(eff, perm, caps.Set(c.Caps.Inheritable)); err != nil {
			return fail("capabilities", 0, fmt.Errorf("setting effective %#x, permitted %#x: %w", eff, perm, err))
		}
		if err := caps.RaiseAmbient(amb); err != nil {
			return fail("capabilities", 0, err)
		}
	}
	unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)

	// 5. The command, in the container's PATH, as the user.
	path, err := initproc.LookPath(c.Args[0], env)
	if err != nil {
		return err
	}
	if err := initproc.CloseExtraFDs(); err != nil {
		return fail("exec", 0, err)
	}
	// 6. Last, as close to execve as possible.
	if c.NoNewPrivileges {
		if filter != nil {
			if err := seccomp.Load(filter, true); err != nil {
				return fail("seccomp", 0, err)
			}
		} else if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail("no_new_privs", 0, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err))
		}
	}
	// A failure here means a profile that denies sendmsg; the execve is
	// what counts (the caller copes with a missing message).
	proto.Send(nsenter.SyncFD, proto.Message{Kind: proto.KindExec}, nil)
	err = syscall.Exec(path, c.Args, env)
	return initproc.ExecError(c.Args[0], path, err)
}
