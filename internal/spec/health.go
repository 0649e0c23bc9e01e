package spec

import (
	"fmt"
	"strings"
	"time"
)

// Healthcheck is a container's healthcheck in Docker's shape (the image
// config's and `inspect`'s .Config.Healthcheck): durations in nanoseconds,
// zero meaning "the default" (or, before MergeHealthcheck, "the image's").
type Healthcheck struct {
	// Test is [] (inherit the image's), ["NONE"] (disabled),
	// ["CMD", arg...] (executed directly) or ["CMD-SHELL", command]
	// (run with /bin/sh -c).
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Docker's defaults for the zero values of a Healthcheck.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
	// minHealthDuration is Docker's smallest non-zero duration.
	minHealthDuration = time.Millisecond
)

// HealthOptions are the --health-* flags as typed. Durations are Go
// duration strings ("30s", "1m30s"), as Docker's flags take them; "" is
// unset.
type HealthOptions struct {
	Cmd           string
	Interval      string
	Timeout       string
	StartPeriod   string
	StartInterval string
	Retries       int
	None          bool // --no-healthcheck
}

// ParseHealthOptions validates the --health-* flags, with Docker's rules
// and messages: nil when none is set (the image's healthcheck applies
// unchanged), Test ["NONE"] for --no-healthcheck (which conflicts with
// the others), otherwise a Healthcheck whose empty Test and zero fields
// are taken from the image's by MergeHealthcheck.
func ParseHealthOptions(o HealthOptions) (*Healthcheck, error) {
	set := o.Cmd != "" || o.Interval != "" || o.Timeout != "" || o.StartPeriod != "" || o.StartInterval != "" || o.Retries != 0
	if o.None {
		if set {
			return nil, invalid("--no-healthcheck conflicts with --health-* options")
		}
		return &Healthcheck{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	h := &Healthcheck{Retries: o.Retries}
	if o.Cmd != "" {
		h.Test = []string{"CMD-SHELL", o.Cmd}
	}
	if o.Retries < 0 {
		return nil, invalid("--health-retries %d: cannot be negative", o.Retries)
	}
	for _, d := range []struct {
		flag, value string
		to          *time.Duration
	}{
		{"--health-interval", o.Interval, &h.Interval},
		{"--health-timeout", o.Timeout, &h.Timeout},
		{"--health-start-period", o.StartPeriod, &h.StartPeriod},
		{"--health-start-interval", o.StartInterval, &h.StartInterval},
	} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil {
			return nil, invalid("%s %q: not a duration (use a number with a unit, such as 30s or 1m30s)", d.flag, d.value)
		}
		if v < 0 {
			return nil, invalid("%s %q: cannot be negative", d.flag, d.value)
		}
		if v != 0 && v < minHealthDuration {
			return nil, invalid("%s %q: cannot be less than %s", d.flag, d.value, minHealthDuration)
		}
		*d.to = v
	}
	return h, nil
}

// ValidateHealthcheck checks a Healthcheck that did not come from the
// flags (an image's): a known test type and sane numbers. what names its
// origin in the message.
func ValidateHealthcheck(h *Healthcheck, what string) error {
	if h == nil {
		return nil
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD":
			if len(h.Test) < 2 {
				return invalid("%s healthcheck %q: CMD without a command", what, h.Test)
			}
		case "CMD-SHELL":
			if len(h.Test) != 2 {
				return invalid("%s healthcheck %q: CMD-SHELL takes one command string", what, h.Test)
			}
		default:
			return invalid("%s healthcheck %q: unknown type %q (use CMD, CMD-SHELL or NONE)", what, h.Test, h.Test[0])
		}
	}
	if h.Retries < 0 {
		return invalid("%s healthcheck: retries %d cannot be negative", what, h.Retries)
	}
	for _, d := range []time.Duration{h.Interval, h.Timeout, h.StartPeriod, h.StartInterval} {
		if d < 0 || (d != 0 && d < minHealthDuration) {
			return invalid("%s healthcheck: duration %s must be 0 or at least %s", what, d, minHealthDuration)
		}
	}
	return nil
}

// MergeHealthcheck applies Docker's rule for a container's healthcheck:
// the container's own, whose empty test and zero fields are filled from
// the image's; the image's when the container sets none. nil (or a NONE
// test) means no healthcheck.
func MergeHealthcheck(ctr, img *Healthcheck) *Healthcheck {
	if ctr == nil {
		if img == nil {
			return nil
		}
		c := *img
		return &c
	}
	h := *ctr
	if img != nil {
		if len(h.Test) == 0 {
			h.Test = img.Test
		}
		if h.Interval == 0 {
			h.Interval = img.Interval
		}
		if h.Timeout == 0 {
			h.Timeout = img.Timeout
		}
		if h.StartPeriod == 0 {
			h.StartPeriod = img.StartPeriod
		}
		if h.StartInterval == 0 {
			h.StartInterval = img.StartInterval
		}
		if h.Retries == 0 {
			h.Retries = img.Retries
		}
	}
	return &h
}

// Enabled reports whether h runs anything: a test of type CMD or
// CMD-SHELL (an empty test inherited nothing; NONE disables).
func (h *Healthcheck) Enabled() bool {
	return h != nil && len(h.Test) >= 2 && (h.Test[0] == "CMD" || h.Test[0] == "CMD-SHELL")
}

// Args is the probe's command line: CMD's arguments as they are, a
// CMD-SHELL string through /bin/sh -c.
func (h *Healthcheck) Args() ([]string, error) {
	if !h.Enabled() {
		return nil, fmt.Errorf("no healthcheck command")
	}
	if h.Test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}, nil
	}
	return h.Test[1:], nil
}

// Effective returns the timing with Docker's defaults for zero values.
func (h *Healthcheck) Effective() (interval, timeout, startPeriod, startInterval time.Duration, retries int) {
	interval, timeout, startPeriod, startInterval, retries = h.Interval, h.Timeout, h.StartPeriod, h.StartInterval, h.Retries
	if interval == 0 {
		interval = DefaultHealthInterval
	}
	if timeout == 0 {
		timeout = DefaultHealthTimeout
	}
	if startInterval == 0 {
		startInterval = DefaultHealthStartInterval
	}
	if retries == 0 {
		retries = DefaultHealthRetries
	}
	return
}
