// Command cove is a rootless, daemonless container tool with Docker's
// command line. The same binary plays every role (CLI, container init,
// monitor); main dispatches roles before the CLI parses anything.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/cli"
	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/monitor"
	"github.com/cove-run/cove/internal/netd"
	_ "github.com/cove-run/cove/internal/nsenter" // the C constructor that joins containers (cove exec)
	"github.com/cove-run/cove/internal/reexec"
	"github.com/cove-run/cove/internal/runtime/execproc"
	"github.com/cove-run/cove/internal/runtime/initproc"
	"github.com/cove-run/cove/internal/storage"
	"github.com/cove-run/cove/internal/userns"
)

func main() {
	// The C constructor may already have moved us into cove's user
	// namespace; tell the Go side before anything reads the environment.
	userns.AdoptConstructorState()
	reexec.Register(initproc.Role, initproc.Main)
	reexec.Register(execproc.Role, execproc.Main)
	// Detached containers: the launcher (Go) alternates with the monitor
	// (package monitor's C constructor, which runs before main when
	// argv[0] is its role and never gets here).
	reexec.Register(engine.LaunchRole, engine.LaunchMain)
	// A healthcheck probe, started by the monitor when one is due.
	reexec.Register(engine.HealthRole, engine.HealthMain)
	// The keeper of the shared network namespace of user networks.
	reexec.Register(netd.Role, netd.Main)
	engine.MonitorAvailable = monitor.Available
	if reexec.Run() {
		return
	}
	// go.podman.io/storage extracts layers in a re-executed helper.
	if storage.RunReexecRole() {
		return
	}
	// Stage 1 of the user-namespace entry re-executes and never returns.
	if err := userns.ContinueStage(); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(errdefs.ExitCove)
	}
	// Descriptors the caller left open without close-on-exec (a shell's
	// `5>&1`, bats's fd 3, make's jobserver) would otherwise reach every
	// helper cove starts with exec (the network helper, cove-netd, the
	// launcher), which outlive the command and keep a caller's pipe open:
	// `$(cove run -d ...)` then waited for the container. cove passes what
	// its children need explicitly (ExtraFiles), so nothing is lost.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	// A CLI command lives for milliseconds and allocates a few MB, mostly
	// parsing JSON: the default GC target (100%) runs a collection in the
	// middle of every `run`, a quarter of the CPU for ~15 ms on a 2-core
	// machine. Let the heap grow further before collecting; GOGC still
	// overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	code := cli.Main(os.Args[1:])
	// Hand the exit code to the constructor's parent, which the caller
	// waits for, now rather than through our exit: tearing a Go process
	// down (its threads, its mappings) takes another 1-1.5 ms before the
	// parent's wait returns, and the kernel closes our descriptors only at
	// the end of it. So the streams go first (a shell's $(...) reads until
	// they close), then the code; nothing but the exit runs after.
	if userns.CanDetach() {
		os.Stdout.Close()
		os.Stderr.Close()
		userns.Detach(code)
	}
	os.Exit(code)
}
