package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// newObjectInspectCmd is `KIND inspect` for the kinds whose records need
// no image store (networks, volumes): get finds one by the name given.
func newObjectInspectCmd(f *Factory, kind, short string, get func(e *engine.Engine, ref string) (any, error)) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] " + kind + " [" + kind + "...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return inspectEach(f.IO, format, args, func(ref string) (any, error) { return get(e, ref) })
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output with a Go template, or 'json'")
	return cmd
}

// newObjectExistsCmd is Podman's `KIND exists` for the same kinds: exit 0
// if the object exists, 1 if not, 125 for a bad name.
func newObjectExistsCmd(f *Factory, kind, short, argDesc string, exists func(e *engine.Engine, ref string) (bool, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "exists " + kind,
		Short: short,
		Args:  exactArgs(1, argDesc),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			ok, err := exists(e, args[0])
			if err != nil {
				return err
			}
			if !ok {
				return &errdefs.ExitError{Code: 1}
			}
			return nil
		},
	}
}

// writeList writes an ls command's items in format: with --format json
// each item as it is (its inspect fields), otherwise as row renders it
// for templates and tables (Docker's ls fields).
func writeList[T any](io *IOStreams, format string, headers map[string]string, items []T, row func(T) any) error {
	fm, err := newFormatter(io.Out, format, headers)
	if err != nil {
		return err
	}
	for _, it := range items {
		var r any = it
		if !fm.json {
			r = row(it)
		}
		if err := fm.write(r); err != nil {
			return err
		}
	}
	return fm.flush()
}

// removeEach removes the objects refs name as an rm command does: each
// one removed (remove reports whether it was there) is printed as given,
// and the errors of the others follow.
func removeEach(io *IOStreams, refs []string, remove func(ref string) (bool, error)) error {
	var errs []error
	for _, ref := range refs {
		removed, err := remove(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if removed {
			fmt.Fprintln(io.Out, ref)
		}
	}
	return joinErrors(io, errs)
}
