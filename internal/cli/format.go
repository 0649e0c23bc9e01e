package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"

	units "github.com/docker/go-units"

	"github.com/cove-run/cove/internal/errdefs"
)

// templateFuncs are the functions Docker offers in --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"println": fmt.Sprintln,
}

// parseTemplate compiles a user's --format value.
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, errdefs.InvalidArgument("--format %q: %v", format, err)
	}
	return t, nil
}

// formatter renders values for --format: "json", a Go template, or
// "table TEMPLATE" (a header row from headers, then aligned columns).
type formatter struct {
	json    bool
	table   bool
	tmpl    *template.Template
	headers map[string]string
	w       io.Writer
	tw      *tabwriter.Writer
	wrote   bool
}

func newFormatter(w io.Writer, format string, headers map[string]string) (*formatter, error) {
	fm := &formatter{w: w, headers: headers}
	switch {
	case format == "json":
		fm.json = true
		return fm, nil
	case strings.HasPrefix(format, "table"):
		fm.table = true
		format = strings.TrimSpace(strings.TrimPrefix(format, "table"))
		if format == "" {
			return nil, errdefs.InvalidArgument("--format table: give the columns, e.g. 'table {{.ID}}'")
		}
	}
	// "\t" typed on a command line arrives as a backslash and a t.
	format = strings.ReplaceAll(format, `\t`, "\t")
	format = strings.ReplaceAll(format, `\n`, "\n")
	t, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	fm.tmpl = t
	if fm.table {
		fm.tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	}
	return fm, nil
}

// write renders one value.
func (fm *formatter) write(v any) error {
	if fm.json {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(fm.w, "%s\n", b)
		return err
	}
	out := fm.w
	if fm.table {
		out = fm.tw
		if !fm.wrote {
			fm.wrote = true
			if err := fm.header(); err != nil {
				return err
			}
		}
	}
	var buf bytes.Buffer
	if err := fm.tmpl.Execute(&buf, v); err != nil {
		return errdefs.InvalidArgument("--format: %v", err)
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}

// header renders the template once against the column titles, as Docker
// does, so that any column order or subset gets matching titles.
func (fm *formatter) header() error {
	h := map[string]string{}
	for k, v := range fm.headers {
		h[k] = v
	}
	var buf bytes.Buffer
	t := template.Must(fm.tmpl.Clone()).Option("missingkey=zero")
	if err := t.Execute(&buf, h); err != nil {
		// A template that calls methods cannot render titles; skip them.
		return nil
	}
	buf.WriteByte('\n')
	_, err := fm.tw.Write(buf.Bytes())
	return err
}

// flush ends the output; a table with no rows still prints its header.
func (fm *formatter) flush() error {
	if fm.table {
		if !fm.wrote {
			fm.wrote = true
			fm.header()
		}
		return fm.tw.Flush()
	}
	return nil
}

func humanBytes(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}
