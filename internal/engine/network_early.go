package engine

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync/atomic"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/network"
	"github.com/cove-run/cove/internal/runtime"
)

// EarlyNetwork is a foreground container's network, started before the
// container exists. pasta needs about 30 ms to configure a namespace (most
// of it its own start: it initialises large tables), which made it the
// longest step of `run --rm`; the network namespace is made first, on a
// thread of its own, so that pasta starts while the image is resolved, the
// container recorded and its root filesystem mounted, and the container's
// init joins that namespace instead of creating one (runtime.Options.NetNS).
// Only for containers without published ports, whose helper needs nothing
// of the container (ports need the record: -P reads the image).
type EarlyNetwork struct {
	helper string
	ns     *os.File
	done   chan struct{}
	h      *network.Helper
	err    error
	used   atomic.Bool
	// recorded: a container's start made the helper its own.
	recorded atomic.Bool
}

var earlyLogSeq atomic.Int64

// StartNetworkEarly starts the network of a container about to be created
// from o, or returns nil when it cannot be done ahead (published ports, a
// network without a helper, any failure: the ordinary start then does it).
// The caller gives it to StartContainer through StartIO, and must Stop it
// (a no-op once the container took it) when the container does not start.
func (e *Engine) StartNetworkEarly(o *ContainerOptions) *EarlyNetwork {
	if len(o.Publish) > 0 || o.PublishAll || o.Userns != "" && o.Userns != "host" || len(o.UIDMap) > 0 || len(o.GIDMap) > 0 {
		return nil
	}
	var p parsedOptions
	if err := parseNetwork(o, &p); err != nil {
		return nil
	}
	helper, err := e.helperFor(&p, false)
	if err != nil || helper == "" {
		return nil
	}
	if err := os.MkdirAll(e.Config.RunRoot, 0o700); err != nil {
		return nil
	}
	ns, err := newNetNS()
	if err != nil {
		return nil
	}
	en := &EarlyNetwork{helper: helper, ns: ns, done: make(chan struct{})}
	logPath := filepath.Join(e.Config.RunRoot, "network-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(earlyLogSeq.Add(1), 10)+".log")
	// An unlocked goroutine: the helper's parent-death signal follows the
	// thread that forked it, and Go keeps such threads (only locked ones
	// end with their goroutine).
	go func() {
		defer close(en.done)
		en.h, en.err = network.Start(network.StartOptions{Helper: helper, NetNS: ns, Dir: e.Config.RunRoot, LogPath: logPath, CacheDir: e.Config.RunRoot})
		// The helper holds its own descriptor of the log.
		os.Remove(logPath)
	}()
	return en
}

// newNetNS makes a network namespace and returns a descriptor of it. A
// thread unshares it and is then discarded: it cannot go back (setns to
// the host's namespace needs privilege there), and a locked goroutine that
// ends takes its thread with it. Not the main thread: Go never discards
// that one, and /proc/self/net, which libraries read, follows it.
func newNetNS() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	var unshareOn func()
	unshareOn = func() {
		goruntime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread: keep it (locked, so the next goroutine
			// cannot land on it) until another thread has done the work.
			go unshareOn()
			r := <-ch
			ch <- r
			goruntime.UnlockOSThread()
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("creating a network namespace: %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		ch <- result{f, err}
		// Return locked: the thread ends with this goroutine.
	}
	go unshareOn()
	r := <-ch
	return r.f, r.err
}

// Stop stops the helper unless a container's start made it its own.
func (en *EarlyNetwork) Stop() {
	if en == nil || en.recorded.Load() {
		return
	}
	<-en.done
	if en.h != nil {
		en.h.Kill()
	}
	en.ns.Close()
}

// ownUserNamespace says whether the container gets a user namespace of
// its own (--userns=keep-id, --uidmap): its init, root only there, could
// not join a network namespace of cove's (setns needs CAP_SYS_ADMIN in the
// namespace's owner), and the ordinary start creates one it owns.
func ownUserNamespace(opts *runtime.Options) bool {
	if opts.Spec == nil || opts.Spec.Linux == nil {
		return false
	}
	for _, n := range opts.Spec.Linux.Namespaces {
		if n.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}

// take hands the early network to a container's start (helper is the one
// its record asks for), or says it does not fit.
func (en *EarlyNetwork) take(helper string, n *networkStarter, opts *runtime.Options) bool {
	if en == nil || n == nil || helper != en.helper || len(n.ports) > 0 || ownUserNamespace(opts) || !en.used.CompareAndSwap(false, true) {
		return false
	}
	opts.NetNS = en.ns
	opts.BeforeSetup = func(pid int) error {
		<-en.done
		if en.err != nil {
			// The init is in the namespace made ahead: connect it the
			// ordinary way, which says what went wrong if it fails too.
			return n.connect(pid)
		}
		if err := n.record(en.h); err != nil {
			return err
		}
		en.recorded.Store(true)
		return nil
	}
	return true
}
