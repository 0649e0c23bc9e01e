package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/errdefs"
)

// InspectOptions are the options of `cove inspect` and `cove image inspect`.
type InspectOptions struct {
	IO     *IOStreams
	Names  []string
	Format string
	Type   string
}

func newInspectCmd(f *Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Show low-level information on containers, images and volumes in Docker's format",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "format the output with a Go template, or 'json'")
	cmd.Flags().StringVar(&opts.Type, "type", "", "only inspect objects of this type (container, image, volume or network)")
	return cmd
}

func newImageInspectCmd(f *Factory, runF func(*InspectOptions) error) *cobra.Command {
	cmd := newInspectCmd(f, runF)
	cmd.Short = "Show low-level information on images"
	cmd.Flags().MarkHidden("type")
	cmd.PreRun = func(cmd *cobra.Command, args []string) { cmd.Flags().Set("type", "image") }
	return cmd
}

func inspectRun(f *Factory, opts *InspectOptions) error {
	switch opts.Type {
	case "", "image", "container", "volume", "network":
	default:
		return errdefs.InvalidArgument("--type %q: use container, image, volume or network", opts.Type)
	}
	e, err := f.EngineWithStore()
	if err != nil {
		return err
	}
	var objs []any
	var errs []error
	for _, n := range opts.Names {
		// Containers first, then images, then volumes, as Docker does.
		if opts.Type == "network" {
			v, err := e.InspectNetwork(n)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			objs = append(objs, v)
			continue
		}
		if opts.Type == "volume" {
			v, err := e.InspectVolume(n)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			objs = append(objs, v)
			continue
		}
		if opts.Type != "image" {
			if c, err := e.InspectContainer(n); err == nil {
				objs = append(objs, c)
				continue
			} else if !errors.Is(err, errdefs.ErrNotFound) || opts.Type == "container" {
				errs = append(errs, err)
				continue
			}
		}
		in, err := e.InspectImage(n)
		if err != nil && errors.Is(err, errdefs.ErrNotFound) && opts.Type == "" {
			if v, verr := e.InspectVolume(n); verr == nil {
				objs = append(objs, v)
				continue
			}
			if v, nerr := e.InspectNetwork(n); nerr == nil {
				objs = append(objs, v)
				continue
			}
		}
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) && opts.Type == "" {
				// Docker's wording for plain inspect, which would look
				// at containers, volumes and networks as well.
				err = fmt.Errorf("no such object: %s%.0w", n, err)
			}
			errs = append(errs, err)
			continue
		}
		objs = append(objs, in)
	}
	if err := writeInspect(opts.IO, opts.Format, objs); err != nil {
		return err
	}
	return joinErrors(opts.IO, errs)
}

// writeInspect prints objects as Docker does: an indented JSON array, or
// the template once per object.
func writeInspect(io *IOStreams, format string, objs []any) error {
	if format == "" || format == "json" {
		if objs == nil {
			objs = []any{}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "    ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(objs); err != nil {
			return err
		}
		_, err := io.Out.Write(buf.Bytes())
		return err
	}
	fm, err := newFormatter(io.Out, format, nil)
	if err != nil {
		return err
	}
	for _, o := range objs {
		// Templates see the object as JSON does, so field paths match
		// Docker's even where Go's names differ.
		generic, err := jsonGeneric(o)
		if err != nil {
			return err
		}
		if err := fm.write(generic); err != nil {
			return err
		}
	}
	return nil
}

// jsonGeneric turns v into maps, slices and scalars as JSON sees it, with
// whole numbers as int64 so that {{.Size}} prints 2137600, not 2.1376e+06.
func jsonGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return numbers(generic), nil
}

func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// joinErrors prints all but the last error and returns the last, so each
// failed item gets its own "Error:" line and the exit code reflects the
// failure.
func joinErrors(io *IOStreams, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs[:len(errs)-1] {
		fmt.Fprintf(io.ErrOut, "Error: %s\n", err)
	}
	return errs[len(errs)-1]
}
