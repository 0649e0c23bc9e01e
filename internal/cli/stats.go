package cli

import (
	"fmt"
	"os"
	"os/signal"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// StatsOptions are the options of `cove stats`.
type StatsOptions struct {
	All, NoStream, NoTrunc bool
	Format                 string
	Containers             []string
}

// statsRow has Docker's field names for --format.
type statsRow struct {
	Container, ID, Name string
	CPUPerc, MemUsage   string
	MemPerc, NetIO      string
	BlockIO, PIDs       string
}

var statsHeaders = map[string]string{
	"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

func newStatsCmd(f *Factory) *cobra.Command {
	opts := &StatsOptions{}
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display containers' resource usage",
		Long: `Display the CPU, memory, network, block I/O and process figures of containers
(default: the running ones), from each container's cgroup. Rootless, a
container has a cgroup of its own only with cgroup v2 and delegated
controllers; elsewhere stats says what is missing and how to fix it.`,
		// Reading another user namespace's /proc entries (network
		// figures) takes its owner: stats runs on the host.
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			return statsRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.All, "all", "a", false, "show all containers (default shows just running)")
	fl.BoolVar(&opts.NoStream, "no-stream", false, "print the figures once and exit")
	fl.BoolVar(&opts.NoTrunc, "no-trunc", false, "don't truncate output")
	fl.StringVar(&opts.Format, "format", "", "format output with a Go template, 'table TEMPLATE' or 'json'")
	return cmd
}

func statsRun(f *Factory, opts *StatsOptions) error {
	e, err := f.Engine()
	if err != nil {
		return err
	}
	names := opts.Containers
	if len(names) == 0 {
		list, err := e.ListContainers(opts.All)
		if err != nil {
			return err
		}
		for _, c := range list {
			names = append(names, c.ID)
		}
	}
	format := opts.Format
	if format == "" || format == "table" {
		format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
	}
	fm, err := newFormatter(f.IO.Out, format, statsHeaders)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		// Docker prints the header alone.
		return fm.flush()
	}
	// Unknown names first: they are the user's mistake, whatever the host.
	sample := func() ([]*engine.StatsSample, error) {
		out := make([]*engine.StatsSample, len(names))
		for i, n := range names {
			s, err := e.SampleStats(n)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	for _, n := range names {
		if ok, err := e.ContainerExists(n); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("no such container: %s: %w", n, errdefs.ErrNotFound)
			}
			return err
		}
	}
	if err := engine.StatsAvailable(); err != nil {
		return err
	}
	prev, err := sample()
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	for {
		select {
		case <-sigs:
			return nil
		case <-time.After(500 * time.Millisecond):
		}
		cur, err := sample()
		if err != nil {
			return err
		}
		fm, _ = newFormatter(f.IO.Out, format, statsHeaders)
		if !opts.NoStream && isTerminalWriter(f.IO.Out) {
			fmt.Fprint(f.IO.Out, "\033[2J\033[H")
		}
		for i, s := range cur {
			st := engine.Stats(prev[i], s)
			row := statsRow{
				Container: names[i], ID: truncID(st.ID, opts.NoTrunc), Name: st.Name,
				CPUPerc:  fmt.Sprintf("%.2f%%", st.CPUPerc),
				MemUsage: units.BytesSize(float64(st.MemUsage)) + " / " + units.BytesSize(float64(st.MemLimit)),
				MemPerc:  fmt.Sprintf("%.2f%%", st.MemPerc),
				NetIO:    humanBytes(int64(st.NetRx)) + " / " + humanBytes(int64(st.NetTx)),
				BlockIO:  humanBytes(int64(st.BlockRead)) + " / " + humanBytes(int64(st.BlockWrite)),
				PIDs:     fmt.Sprint(st.PIDs),
			}
			if err := fm.write(row); err != nil {
				return err
			}
		}
		if err := fm.flush(); err != nil {
			return err
		}
		if opts.NoStream {
			return nil
		}
		prev = cur
	}
}
