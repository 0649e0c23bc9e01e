package cli

import (
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
