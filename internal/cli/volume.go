package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/volume"
)

// newVolumeCmd is `cove volume` with Docker's subcommands, plus Podman's
// exists.
func newVolumeCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newVolumeCreateCmd(f), newVolumeLsCmd(f), newVolumeInspectCmd(f), newVolumeRmCmd(f), newVolumePruneCmd(f), newVolumeExistsCmd(f))
	return cmd
}

func newVolumeCreateCmd(f *Factory) *cobra.Command {
	var labels, opts []string
	var driver string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume (an existing name is not an error)",
		Long: `Create a volume and print its name. Without a name, a random one is
chosen. --opt takes the local driver's options: type=tmpfs (with o=size=64m,
mode=1777, ...) gives every container that mounts the volume a fresh tmpfs;
type=bind (or type=none with o=bind) and device=/host/dir bind a host
directory.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return errdefs.InvalidArgument("--driver %q: only the local driver exists", driver)
			}
			o := engine.VolumeCreateOptions{Labels: labels, Opts: opts}
			if len(args) == 1 {
				o.Name = args[0]
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			v, err := e.CreateVolume(o)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IO.Out, v.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	fl.StringArrayVarP(&opts, "opt", "o", nil, "driver option: type=tmpfs|bind|none, device=PATH, o=OPTIONS")
	fl.StringVarP(&driver, "driver", "d", "local", "volume driver (local only)")
	return cmd
}

// volumeRow is what `volume ls --format` templates see: Docker's fields.
type volumeRow struct {
	Name       string
	Driver     string
	Scope      string
	Mountpoint string
	Labels     string
	CreatedAt  string
}

func newVolumeLsCmd(f *Factory) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			vols, err := e.ListVolumes(filters)
			if err != nil {
				return err
			}
			switch {
			case quiet:
				format = "{{.Name}}"
			case format == "":
				format = "table {{.Driver}}\t{{.Name}}"
			}
			headers := map[string]string{
				"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
				"Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "CreatedAt": "CREATED",
			}
			return writeList(f.IO, format, headers, vols, volumeRowOf)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "only print volume names")
	fl.StringVar(&format, "format", "", "format the output: 'json', a Go template, or 'table TEMPLATE'")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter: name=, label=KEY[=VALUE], label!=, dangling=true|false, driver=")
	return cmd
}

// volumeRowOf is what `volume ls --format` templates see of a volume.
func volumeRowOf(v *volume.Volume) any {
	return volumeRow{Name: v.Name, Driver: v.Driver, Scope: v.Scope, Mountpoint: v.Mountpoint, Labels: joinLabels(v.Labels), CreatedAt: v.CreatedAt.Format("2006-01-02T15:04:05Z07:00")}
}

func newVolumeInspectCmd(f *Factory) *cobra.Command {
	return newObjectInspectCmd(f, "VOLUME", "Show volumes in Docker's format", func(e *engine.Engine, ref string) (any, error) { return e.InspectVolume(ref) })
}

func newVolumeRmCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes that no container uses",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return removeEach(f.IO, args, func(ref string) (bool, error) { return true, e.RemoveVolume(ref, force) })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "ignore volumes that do not exist (a volume in use is never removed)")
	return cmd
}

func newVolumePruneCmd(f *Factory) *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove anonymous volumes no container uses (with -a, every unused volume)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "all anonymous local volumes not used by at least one container"
			if all {
				what = "all local volumes not used by at least one container"
			}
			if !force && !confirm(f.IO, "WARNING! This will remove "+what+".\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			names, reclaimed, err := e.PruneVolumes(all, filters)
			printPruned(f.IO.Out, "Deleted Volumes:", names, reclaimed, err)
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	fl.BoolVarP(&all, "all", "a", false, "remove named volumes too")
	fl.StringArrayVar(&filters, "filter", nil, "filter: label=KEY[=VALUE], label!=")
	return cmd
}

func newVolumeExistsCmd(f *Factory) *cobra.Command {
	return newObjectExistsCmd(f, "VOLUME", "Exit 0 if the volume exists, 1 if not", "a volume", (*engine.Engine).VolumeExists)
}

// joinLabels renders labels as Docker's ls does: k=v,k2=v2, sorted.
func joinLabels(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// inspectEach prints the objects get finds for names as inspect does, then
// the errors of those it does not.
func inspectEach(io *IOStreams, format string, names []string, get func(string) (any, error)) error {
	var objs []any
	var errs []error
	for _, n := range names {
		v, err := get(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, v)
	}
	if err := writeInspect(io, format, objs); err != nil {
		return err
	}
	return joinErrors(io, errs)
}
