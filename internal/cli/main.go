// Package cli is cove's command-line interface: the cobra tree, one file per
// verb (XxxOptions, newXxxCmd, xxxRun). It is the only package that prints
// to the terminal and the only one that maps errors to exit codes.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/errdefs"
)

// IOStreams are the process's standard streams; tests substitute buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// reexecDone carries the exit code of the same command re-run inside the
// user namespace: the parent has nothing left to do but exit with it.
type reexecDone struct{ code int }

func (r *reexecDone) Error() string { return fmt.Sprintf("re-executed, exit %d", r.code) }

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	io := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	f := newFactory(io)
	// No f.close() on the way out: shutting storage down takes its lock,
	// rereads its layer list and unmounts its home, about a millisecond,
	// and the process is exiting anyway: the kernel drops the locks, and
	// the mounts live in this process's own mount namespace.
	root := newRootCmdFor(f, args)
	root.SetArgs(args)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.Execute()
	return f.exitCode(err)
}

func (f *Factory) exitCode(err error) int {
	if err == nil {
		return 0
	}
	var rd *reexecDone
	if errors.As(err, &rd) {
		return rd.code
	}
	var ee *errdefs.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(f.IO.ErrOut, "Error: %s\n", ee.Err)
		}
		return ee.Code
	}
	msg := err.Error()
	fmt.Fprintf(f.IO.ErrOut, "Error: %s\n", msg)
	if isUsageError(msg) {
		fmt.Fprintf(f.IO.ErrOut, "See '%s --help'.\n", f.commandPath)
	}
	return errdefs.ExitCode(err)
}

// isUsageError recognises cobra's argument and flag errors, which it
// returns as plain strings.
func isUsageError(msg string) bool {
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "flag needs an argument", "accepts ", "requires at least", "requires at most", "requires exactly"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	// pflag's parse error for a flag value: invalid argument "x" for "--n" flag.
	return strings.Contains(msg, `invalid argument "`) && strings.Contains(msg, `" flag`)
}

func (f *Factory) warn(msg string) {
	fmt.Fprintf(f.IO.ErrOut, "cove: warning: %s\n", msg)
}

func setLogLevel(level string) error {
	if level == "warning" {
		level = "warn"
	}
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return errdefs.InvalidArgument("--log-level %q: use debug, info, warn or error", level)
	}
	logrus.SetLevel(lvl)
	return nil
}

// NewRootCmdForDocs returns the command tree for generating man pages.
func NewRootCmdForDocs() *cobra.Command {
	return newRootCmd(newFactory(&IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
