package engine

// Attaching to a detached container: its monitor listens on DIR/attach
// (SOCK_SEQPACKET), see "Attach" in internal/monitor/monitor_linux.c for
// the packets. The detach keys are handled here, on the client's side of
// the socket: a detach is a disconnect, and the container runs on.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
)

// Packet types of the attach socket (monitor_linux.c's ATT_*).
const (
	attStdin  = 0
	attStdout = 1
	attStderr = 2
	attExit   = 3
	attResize = 4
	attBusy   = 5
	// attStdinEOF tells the monitor that the client's input has ended
	// (sent with StdinOnce): it closes the container's stdin pipe.
	attStdinEOF = 6
	// attDropped is the monitor's last word to a client that read none
	// of the output for its payload's seconds while the container waited
	// for it (backpressure's safety valve); the container runs on.
	attDropped = 7
)

const attachSocketName = "attach"

// attachPacketMax is the largest packet the monitor sends (its line
// buffer, plus the type byte).
const attachPacketMax = 16384 + 1

// Attachment is a connection to a detached container's monitor.
type Attachment struct {
	ID, Name string
	// Tty says the container has a terminal: its output is one stream,
	// input goes to the terminal, and Resize applies.
	Tty bool
	// OpenStdin says the container was created with -i: it has a stdin
	// to write to.
	OpenStdin bool
	// AutoRemove is --rm: the launcher removes the container after its
	// exit, and Copy returns once it has.
	AutoRemove bool
	// StdinOnce makes the end of Copy's stdin the end of the container's
	// (a pipe's; a terminal's end is ^D, a byte like any other): the
	// container's recorded StdinOnce (Docker's), which `create -i` and a
	// foreground `run -i` set and `run -di` does not; so a script's
	// `cove attach C &` (stdin /dev/null) does not end a `run -di`
	// container's input. The monitor closes the container's stdin at the
	// first client's end.
	StdinOnce bool
	conn      *net.UnixConn
	closeOnce sync.Once
	e         *Engine
}

// ErrDetached is returned by Attachment.Copy when the user typed the
// detach keys; the container runs on.
var ErrDetached = errors.New("detached")

// Attach connects to the monitor of the running container ref. It fails
// with ErrInvalidState for a container that is not running, or that runs
// in the foreground of a `cove run` (whose output belongs to that
// terminal).
func (e *Engine) Attach(ref string) (*Attachment, error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	switch c.State.Status {
	case state.Running, state.Paused:
	default:
		return nil, fmt.Errorf("you cannot attach to a stopped container %s, start it first: %w", c.Name, errdefs.ErrInvalidState)
	}
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	conn, err := dialAttach(stores.Dir(c.ID))
	// A container just started (start -a) may still be in its launcher,
	// which becomes the monitor and only then listens: retry while its
	// launcher or monitor lives (a foreground `cove run` has no socket).
	for deadline := time.Now().Add(attachDialWait); err != nil && time.Now().Before(deadline) &&
		(errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED)) && MonitorAlive(c.State.MonitorPid, c.ID); {
		time.Sleep(5 * time.Millisecond)
		conn, err = dialAttach(stores.Dir(c.ID))
	}
	if err != nil {
		if now, gerr := e.settled(c.ID); gerr == nil && now.State.Status != state.Running && now.State.Status != state.Paused {
			return nil, fmt.Errorf("container %s has exited: %w", c.Name, errdefs.ErrInvalidState)
		}
		if !MonitorAlive(c.State.MonitorPid, c.ID) {
			return nil, fmt.Errorf("container %s runs in the foreground of a `cove run`, which holds its terminal; only detached containers (run -d, start) can be attached: %w", c.Name, errdefs.ErrInvalidState)
		}
		return nil, fmt.Errorf("attaching to container %s: %w", c.Name, err)
	}
	return &Attachment{ID: c.ID, Name: c.Name, Tty: rec.Options.Tty, OpenStdin: rec.Options.OpenStdin, StdinOnce: rec.Options.StdinOnce, AutoRemove: rec.Options.AutoRemove, conn: conn, e: e}, nil
}

// dialAttach connects to DIR/attach through /proc/self/fd: a socket
// address holds 108 bytes, and DIR under a home directory is longer.
func dialAttach(dir string) (*net.UnixConn, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	addr := &net.UnixAddr{Net: "unixpacket", Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + attachSocketName}
	return net.DialUnix("unixpacket", nil, addr)
}

// Resize sets the size of the container's terminal.
func (a *Attachment) Resize(rows, cols uint16) error {
	_, err := a.conn.Write(append([]byte{attResize}, fmt.Sprintf("%d %d", rows, cols)...))
	return err
}

// Close disconnects; the container runs on.
func (a *Attachment) Close() error {
	var err error
	a.closeOnce.Do(func() { err = a.conn.Close() })
	return err
}

// Copy relays the container's output to stdout and stderr (a terminal's
// all to stdout) and, when stdin is not nil, stdin to the container,
// watching it for the detach key sequence (nil: no detach keys). It returns
// the container's exit code once it has exited, or ErrDetached when the
// keys were typed. The end of stdin ends the container's with StdinOnce,
// and the output is relayed until the container exits, as Docker does.
// Output is never dropped: while stdout or stderr do not take it, the
// monitor stops reading the container's, and the container waits.
func (a *Attachment) Copy(stdin io.Reader, stdout, stderr io.Writer, detachKeys []byte) (int, error) {
	detached := make(chan struct{})
	if stdin != nil {
		go func() {
			in := &detachReader{r: stdin, keys: detachKeys}
			buf := make([]byte, 8192)
			for {
				n, err := in.Read(buf)
				if n > 0 {
					if _, werr := a.conn.Write(append([]byte{attStdin}, buf[:n]...)); werr != nil {
						return
					}
				}
				if errors.Is(err, ErrDetached) {
					close(detached)
					a.Close()
					return
				}
				if err != nil {
					// The input has ended (or cannot be read any
					// more): so has the container's.
					if a.StdinOnce && !a.Tty {
						a.conn.Write([]byte{attStdinEOF})
					}
					return
				}
			}
		}()
	}
	buf := make([]byte, attachPacketMax+1)
	for {
		n, err := a.conn.Read(buf)
		if err != nil || n == 0 {
			select {
			case <-detached:
				return 0, ErrDetached
			default:
			}
			if err == nil || errors.Is(err, io.EOF) {
				// The monitor went away without an exit packet (it
				// was killed): the container is gone with it, and
				// the state says how it is recorded.
				// (The container dies with the monitor, a moment
				// after it: its parent-death signal.)
				for deadline := time.Now().Add(attachDialWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					c, serr := a.e.settled(a.ID)
					if serr != nil {
						break
					}
					if c.State.Status == state.Exited {
						return c.State.ExitCode, nil
					}
				}
				return 0, fmt.Errorf("container %s: its monitor closed the connection without an exit status", a.Name)
			}
			return 0, err
		}
		data := buf[1:n]
		switch buf[0] {
		case attStdout:
			if stdout != nil {
				stdout.Write(data)
			}
		case attStderr:
			if stderr != nil {
				stderr.Write(data)
			}
		case attBusy:
			return 0, fmt.Errorf("container %s: too many clients attached already (8): %w", a.Name, errdefs.ErrInvalidState)
		case attDropped:
			return 0, fmt.Errorf("container %s: its monitor disconnected this client, which read none of the container's output for %s s while the container waited for it; the container is still running", a.Name, strings.TrimSpace(string(data)))
		case attExit:
			code, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				return 0, fmt.Errorf("container %s: bad exit status %q from its monitor", a.Name, data)
			}
			// The monitor tells before its launcher records the exit:
			// wait for that, so that the next command (rm, start)
			// finds the container exited, as after Docker's attach.
			a.e.settled(a.ID)
			if a.AutoRemove {
				a.e.waitRemoved(a.ID)
			}
			return code, nil
		}
	}
}

// detachReader passes stdin through but holds back bytes that could be the
// start of the detach sequence: the whole sequence ends the input with
// ErrDetached (none of it reaches the container), a partial match that
// breaks off is passed on, as Docker's escape proxy does.
type detachReader struct {
	r        io.Reader
	keys     []byte
	matched  int    // how many bytes of keys the input has matched so far
	pending  []byte // input processed but not yet returned
	detached bool
	err      error
}

func (d *detachReader) Read(p []byte) (int, error) {
	if len(d.keys) == 0 {
		return d.r.Read(p)
	}
	for len(d.pending) == 0 && !d.detached && d.err == nil {
		in := make([]byte, len(p))
		n, err := d.r.Read(in)
		d.err = err
		for _, b := range in[:n] {
			if b != d.keys[d.matched] && d.matched > 0 {
				// A broken-off match: the held-back bytes are input.
				d.pending = append(d.pending, d.keys[:d.matched]...)
				d.matched = 0
			}
			if b == d.keys[d.matched] {
				d.matched++
				if d.matched == len(d.keys) {
					d.detached = true
					break
				}
				continue
			}
			d.pending = append(d.pending, b)
		}
		if d.err != nil && !d.detached && d.matched > 0 {
			// The input ended in a prefix: it was input after all.
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
		}
	}
	if len(d.pending) > 0 {
		n := copy(p, d.pending)
		d.pending = d.pending[n:]
		return n, nil
	}
	if d.detached {
		return 0, ErrDetached
	}
	return 0, d.err
}

// settled reads container id once an exit in progress is recorded: a
// container whose process is gone but whose monitor is still finishing
// (draining the log, recording the exit) is "running" for a moment more.
func (e *Engine) settled(id string) (*state.Container, error) {
	deadline := time.Now().Add(attachDialWait)
	for {
		c, err := e.reconciled(id)
		if err != nil || (c.State.Status != state.Running && c.State.Status != state.Paused) || alive(&c.State) || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRemoved waits, as long as a --rm container's launcher may take to
// remove it after its exit, until its record is gone.
func (e *Engine) waitRemoved(id string) {
	stores, err := e.States()
	if err != nil {
		return
	}
	for deadline := time.Now().Add(attachDialWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := stores.Get(id); errors.Is(err, errdefs.ErrNotFound) {
			return
		}
	}
}

// attachDialWait bounds the wait for a starting monitor's socket.
const attachDialWait = 5 * time.Second

// attachStartWait bounds how long a monitor started for `start -a` waits
// for its client before it reads (and logs) output nobody is attached to.
const attachStartWait = 10 * time.Second
