package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// RmiOptions are the options of `cove rmi`.
type RmiOptions struct {
	IO    *IOStreams
	Names []string
	Force bool
}

func newRmiCmd(f *Factory, use string, runF func(*RmiOptions) error) *cobra.Command {
	opts := &RmiOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			return rmiRun(f, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "remove images in use by containers (the containers too) and images with several names")
	return cmd
}

func rmiRun(f *Factory, opts *RmiOptions) error {
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	results, err := e.RemoveImages(opts.Names, opts.Force)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
			continue
		}
		for _, u := range r.Untagged {
			fmt.Fprintf(opts.IO.Out, "Untagged: %s\n", familiarName(u))
		}
		for _, d := range r.Deleted {
			fmt.Fprintf(opts.IO.Out, "Deleted: %s\n", d)
		}
	}
	return joinErrors(opts.IO, errs)
}
