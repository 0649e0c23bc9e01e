package engine

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/cove-run/cove/internal/errdefs"
)

// Log drivers.
const (
	LogDriverJSON = "json-file"
	LogDriverK8s  = "k8s-file"
	LogDriverNone = "none"
)

// LogConfig is a container's logging configuration, from --log-driver and
// --log-opt.
type LogConfig struct {
	Driver string
	// MaxSize is the size a log file may reach before it is rotated, in
	// bytes; 0 means no limit.
	MaxSize int64
	// MaxFile is how many files are kept: the log and MaxFile-1 rotated
	// ones (LOG.1 the newest of those). With 1, a full log is emptied.
	MaxFile int
}

// logFileName is the log's name in the container's state directory;
// rotated files add .1, .2, ...
const logFileName = "container.log"

// ParseLogConfig validates a --log-driver and its --log-opt values. The
// sizes take Docker's units (max-size=10m is 10,000,000 bytes).
func ParseLogConfig(driver string, opts []string) (LogConfig, error) {
	c := LogConfig{Driver: driver, MaxFile: 1}
	switch driver {
	case "", "json", LogDriverJSON:
		c.Driver = LogDriverJSON
	case "k8s", LogDriverK8s:
		c.Driver = LogDriverK8s
	case LogDriverNone:
	default:
		return c, errdefs.InvalidArgument("--log-driver %q: cove supports json-file, k8s-file and none", driver)
	}
	maxFileSet := false
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || v == "" {
			return c, errdefs.InvalidArgument("--log-opt %q: use KEY=VALUE", o)
		}
		if c.Driver == LogDriverNone {
			return c, errdefs.InvalidArgument("--log-opt %q: the none log driver takes no options", o)
		}
		switch k {
		case "max-size":
			n, err := units.FromHumanSize(v)
			if err != nil || n <= 0 {
				return c, errdefs.InvalidArgument("--log-opt max-size=%s: a positive size is needed, like 10m", v)
			}
			c.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return c, errdefs.InvalidArgument("--log-opt max-file=%s: a whole number of at least 1 is needed", v)
			}
			c.MaxFile = n
			maxFileSet = true
		default:
			return c, errdefs.InvalidArgument("--log-opt %q: unknown log opt %q for the %s log driver (cove knows max-size and max-file)", o, k, c.Driver)
		}
	}
	if maxFileSet && c.MaxFile > 1 && c.MaxSize == 0 {
		return c, errdefs.InvalidArgument("--log-opt max-file=%d: max-file needs max-size", c.MaxFile)
	}
	return c, nil
}

// checkLogOptions is parseOptions' check of the logging options.
func checkLogOptions(o *ContainerOptions) error {
	_, err := ParseLogConfig(o.LogDriver, o.LogOpts)
	return err
}

// logConfigOf returns a recorded container's logging configuration.
func logConfigOf(rec *containerRecord) (LogConfig, error) {
	c, err := ParseLogConfig(rec.Options.LogDriver, rec.Options.LogOpts)
	if err != nil {
		return c, fmt.Errorf("the container's log options: %w", err)
	}
	return c, nil
}

// ContainerLogPath is the container's log file ("" with the none driver),
// for inspect's LogPath.
func (e *Engine) ContainerLogPath(id string) string {
	stores, err := e.States()
	if err != nil {
		return ""
	}
	c, err := stores.Get(id)
	if err != nil {
		return ""
	}
	rec, err := readRecord(c)
	if err != nil {
		return ""
	}
	if lc, err := logConfigOf(rec); err != nil || lc.Driver == LogDriverNone {
		return ""
	}
	return filepath.Join(stores.Dir(id), logFileName)
}
