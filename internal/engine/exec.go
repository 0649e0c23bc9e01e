package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/runtime/execproc"
	"github.com/cove-run/cove/internal/runtime/seccomp"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
)

// ExecOptions are `cove exec`'s options.
type ExecOptions struct {
	// Cmd is the command and its arguments.
	Cmd []string
	// Env and EnvFiles are -e and --env-file, as typed.
	Env, EnvFiles []string
	// User is -u (user[:group]); empty means the container's user.
	User string
	// Workdir is -w, absolute; empty means the container's.
	Workdir string
	// Tty is -t; Rows and Cols are the terminal's initial size. With
	// Detach it only sets TERM: nobody would hold the terminal's master,
	// and the command would get a hangup at once.
	Tty        bool
	Rows, Cols uint16
	// Privileged is --privileged: every capability, no seccomp filter.
	Privileged bool
	// Detach is -d: start the command and return.
	Detach bool
}

// ExecIO are the command's streams without -t; nil means /dev/null.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// ExecProcess is a command started in a container.
type ExecProcess struct {
	// ContainerName is the name of the container it runs in.
	ContainerName string
	*execproc.Process
}

// Exec runs a command in a running container, as Docker's exec: the
// container's environment plus -e/--env-file, its user and working
// directory unless -u/-w, its capabilities, seccomp filter and
// no-new-privileges setting (--privileged: every capability and no
// filter), in all of its namespaces.
//
// It runs on the host, outside cove's user namespace (see package
// execproc), and only reads the container's record: nothing is mounted or
// written. Errors: errdefs.ErrNotFound for an unknown container,
// errdefs.ErrInvalidState for one that is not running, otherwise as
// execproc.Start.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions, sio ExecIO) (*ExecProcess, error) {
	if len(o.Cmd) == 0 {
		return nil, errdefs.InvalidArgument("exec: no command given")
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return nil, errdefs.InvalidArgument("-w %q: the working directory must be an absolute path", o.Workdir)
	}
	if o.User != "" {
		if err := spec.ValidateUser(o.User); err != nil {
			return nil, err
		}
	}
	execEnv, err := spec.UserEnv(o.EnvFiles, o.Env, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return nil, err
	}
	c, err := e.reconciled(id)
	if err != nil {
		return nil, err
	}
	switch c.State.Status {
	case state.Running:
	case state.Paused:
		return nil, fmt.Errorf("container %s is paused, unpause the container before exec: %w", c.Name, errdefs.ErrInvalidState)
	default:
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	}
	rec, err := readRecord(c)
	if err != nil {
		return nil, err
	}
	cfg, err := execConfig(rec, o, execEnv)
	if err != nil {
		return nil, err
	}

	// A pidfd first, then the start-time check: if the recorded process
	// is still the one alive after the pidfd was opened, the pidfd refers
	// to it, and the joining process can tell a reused PID by it.
	pidfd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil && !errors.Is(err, unix.ENOSYS) {
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	}
	var pidFile *os.File
	if err == nil {
		pidFile = os.NewFile(uintptr(pidfd), "pidfd")
		defer pidFile.Close()
	}
	if !alive(&c.State) {
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	}
	p, err := execproc.Start(ctx, execproc.Options{
		Pid: c.State.Pid, Pidfd: pidFile, Config: cfg,
		Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr, Detach: o.Detach,
	})
	if err != nil {
		var ee *errdefs.ExitError
		if errors.As(err, &ee) && ee.Err != nil {
			return nil, &errdefs.ExitError{Code: ee.Code, Err: fmt.Errorf("exec in container %s: %w", c.Name, ee.Err)}
		}
		return nil, fmt.Errorf("exec in container %s: %w", c.Name, err)
	}
	return &ExecProcess{ContainerName: c.Name, Process: p}, nil
}

// execConfig builds the joining process's configuration from the
// container's record, with the same spec.Generate the container's start
// uses (so the environment, capabilities, limits and seccomp policy follow
// one set of rules), minus everything that touches the host: no rootfs
// (the user is resolved inside the container), no mounts or devices.
func execConfig(rec *containerRecord, o ExecOptions, execEnv []string) (execproc.Config, error) {
	ro := rec.Options
	p := rec.Parsed
	img := rec.ImageConfig
	user := o.User
	if user == "" {
		user = ro.User
		if user == "" {
			user = keepIDUserSpec(ro.Userns)
		}
		if user == "" {
			user = img.User
		}
	}
	// The user is resolved in the container; Generate gets root so that
	// it needs no passwd file, and an image without a User of its own.
	img.User = ""
	img.Volumes = nil
	in := spec.Input{
		Image:      img,
		Entrypoint: []string{},
		Cmd:        o.Cmd,
		Env:        p.Env,
		WorkingDir: ro.Workdir,
		User:       "0",
		Hostname:   rec.Hostname,
		Tty:        o.Tty,
		Privileged: ro.Privileged,
		CapAdd:     ro.CapAdd,
		CapDrop:    ro.CapDrop,
		Security:   p.Security,
		Ulimits:    p.Ulimits,
		Network:    p.Network,
	}
	sp, err := spec.Generate(in)
	if err != nil {
		return execproc.Config{}, err
	}
	proc := sp.Process
	env := proc.Env
	// Generate appends HOME for the container's user when neither the
	// user nor the image set it; for exec it comes from the exec user's
	// passwd entry, inside the container (as runc does).
	if !hasEnv(spec.MergeEnv(nil, rec.ImageConfig.Env, p.Env), "HOME") {
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, "HOME=") })
	}
	env = spec.MergeEnv(env, execEnv)
	cwd := proc.Cwd
	if o.Workdir != "" {
		cwd = o.Workdir
	}
	c := execproc.Config{
		Args:            o.Cmd,
		Env:             env,
		Cwd:             cwd,
		User:            user,
		GroupAdd:        ro.GroupAdd,
		Terminal:        o.Tty && !o.Detach,
		ConsoleRows:     o.Rows,
		ConsoleCols:     o.Cols,
		NoNewPrivileges: proc.NoNewPrivileges,
	}
	if o.Privileged {
		all := spec.AllCapabilities()
		proc.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	var filter *seccomp.Filter
	if !o.Privileged {
		if filter, err = seccompFilter(sp, p.SeccompProfile); err != nil {
			return execproc.Config{}, err
		}
	}
	// The same digest as the container's start: capabilities and limits
	// by number, the filter in its wire form.
	d, err := runtime.ProcessConfig(sp, filter)
	if err != nil {
		return execproc.Config{}, err
	}
	c.Caps, c.Rlimits, c.Seccomp = d.Caps, d.Rlimits, d.Seccomp
	return c, nil
}

// seccompFilter compiles the container's seccomp policy as recorded by
// Generate (see applySeccomp): the default profile, the container's own
// JSON profile (embedded in its record at create), or none.
func seccompFilter(sp *specs.Spec, custom []byte) (*seccomp.Filter, error) {
	pol, err := spec.SeccompOf(sp)
	if err != nil {
		return nil, err
	}
	var profile *seccomp.Profile
	switch pol.Mode {
	case spec.SeccompUnconfined:
		return nil, nil
	case spec.SeccompCustom:
		if profile, err = seccomp.LoadProfileJSON(custom); err != nil {
			return nil, errdefs.InvalidArgument("--security-opt seccomp=%s: %v", pol.Profile, err)
		}
	default:
		profile = seccomp.DefaultProfile()
	}
	var bounding []string
	if sp.Process.Capabilities != nil {
		bounding = sp.Process.Capabilities.Bounding
	}
	f, err := seccomp.Compile(profile, bounding, "")
	if err != nil {
		return nil, errdefs.InvalidArgument("seccomp profile: %v", err)
	}
	return f, nil
}

func hasEnv(env []string, key string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
}
