package execproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/nsenter"
	cruntime "github.com/cove-run/cove/internal/runtime"
)

// Options describe a command to run in a running container.
type Options struct {
	// Pid is the container's first process in the caller's pid
	// namespace, and Pidfd a pidfd of it, opened by the caller after it
	// made sure Pid is the container's process (start time): the joining
	// process checks the pidfd to rule out a reused PID. Start does not
	// close it.
	Pid   int
	Pidfd *os.File

	Config Config

	// Stdin, Stdout and Stderr are the command's streams without a
	// terminal. An *os.File is handed over as is; any other reader or
	// writer goes through a pipe copied until Wait returns (or shortly
	// after the command exits, see Process.Wait). nil means /dev/null.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Detach starts the command and lets it run: Wait then only reaps the
	// joining process, which exits at once.
	Detach bool
}

// Process is a command started in a container.
type Process struct {
	cmd     *exec.Cmd
	console *os.File

	once sync.Once
	done chan struct{}
	code int
	err  error
}

// drainDelay bounds how long Wait keeps copying non-file streams after the
// command has exited (a background process of the command may hold them
// open for ever).
const drainDelay = 250 * time.Millisecond

// Start starts the joining process and returns once the command has been
// executed in the container, or with an error:
//
//   - an *errdefs.ExitError with Code 127 (command, or working directory,
//     not found) or 126 (cannot be run; no such user), wrapping a
//     *runtime.InitError;
//   - a *runtime.InitError for any other failure (exit code 125), such as
//     a container that exited meanwhile.
func Start(ctx context.Context, o Options) (*Process, error) {
	if !nsenter.Available {
		return nil, fmt.Errorf("cove exec needs a cove built with cgo (the namespace join is a C constructor): %w", errdefs.ErrUnsupported)
	}
	if o.Pid <= 0 {
		return nil, errdefs.InvalidArgument("exec: no container process")
	}
	cfg, err := json.Marshal(&o.Config)
	if err != nil {
		return nil, fmt.Errorf("encoding the exec configuration: %w", err)
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// SOCK_SEQPACKET: message boundaries, and SCM_RIGHTS for the terminal
	// (see internal/runtime/proto). Close-on-exec so that no other child
	// of ours inherits our end.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, fmt.Errorf("creating the sync socket: %w", err)
	}
	parentSock := os.NewFile(uintptr(pair[0]), "sync")
	childSock := os.NewFile(uintptr(pair[1]), "sync-child")
	defer parentSock.Close()

	pidfd := o.Pidfd
	if pidfd == nil {
		// Without one the constructor relies on the caller's start-time
		// check alone; pass something harmless at the fixed number.
		if pidfd, err = os.Open(os.DevNull); err != nil {
			return nil, err
		}
		defer pidfd.Close()
	}
	env := []string{nsenter.EnvPid + "=" + strconv.Itoa(o.Pid)}
	if o.Detach {
		env = append(env, nsenter.EnvDetach+"=1")
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{Role},
		Env:        env,
		ExtraFiles: []*os.File{cfgR, childSock, pidfd},
		SysProcAttr: &syscall.SysProcAttr{
			// A process group of its own: the terminal's keystroke
			// signals reach only us, and we relay them once (through
			// Signal) instead of the command getting them twice.
			Setpgid: true,
		},
		WaitDelay: drainDelay,
	}
	if os.Geteuid() == 0 {
		// As real root we can make the read-only view of the binary on
		// the host, and the constructor then skips making its own (see
		// nsenter_linux.c, exe_is_protected). A rootless caller cannot
		// (no privilege over the host's mounts): the constructor makes
		// it in the container's user namespace.
		if exe, err := cruntime.ReadonlyExecutable(); err == nil {
			cmd.Path = "/proc/self/fd/" + strconv.Itoa(nsenter.ExeFD)
			cmd.ExtraFiles = append(cmd.ExtraFiles, exe)
			cmd.Env = append(cmd.Env, nsenter.EnvExeFD+"="+strconv.Itoa(nsenter.ExeFD))
		}
	}
	if !o.Config.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	// The configuration is written while the process starts; a goroutine,
	// because it may not fit the pipe's buffer. A write error means the
	// process died, which the socket tells.
	go func() {
		cfgW.Write(cfg)
		cfgW.Close()
	}()
	err = cmd.Start()
	cfgR.Close()
	childSock.Close()
	if err != nil {
		cfgW.Close()
		return nil, fmt.Errorf("starting %s: %w", Role, err)
	}

	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	res := cruntime.ReadSync(int(parentSock.Fd()))
	if !stop() {
		if res.Console != nil {
			res.Console.Close()
		}
		cmd.Wait()
		return nil, ctx.Err()
	}
	if res.Err != nil {
		if res.Console != nil {
			res.Console.Close()
		}
		cmd.Wait()
		if res.ExitCode != 0 {
			return nil, &errdefs.ExitError{Code: res.ExitCode, Err: res.Err}
		}
		return nil, res.Err
	}
	if !res.Exec && res.RecvErr != nil {
		// The process died without a word (or the socket failed): its
		// status tells what happened.
		cmd.Wait()
		code, _ := cruntime.ExitStatus(cmd.ProcessState, nil)
		return nil, &cruntime.InitError{Stage: "exec", Msg: fmt.Sprintf("%s exited during setup (status %d): %v", Role, code, res.RecvErr)}
	}
	return &Process{cmd: cmd, console: res.Console, done: make(chan struct{})}, nil
}

// Pid returns the PID of the joining process on the host (the waiter; the
// command is its child).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Console returns the master side of the command's terminal, or nil. The
// caller owns it.
func (p *Process) Console() *os.File { return p.console }

// Resize sets the size of the command's terminal.
func (p *Process) Resize(rows, cols uint16) error {
	if p.console == nil {
		return errors.New("resizing the terminal: exec without a terminal")
	}
	return cruntime.ResizeConsole(p.console, rows, cols)
}

// Signal sends sig to the command, through the joining process on the
// host, which relays it. SIGKILL and SIGSTOP cannot be relayed: they stop
// the relay itself.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the command to exit (for Detach, only for the joining
// process, which exits at once) and returns its exit code, 128+N when a
// signal killed it. Streams that are not files are drained for at most a
// moment after the exit.
func (p *Process) Wait() (int, error) {
	p.once.Do(func() {
		err := p.cmd.Wait()
		if errors.Is(err, exec.ErrWaitDelay) {
			err = nil
		}
		p.code, p.err = cruntime.ExitStatus(p.cmd.ProcessState, err)
		close(p.done)
	})
	<-p.done
	return p.code, p.err
}
