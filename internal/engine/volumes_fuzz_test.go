package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/volume"
)

// FuzzParseVolumeOpts: --opt values (one per line) are accepted only in
// the shapes the local driver knows, and every rejection is an invalid
// argument.
func FuzzParseVolumeOpts(f *testing.F) {
	for _, s := range []string{"", "type=tmpfs", "type=tmpfs\no=size=1m,mode=700", "type=none\no=bind\ndevice=/tmp", "type=bind\ndevice=relative", "colour=red", "type=tmpfs\ntype=tmpfs", "o=size=1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var raw []string
		if in != "" {
			raw = strings.Split(in, "\n")
		}
		opts, err := parseVolumeOpts("--opt", raw)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("%q: error %v is not an invalid argument", in, err)
			}
			return
		}
		switch opts["type"] {
		case "":
			if len(opts) != 0 {
				t.Fatalf("%q: options %v without a type", in, opts)
			}
		case "tmpfs":
			if d := opts["device"]; d != "" && d != "tmpfs" {
				t.Fatalf("%q: tmpfs with device %q", in, d)
			}
		case "bind", "none":
			if !strings.HasPrefix(opts["device"], "/") {
				t.Fatalf("%q: bind without an absolute device", in)
			}
		default:
			t.Fatalf("%q: accepted type %q", in, opts["type"])
		}
	})
}

// FuzzParseVolumeFilters: filters parse or fail as invalid arguments, and
// a parsed filter can be applied.
func FuzzParseVolumeFilters(f *testing.F) {
	for _, s := range []string{"name=v", "label=a=b", "label!=a", "dangling=true", "dangling=maybe", "driver=local", "colour=red", "label="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fl, err := parseVolumeFilters(strings.Split(in, "\n"))
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("%q: error %v is not an invalid argument", in, err)
			}
			return
		}
		fl.match(&volumeRecordForFuzz, false)
	})
}

var volumeRecordForFuzz = volume.Volume{Name: "v1", Driver: "local", Labels: map[string]string{"a": "b"}}
