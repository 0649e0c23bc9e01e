package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Process is a started container: its first process, as seen from the
// caller's pid namespace. Its methods are safe for concurrent use.
type Process struct {
	cmd     *exec.Cmd
	console *os.File
	// setupBy is "c" or "go": which init set the container up.
	setupBy string

	once sync.Once
	done chan struct{}
	code int
	err  error
}

// Pid returns the container's first process's PID in the caller's pid
// namespace (it is 1 inside the container when it has its own). With
// AnnotationInit that is the reaper, the command's parent.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// SetupBy says which init set the container up: "c" for the C init
// (initproc's cinit_linux.c), "go" for the Go init (a terminal, --init, or
// a spec only the Go init handles). For tests and COVE_TIMING.
func (p *Process) SetupBy() string { return p.setupBy }

// Console returns the master side of the container's terminal, or nil
// without process.terminal. The caller owns it: it reads the container's
// output from it until it fails (EIO once the container's side is closed)
// and closes it.
func (p *Process) Console() *os.File { return p.console }

// Resize sets the size of the container's terminal; the kernel sends
// SIGWINCH to the container's foreground process group.
func (p *Process) Resize(rows, cols uint16) error {
	if p.console == nil {
		return errors.New("resizing the terminal: the container has no terminal")
	}
	return ResizeConsole(p.console, rows, cols)
}

// ResizeConsole sets the size of the terminal whose master side is
// console; the kernel sends SIGWINCH to its foreground process group.
func ResizeConsole(console *os.File, rows, cols uint16) error {
	rc, err := console.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
	if err == nil {
		err = ierr
	}
	if err != nil {
		return fmt.Errorf("resizing the terminal to %dx%d: %w", cols, rows, err)
	}
	return nil
}

// Signal sends sig to the container's first process. Signals other than
// SIGKILL and SIGSTOP reach a pid namespace's init only when it handles
// them, as with Docker. With AnnotationInit the first process is cove's
// reaper, which handles and forwards them to the command (SIGKILL kills
// the reaper, and with it the whole container). After the process has
// exited it returns os.ErrProcessDone.
func (p *Process) Signal(sig os.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Wait waits for the container's first process to exit and for the copying
// of non-file stdio to finish, and returns its exit code: the status it
// exited with, or 128 plus the signal number when a signal killed it (137
// for SIGKILL), as a shell and Docker report it. err is only set when
// waiting itself failed. Every call returns the same result.
func (p *Process) Wait() (exitCode int, err error) {
	p.once.Do(func() {
		werr := p.cmd.Wait()
		p.code, p.err = ExitStatus(p.cmd.ProcessState, werr)
		close(p.done)
	})
	<-p.done
	return p.code, p.err
}

// ExitStatus turns a finished process's state into an exit code as a shell
// reports it (128+N when signal N killed it); err is kept only when it is
// not the process's own non-zero exit (a failed stdio copy).
func ExitStatus(ps *os.ProcessState, err error) (int, error) {
	if ps == nil {
		return -1, err
	}
	code := ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		// A stdio copy failed; the status is still known.
		return code, err
	}
	return code, nil
}
