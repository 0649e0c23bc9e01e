package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
)

// ImagesOptions are the options of `cove images`.
type ImagesOptions struct {
	IO      *IOStreams
	All     bool
	Quiet   bool
	Digests bool
	NoTrunc bool
	Filters []string
	Format  string
	Repo    string
}

func newImagesCmd(f *Factory, use string, runF func(*ImagesOptions) error) *cobra.Command {
	opts := &ImagesOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Repo = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return imagesRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.All, "all", "a", false, "show all images (by default intermediate images are hidden)")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "only show image IDs")
	fl.BoolVar(&opts.Digests, "digests", false, "show digests")
	fl.BoolVar(&opts.NoTrunc, "no-trunc", false, "don't truncate output")
	fl.StringArrayVarP(&opts.Filters, "filter", "f", nil, "filter output (dangling=, reference=, label=, before=, since=, until=)")
	fl.StringVar(&opts.Format, "format", "", "format output with a Go template, 'table TEMPLATE' or 'json'")
	return cmd
}

// imageRow is one row of `images`, with Docker's field names for --format.
type imageRow struct {
	Repository   string
	Tag          string
	ID           string
	Digest       string
	CreatedSince string
	CreatedAt    string
	Size         string
	Containers   string
	Labels       map[string]string `json:"-"`
}

var imageHeaders = map[string]string{
	"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
}

func imagesRun(f *Factory, opts *ImagesOptions) error {
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	filters := opts.Filters
	if opts.Repo != "" {
		filters = append(filters, "reference="+opts.Repo)
	}
	sums, err := e.ListImages(opts.All, filters, strings.Contains(opts.Format, "Labels"))
	if err != nil {
		return err
	}
	if opts.Quiet {
		seen := map[string]bool{}
		for _, s := range sums {
			id := formatID(s.ID, opts.NoTrunc)
			if !seen[id] {
				seen[id] = true
				fmt.Fprintln(opts.IO.Out, id)
			}
		}
		return nil
	}
	format := opts.Format
	if format == "" || format == "table" {
		format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		if opts.Digests {
			format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
	}
	fm, err := newFormatter(opts.IO.Out, format, imageHeaders)
	if err != nil {
		return err
	}
	for _, s := range sums {
		for _, row := range imageRows(s, opts.NoTrunc) {
			if err := fm.write(row); err != nil {
				return err
			}
		}
	}
	return fm.flush()
}

func imageRows(s engine.ImageSummary, noTrunc bool) []imageRow {
	base := imageRow{
		ID:           formatID(s.ID, noTrunc),
		Digest:       "<none>",
		CreatedSince: humanSince(s.Created),
		CreatedAt:    s.Created.Format("2006-01-02 15:04:05 -0700 MST"),
		Size:         units.HumanSizeWithPrecision(float64(s.Size), 3),
		Containers:   fmt.Sprint(s.Containers),
		Labels:       s.Labels,
	}
	if s.Digest != "" {
		base.Digest = s.Digest
	}
	if len(s.RepoTags) == 0 {
		r := base
		r.Repository, r.Tag = "<none>", "<none>"
		if len(s.RepoDigests) > 0 {
			repo, _, _ := strings.Cut(s.RepoDigests[0], "@")
			r.Repository = familiarName(repo)
		}
		return []imageRow{r}
	}
	tags := append([]string(nil), s.RepoTags...)
	sort.Strings(tags)
	rows := make([]imageRow, 0, len(tags))
	for _, t := range tags {
		r := base
		i := strings.LastIndex(t, ":")
		r.Repository, r.Tag = familiarName(t[:i]), t[i+1:]
		rows = append(rows, r)
	}
	return rows
}

// familiarName shortens docker.io names as Docker prints them.
func familiarName(repo string) string {
	repo = strings.TrimPrefix(repo, "docker.io/")
	if strings.HasPrefix(repo, "library/") && strings.Count(repo, "/") == 1 {
		repo = strings.TrimPrefix(repo, "library/")
	}
	return repo
}

func formatID(id string, noTrunc bool) string {
	if noTrunc {
		if !strings.HasPrefix(id, "sha256:") {
			return "sha256:" + id
		}
		return id
	}
	return engine.ShortID(id)
}

func humanSince(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// newImageCmd is the `cove image` group, with Docker's subcommand names.
func newImageCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	ls := newImagesCmd(f, "ls", nil)
	ls.Aliases = []string{"list"}
	rm := newRmiCmd(f, "rm", nil)
	cmd.AddCommand(ls, rm,
		newPullCmd(f, nil), newPushCmd(f, nil), newImageInspectCmd(f, nil), newTagCmd(f, nil),
		newHistoryCmd(f, nil), newSaveCmd(f, nil), newLoadCmd(f, nil), newImportCmd(f, nil),
		newImagePruneCmd(f, nil), newImageExistsCmd(f, nil))
	return cmd
}
