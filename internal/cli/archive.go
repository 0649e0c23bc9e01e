package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// SaveOptions are the options of `cove save`.
type SaveOptions struct {
	IO     *IOStreams
	Names  []string
	Output string
	Format string
}

func newSaveCmd(f *Factory, runF func(*SaveOptions) error) *cobra.Command {
	opts := &SaveOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save images to a tar archive (streamed to stdout by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			return saveRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write to a file instead of stdout")
	cmd.Flags().StringVar(&opts.Format, "format", "docker-archive", "docker-archive, oci-archive or oci-dir")
	return cmd
}

func saveRun(ctx context.Context, f *Factory, opts *SaveOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Output == "" && isTerminalWriter(opts.IO.Out) {
		return errdefs.InvalidArgument("cowardly refusing to write an archive to a terminal: use -o FILE or redirect stdout")
	}
	if opts.Output == "" && opts.Format == "oci-dir" {
		return errdefs.InvalidArgument("--format oci-dir writes a directory: give it with -o DIR")
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	if opts.Output != "" {
		// Write next to the target and rename, so that a failed save
		// never leaves a truncated archive under the requested name.
		if opts.Format == "oci-dir" {
			return e.SaveImages(ctx, opts.Names, opts.Format, opts.Output)
		}
		tmp := filepath.Join(filepath.Dir(opts.Output), "."+filepath.Base(opts.Output)+".cove-tmp")
		os.Remove(tmp)
		if err := e.SaveImages(ctx, opts.Names, opts.Format, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
		return os.Rename(tmp, opts.Output)
	}
	dir, err := scratchDir(e)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "archive.tar")
	if err := e.SaveImages(ctx, opts.Names, opts.Format, tmp); err != nil {
		return err
	}
	fh, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = io.Copy(opts.IO.Out, fh)
	return err
}

// scratchDir is a private directory on disk (archives can be large; the
// run root is often a small tmpfs).
func scratchDir(e *engine.Engine) (string, error) {
	base := filepath.Join(e.Config.StateRoot, "tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(base, "xfer-")
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// LoadOptions are the options of `cove load`.
type LoadOptions struct {
	IO    *IOStreams
	Input string
	Quiet bool
}

func newLoadCmd(f *Factory, runF func(*LoadOptions) error) *cobra.Command {
	opts := &LoadOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a docker-archive or oci-archive (stdin by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return loadRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Input, "input", "i", "", "read from a file instead of stdin")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

func loadRun(ctx context.Context, f *Factory, opts *LoadOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Input == "" && isTerminalReader(opts.IO.In) {
		return errdefs.InvalidArgument("no archive given: use -i FILE or pipe one to stdin")
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	path, input := opts.Input, opts.Input
	if path == "" || path == "-" {
		dir, err := scratchDir(e)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path, err = spool(opts.IO.In, dir)
		if err != nil {
			return err
		}
		input = "standard input"
	}
	names, err := e.LoadImages(ctx, path, input)
	if !opts.Quiet {
		for _, n := range names {
			if strings.HasPrefix(n, "sha256:") {
				fmt.Fprintf(opts.IO.Out, "Loaded image ID: %s\n", n)
			} else {
				fmt.Fprintf(opts.IO.Out, "Loaded image: %s\n", familiarName(n))
			}
		}
	}
	return err
}

// spool copies a stream to a file, since archives must be seekable.
func spool(r io.Reader, dir string) (string, error) {
	p := filepath.Join(dir, "input.tar")
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	if _, err := io.Copy(fh, r); err != nil {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	return p, nil
}

// ImportOptions are the options of `cove import`.
type ImportOptions struct {
	IO      *IOStreams
	Source  string
	Ref     string
	Changes []string
	Message string
}

func newImportCmd(f *Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Create an image from a root filesystem tarball",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source = args[0]
			if len(args) == 2 {
				opts.Ref = args[1]
			}
			if runF != nil {
				return runF(opts)
			}
			return importRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Changes, "change", "c", nil, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL)")
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "commit message recorded in the history")
	return cmd
}

func importRun(ctx context.Context, f *Factory, opts *ImportOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	path, input := opts.Source, opts.Source
	if path == "-" {
		dir, err := scratchDir(e)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if path, err = spool(opts.IO.In, dir); err != nil {
			return err
		}
		input = "standard input"
	}
	id, err := e.ImportImage(ctx, engine.ImportRequest{Path: path, Input: input, Ref: opts.Ref, Changes: opts.Changes, Message: opts.Message})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "sha256:%s\n", id)
	return nil
}

// ImagePruneOptions are the options of `cove image prune`.
type ImagePruneOptions struct {
	IO      *IOStreams
	All     bool
	Force   bool
	Filters []string
}

func newImagePruneCmd(f *Factory, runF func(*ImagePruneOptions) error) *cobra.Command {
	opts := &ImagePruneOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove dangling images (with -a, all images no container uses)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return imagePruneRun(f, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&opts.Filters, "filter", nil, "filter images (until=, label=, label!=)")
	return cmd
}

func imagePruneRun(f *Factory, opts *ImagePruneOptions) error {
	if !opts.Force {
		what := "all dangling images"
		if opts.All {
			what = "all images without at least one container associated to them"
		}
		if !confirm(opts.IO, "WARNING! This will remove "+what+".\nAre you sure you want to continue? [y/N] ") {
			return nil
		}
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	rep, err := e.PruneImages(opts.All, opts.Filters)
	if rep == nil {
		return err
	}
	lines := make([]string, len(rep.Deleted))
	for i, d := range rep.Deleted {
		lines[i] = "deleted: " + d
	}
	printPruned(opts.IO.Out, "Deleted Images:", lines, rep.SpaceReclaimed, err)
	return err
}

// printPruned prints a prune's result as Docker does: the heading and
// one line per removed object, a blank line, then the total (also when
// nothing was removed, but not after a failure that removed nothing).
func printPruned(w io.Writer, heading string, removed []string, reclaimed int64, err error) {
	if len(removed) > 0 {
		fmt.Fprintln(w, heading)
		for _, r := range removed {
			fmt.Fprintln(w, r)
		}
		fmt.Fprintln(w)
	}
	if err == nil || len(removed) > 0 {
		// units.HumanSize (4 digits), as Docker's prune commands.
		fmt.Fprintln(w, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
	}
}

// confirm asks on stdin; anything but y or yes is no, including EOF.
func confirm(io *IOStreams, prompt string) bool {
	fmt.Fprint(io.ErrOut, prompt)
	var answer string
	fmt.Fscanln(io.In, &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

func newImageExistsCmd(f *Factory, runF func(string) error) *cobra.Command {
	return &cobra.Command{
		Use:   "exists IMAGE",
		Short: "Exit 0 if the image exists locally, 1 if not",
		Args:  exactArgs(1, "an image"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(args[0])
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			ok, err := e.ImageExists(args[0])
			if err != nil {
				if errors.Is(err, errdefs.ErrInvalidArgument) {
					return err
				}
				return err
			}
			if !ok {
				return &errdefs.ExitError{Code: 1}
			}
			return nil
		},
	}
}
