package cli

import "github.com/spf13/cobra"

// addOpsCmds adds the commands that work on a container's files and
// processes (cp, diff, export, commit, top, stats) to the root and to the
// `container` group, under the same names as Docker's.
func addOpsCmds(f *Factory, root *cobra.Command) {
	mk := func() []*cobra.Command {
		return []*cobra.Command{newCpCmd(f, nil), newDiffCmd(f), newExportCmd(f), newCommitCmd(f), newTopCmd(f), newStatsCmd(f)}
	}
	root.AddCommand(mk()...)
	for _, c := range root.Commands() {
		if c.Name() == "container" {
			c.AddCommand(mk()...)
		}
	}
}
