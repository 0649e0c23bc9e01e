package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/pkg/idmap"
)

// InfoOptions are the options of `cove info`.
type InfoOptions struct {
	IO     *IOStreams
	Format string
}

func newInfoCmd(f *Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show how cove sees this host: user namespace, storage, cgroups, network helpers",
		Long: `Show how cove sees this host. info never fails because something is
missing: it lists each problem with the command that fixes it.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annUserns: "optional"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return infoRun(f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "format the output with a Go template, or 'json'")
	return cmd
}

func infoRun(f *Factory, opts *InfoOptions) error {
	e, err := f.Engine()
	if err != nil {
		return err
	}
	in := e.Info(f.reexecErr)
	if opts.Format != "" {
		fm, err := newFormatter(opts.IO.Out, opts.Format, nil)
		if err != nil {
			return err
		}
		return fm.write(in)
	}
	w := opts.IO.Out
	h, s := in.Host, in.Store
	fmt.Fprintf(w, "Version: %s (commit %s, %s)\n", in.Version.Version, in.Version.Commit, in.Version.GoVersion)
	fmt.Fprintf(w, "Host:\n  Kernel: %s\n  Hostname: %s\n", h.Kernel, h.Hostname)
	fmt.Fprintf(w, "  Rootless: %t\n  User: uid %d, gid %d\n", h.Rootless, h.UID, h.GID)
	if h.Rootless {
		mode := "subordinate ranges"
		if h.SingleIDMapping {
			mode = "single ID"
		}
		if !h.InUserNamespace {
			mode = "not entered"
		}
		fmt.Fprintf(w, "  User namespace: %s\n", mode)
		fmt.Fprintf(w, "  Subordinate UIDs: %s\n  Subordinate GIDs: %s\n", ranges(h.SubUIDs), ranges(h.SubGIDs))
		fmt.Fprintf(w, "  newuidmap: %s\n  newgidmap: %s\n", orMissing(h.NewUIDMap), orMissing(h.NewGIDMap))
	}
	writeMap(w, "UID map", h.UIDMap)
	writeMap(w, "GID map", h.GIDMap)
	cg := h.Cgroups
	fmt.Fprintf(w, "  Cgroups: %s", cg.Version)
	if len(cg.Controllers) > 0 {
		fmt.Fprintf(w, " (controllers: %s; delegated: %t)", strings.Join(cg.Controllers, " "), cg.Delegated)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  Network backends:")
	for _, b := range h.Network {
		if b.Found {
			fmt.Fprintf(w, "    %s: %s (%s)\n", b.Name, b.Path, b.Version)
		} else {
			fmt.Fprintf(w, "    %s: missing\n", b.Name)
		}
	}
	fmt.Fprintf(w, "Store:\n  Config file: %s\n  State root: %s\n  Graph root: %s\n  Run root: %s\n", s.ConfigFile, s.StateRoot, s.GraphRoot, s.RunRoot)
	if s.RunRootFallback != "" {
		fmt.Fprintf(w, "  Run root fallback: %s\n", s.RunRootFallback)
	}
	d := s.Driver
	fmt.Fprintf(w, "  Driver: %s\n  Native overlay: %t\n", d.Driver, d.NativeOverlay)
	if d.MountProgram != "" {
		fmt.Fprintf(w, "  Mount program: %s\n", d.MountProgram)
	}
	fmt.Fprintf(w, "  Driver reason: %s\n", d.Reason)
	for _, kv := range s.DriverStatus {
		fmt.Fprintf(w, "  %s: %s\n", kv[0], kv[1])
	}
	if s.Error == "" {
		fmt.Fprintf(w, "  Images: %d\n  Containers: %d\n", s.Images, s.Containers)
	}
	if len(in.Problems) > 0 {
		fmt.Fprintln(w, "Problems:")
		for _, p := range in.Problems {
			fmt.Fprintf(w, "  - %s\n", p.What)
			if p.Fix != "" {
				fmt.Fprintf(w, "    fix: %s\n", p.Fix)
			}
		}
	}
	return nil
}

func writeMap(w io.Writer, title string, m []idmap.Mapping) {
	fmt.Fprintf(w, "  %s:\n", title)
	for _, l := range m {
		fmt.Fprintf(w, "    %d %d %d\n", l.Inner, l.Outer, l.Length)
	}
}

func ranges(rs []idmap.Range) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d", r.Start, r.Start+r.Length-1)
	}
	return strings.Join(parts, ", ")
}

func orMissing(p string) string {
	if p == "" {
		return "missing (sudo apt-get install uidmap)"
	}
	return p
}
