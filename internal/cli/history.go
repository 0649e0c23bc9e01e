package cli

import (
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// HistoryOptions are the options of `cove history`.
type HistoryOptions struct {
	IO      *IOStreams
	Name    string
	Human   bool
	NoTrunc bool
	Quiet   bool
	Format  string
}

func newHistoryCmd(f *Factory, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1, "an image"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return historyRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Human, "human", "H", true, "print sizes and dates in human-readable form")
	fl.BoolVar(&opts.NoTrunc, "no-trunc", false, "don't truncate output")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "only show image IDs")
	fl.StringVar(&opts.Format, "format", "", "format output with a Go template, 'table TEMPLATE' or 'json'")
	return cmd
}

type historyRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

var historyHeaders = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

func historyRun(f *Factory, opts *HistoryOptions) error {
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	hist, err := e.ImageHistory(opts.Name)
	if err != nil {
		return err
	}
	if opts.Quiet {
		for _, h := range hist {
			fmt.Fprintln(opts.IO.Out, historyID(h.ID, opts.NoTrunc))
		}
		return nil
	}
	format := opts.Format
	if format == "" {
		format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	}
	fm, err := newFormatter(opts.IO.Out, format, historyHeaders)
	if err != nil {
		return err
	}
	for _, h := range hist {
		row := historyRow{ID: historyID(h.ID, opts.NoTrunc), CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !opts.NoTrunc && len(row.CreatedBy) > 45 {
			row.CreatedBy = row.CreatedBy[:44] + "…"
		}
		row.CreatedBy = strings.ReplaceAll(row.CreatedBy, "\t", " ")
		if opts.Human {
			row.CreatedSince = humanSince(h.Created)
			row.Size = units.HumanSizeWithPrecision(float64(h.Size), 3)
		} else {
			row.CreatedSince = h.Created.Format("2006-01-02T15:04:05Z07:00")
			row.Size = fmt.Sprint(h.Size)
		}
		row.CreatedAt = h.Created.Format("2006-01-02T15:04:05Z07:00")
		if err := fm.write(row); err != nil {
			return err
		}
	}
	return fm.flush()
}

func historyID(id string, noTrunc bool) string {
	if id == "<missing>" || noTrunc {
		return id
	}
	return formatID(id, false)
}
