// Package userns puts a rootless invocation of cove into a user namespace
// in which the invoking user is root and their subordinate ID ranges are
// mapped, so that image layers with many owners can be stored and
// containers can run without any privilege on the host.
//
// The entry is a pure-Go re-exec in three stages, with no cgo and no helper
// process left behind:
//
//	stage 0 (host, uid U)      clone(CLONE_NEWUSER|CLONE_NEWNS) of ourselves,
//	                           then newuidmap/newgidmap on the child's PID
//	stage 1 (in the new ns)    waits until the maps are written, then
//	                           re-executes itself: the first execve happened
//	                           while its uid was still unmapped, which
//	                           dropped every capability; an execve as the
//	                           now-mapped uid 0 grants the full set again
//	stage 2 (in the new ns)    the ordinary CLI, as root of the namespace
//
// Without subordinate ranges, or without the setuid newuidmap/newgidmap
// helpers, the kernel lets an unprivileged process map only its own IDs:
// the child then gets the single mapping "0 U 1" written by the Go runtime
// before its first execve, needs no stage 1, and cove warns once.
package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/pkg/idmap"
)

// Environment markers passed to the re-executed process.
const (
	envStage = "_COVE_USERNS_STAGE"
	// envSingle tells stage 2 that only one ID is mapped, so storage must
	// ignore chown errors for files owned by other IDs.
	envSingle = "_COVE_USERNS_SINGLE"
	// go.podman.io/storage and image decide "rootless" and the per-user
	// paths from these; without them they would take the namespace's uid 0
	// for real root.
	envConfigured  = "_CONTAINERS_USERNS_CONFIGURED"
	envRootlessUID = "_CONTAINERS_ROOTLESS_UID"
	envRootlessGID = "_CONTAINERS_ROOTLESS_GID"

	// syncFD is the pipe stage 1 reads until the maps are written.
	syncFD = 3
)

// Plan says how the namespace will be built for the invoking user.
type Plan struct {
	UID, GID  int
	User      string
	SubUIDs   []idmap.Range
	SubGIDs   []idmap.Range
	NewUIDMap string
	NewGIDMap string
	SingleID  bool
	// Warning explains why SingleID was chosen and how to fix the host;
	// empty when the full mapping is used.
	Warning string
}

// Files read for subordinate ranges; variables so tests can point elsewhere.
var (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// InNamespace reports whether this process is cove's stage 2.
func InNamespace() bool { return os.Getenv(envStage) == "2" }

// Environment that makes the C constructor enter a namespace other than a
// fresh one of its own (cgo builds only).
const (
	// EnvJoinFD is the number of an inherited descriptor of a running
	// container's user namespace, to join instead of creating one.
	EnvJoinFD = "_COVE_USERNS_JOIN_FD"
	// EnvForce makes a host command (cp, commit) that re-executes itself
	// enter a namespace of its own after all.
	EnvForce = "_COVE_USERNS_FORCE"
)

// joinedContainer is set when the constructor joined a container's user
// namespace (EnvJoinFD).
var joinedContainer bool

// JoinedContainer reports whether this process is in a running
// container's user namespace rather than one of cove's own.
func JoinedContainer() bool { return joinedContainer }

// SingleID reports whether the namespace this process runs in maps only the
// invoking user's own IDs.
func SingleID() bool { return os.Getenv(envSingle) == "1" }

// Needed reports whether this invocation must enter a user namespace before
// touching storage: it is unprivileged and not inside one of ours yet.
func Needed() bool { return os.Geteuid() != 0 && !InNamespace() && !goFallbackDisabled() }

// NewPlan looks up the invoking user's ranges and the mapping helpers.
func NewPlan() Plan {
	return newPlan(os.Getuid(), os.Getgid())
}

func newPlan(uid, gid int) Plan {
	p := Plan{UID: uid, GID: gid}
	p.User = strconv.Itoa(p.UID)
	if u, err := user.LookupId(p.User); err == nil {
		p.User = u.Username
	}
	p.SubUIDs, _ = idmap.ReadSubIDs(SubUIDFile, p.User, p.UID)
	p.SubGIDs, _ = idmap.ReadSubIDs(SubGIDFile, p.User, p.UID)
	p.NewUIDMap, _ = exec.LookPath("newuidmap")
	p.NewGIDMap, _ = exec.LookPath("newgidmap")

	var why []string
	if len(p.SubUIDs) == 0 || len(p.SubGIDs) == 0 {
		why = append(why, fmt.Sprintf("no subordinate ID range for user %q in %s and %s; fix: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s",
			p.User, SubUIDFile, SubGIDFile, p.User))
	}
	if p.NewUIDMap == "" || p.NewGIDMap == "" {
		why = append(why, "newuidmap/newgidmap not found; fix: sudo apt-get install uidmap (Debian/Ubuntu) or sudo dnf install shadow-utils (Fedora)")
	}
	if len(why) > 0 {
		p.SingleID = true
		p.Warning = "using a single-ID user namespace (images with files owned by other users lose that ownership, and containers cannot switch users): " + strings.Join(why, "; ")
	}
	return p
}

// Reexec runs this same command line again inside a new user and mount
// namespace and returns its exit code. warn is called at most once, before
// the child starts, with a message for the user.
func Reexec(p Plan, warn func(string)) (int, error) {
	if p.Warning != "" {
		warn(p.Warning)
	}
	code, err := reexec(p)
	if err != nil && !p.SingleID {
		// The helpers exist but refused (a range they do not accept, a
		// nosuid mount, ...): fall back rather than leave the user stuck.
		p.SingleID = true
		warn(fmt.Sprintf("setting up the subordinate ID mapping failed (%v); using a single-ID user namespace instead", err))
		return reexec(p)
	}
	return code, err
}

func reexec(p Plan) (int, error) {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	env := append(os.Environ(),
		envConfigured+"=done",
		envRootlessUID+"="+strconv.Itoa(p.UID),
		envRootlessGID+"="+strconv.Itoa(p.GID),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		// If we are killed the namespace must not linger with a half-done
		// command in it.
		Pdeathsig: syscall.SIGKILL,
	}

	var syncW *os.File
	if p.SingleID {
		// The Go runtime writes these maps between clone and execve, so the
		// child execs as uid 0 with full capabilities: no stage 1 needed.
		// setgroups must be denied before an unprivileged gid_map write.
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: p.UID, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: p.GID, Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		env = append(env, envStage+"=2", envSingle+"=1")
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		defer r.Close()
		syncW = w
		cmd.ExtraFiles = []*os.File{r}
		env = append(env, envStage+"=1")
	}
	cmd.Env = env

	// Relay signals sent to us (kill, systemctl stop) to the child, which
	// relays them to its container. Terminal-generated SIGINT/SIGQUIT
	// already reach the child, which shares our process group; relaying
	// those too would deliver them twice.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)

	if err := cmd.Start(); err != nil {
		if syncW != nil {
			syncW.Close()
		}
		return 0, fmt.Errorf("creating a user namespace: %w%s", err, usernsHint(err))
	}
	if !p.SingleID {
		err := writeMaps(p, cmd.Process.Pid)
		syncW.Close()
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 0, err
		}
	}
	ttyIn := isTerminal(0)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				sig := s.(syscall.Signal)
				if sig == syscall.SIGCHLD || sig == syscall.SIGURG || sig == syscall.SIGPIPE {
					continue
				}
				if ttyIn && (sig == syscall.SIGINT || sig == syscall.SIGQUIT || sig == syscall.SIGWINCH) {
					continue
				}
				cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// writeMaps runs the setuid helpers, which check /etc/subuid and /etc/subgid
// themselves; the kernel would refuse these multi-range maps from us.
func writeMaps(p Plan, pid int) error {
	for _, m := range []struct {
		helper string
		id     int
		ranges []idmap.Range
	}{{p.NewUIDMap, p.UID, p.SubUIDs}, {p.NewGIDMap, p.GID, p.SubGIDs}} {
		args := []string{strconv.Itoa(pid), "0", strconv.Itoa(m.id), "1"}
		next := 1
		for _, r := range m.ranges {
			args = append(args, strconv.Itoa(next), strconv.Itoa(r.Start), strconv.Itoa(r.Length))
			next += r.Length
		}
		out, err := exec.Command(m.helper, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v: %s", m.helper, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func usernsHint(err error) string {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EINVAL) {
		return " (unprivileged user namespaces may be disabled; check: sysctl user.max_user_namespaces kernel.unprivileged_userns_clone; fix: sudo sysctl -w user.max_user_namespaces=28633)"
	}
	return ""
}

// ContinueStage must be called first thing in main. In stage 1 it waits for
// the ID maps and re-executes as stage 2 (it does not return). In stage 2 it
// makes the mount namespace private, so that nothing we mount propagates
// back to the host's namespace. Otherwise it does nothing.
func ContinueStage() error {
	switch os.Getenv(envStage) {
	case "1":
		sync := os.NewFile(syncFD, "userns-sync")
		var b [1]byte
		// Blocks until stage 0 closes its end: the maps are written (or the
		// parent died, in which case Pdeathsig has already killed us).
		sync.Read(b[:])
		sync.Close()
		os.Setenv(envStage, "2")
		err := syscall.Exec("/proc/self/exe", os.Args, os.Environ())
		return fmt.Errorf("re-executing inside the user namespace: %w", err)
	case "2":
		if os.Geteuid() != 0 {
			return errors.New("inside the user namespace but not uid 0: the ID mapping was not written")
		}
		if joinedContainer {
			// Still in the host's mount namespace, where we may not
			// change anything, and mount nothing.
			return nil
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("making the mount namespace private: %w", err)
		}
	}
	return nil
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// PlanFor builds the plan for a given host user; used from inside the
// namespace, where the process's own IDs are 0.
func PlanFor(uid, gid int) Plan {
	return newPlan(uid, gid)
}
