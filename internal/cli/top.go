package cli

import (
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newTopCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Long: `Display the processes of a running container, read from /proc. Without
options the columns are Docker's (ps -ef: UID PID PPID C STIME TTY TIME CMD);
"aux" gives ps's BSD columns; "-o LIST" chooses columns; bare descriptors
(Podman's: pid ppid user args comm pcpu etime time tty state nice vsz rss
pgid group hpid huser hgroup ruser rgroup stime capeff capprm capinh capbnd
capamb seccomp label) do too. PID and PPID are host
PIDs with ps options, as Docker shows them, and the container's with bare
descriptors, as Podman does (hpid is the host's). User and group names are
the container's.`,
		Args: cobra.MinimumNArgs(1),
		// Reading a container's /proc entries takes the owner of its user
		// namespace: top runs on the host (see internal/userns).
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			res, err := e.TopContainer(args[0], args[1:])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(f.IO.Out, 20, 1, 3, ' ', 0)
			w.Write([]byte(strings.Join(res.Titles, "\t") + "\n"))
			for _, p := range res.Processes {
				w.Write([]byte(strings.Join(p, "\t") + "\n"))
			}
			return w.Flush()
		},
	}
	// Everything after the container belongs to ps.
	cmd.Flags().SetInterspersed(false)
	return cmd
}
