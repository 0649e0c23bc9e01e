// Package config resolves where cove keeps its data and which options are
// in force: command-line flags over cove.toml over the containers
// configuration files over built-in defaults.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/cove-run/cove/internal/errdefs"
)

// Environment variables set by the user-namespace re-exec. storage and image
// read the _CONTAINERS ones too (see internal/userns).
const (
	EnvRootlessUID = "_CONTAINERS_ROOTLESS_UID"
	EnvRootlessGID = "_CONTAINERS_ROOTLESS_GID"
	// EnvConfigFile overrides the location of cove.toml.
	EnvConfigFile = "COVE_CONFIG"
)

// File is cove.toml. Every key is optional; docs/configuration.md documents
// them one by one.
type File struct {
	Storage struct {
		// Driver is "overlay" or "vfs"; empty means probe.
		Driver string `toml:"driver"`
		// GraphRoot holds images, layers and containers' layers.
		GraphRoot string `toml:"graphroot"`
		// RunRoot holds state that a reboot may lose.
		RunRoot string `toml:"runroot"`
		// MountProgram, e.g. /usr/bin/fuse-overlayfs, forces a FUSE overlay.
		MountProgram string `toml:"mount_program"`
	} `toml:"storage"`
	Engine struct {
		// LogLevel is one of debug, info, warn, error.
		LogLevel string `toml:"log_level"`
		// DetachKeys is the default of --detach-keys (attach, run -it,
		// start -ai); empty means ctrl-p,ctrl-q.
		DetachKeys string `toml:"detach_keys"`
	} `toml:"engine"`
	Network struct {
		// Helper chooses the default network's helper: "auto" (or
		// empty), "pasta" or "slirp4netns".
		Helper string `toml:"helper"`
	} `toml:"network"`
}

// Config is the resolved configuration of one invocation.
type Config struct {
	// Rootless is true when the invoking user is not root; the process may
	// already be uid 0 inside cove's user namespace.
	Rootless bool
	// UID and GID are the invoking user's IDs on the host.
	UID, GID int
	Home     string

	ConfigFile string // cove.toml path (may not exist)
	StateRoot  string // cove's own records: containers, volumes
	GraphRoot  string // go.podman.io/storage graph root
	RunRoot    string // go.podman.io/storage run root and runtime state

	// RunRootFallback is set when XDG_RUNTIME_DIR was unusable and RunRoot
	// was placed under /tmp; the reason is noted at debug level.
	RunRootFallback string

	StorageDriver string
	MountProgram  string
	LogLevel      string
	// NetworkHelper is [network] helper from cove.toml: "", "auto",
	// "pasta" or "slirp4netns".
	NetworkHelper string

	File File
}

// Overrides are the global command-line flags; empty values do not override.
type Overrides struct {
	Root, RunRoot, StorageDriver, LogLevel string
}

// HostIDs returns the invoking user's host uid and gid, also from inside
// cove's user namespace, where the process itself is uid 0.
func HostIDs() (uid, gid int) {
	uid, gid = os.Getuid(), os.Getgid()
	if uid == 0 {
		if s := os.Getenv(EnvRootlessUID); s != "" {
			if v, err := strconv.Atoi(s); err == nil {
				uid = v
			}
			if v, err := strconv.Atoi(os.Getenv(EnvRootlessGID)); err == nil {
				gid = v
			}
		}
	}
	return uid, gid
}

// Load resolves the configuration for this invocation.
func Load(o Overrides) (*Config, error) {
	c := &Config{}
	c.UID, c.GID = HostIDs()
	c.Rootless = c.UID != 0
	c.Home = os.Getenv("HOME")

	if c.Rootless {
		cfgHome := xdgDir("XDG_CONFIG_HOME", c.Home, ".config")
		dataHome := xdgDir("XDG_DATA_HOME", c.Home, ".local/share")
		if cfgHome == "" || dataHome == "" {
			return nil, fmt.Errorf("cannot place cove's data: neither HOME nor XDG_DATA_HOME/XDG_CONFIG_HOME is set; set HOME")
		}
		c.ConfigFile = filepath.Join(cfgHome, "cove", "cove.toml")
		c.StateRoot = filepath.Join(dataHome, "cove")
		c.GraphRoot = filepath.Join(c.StateRoot, "storage")
	} else {
		c.ConfigFile = "/etc/cove/cove.toml"
		c.StateRoot = "/var/lib/cove"
		c.GraphRoot = "/var/lib/cove/storage"
		c.RunRoot = "/run/cove"
	}
	if v := os.Getenv(EnvConfigFile); v != "" {
		c.ConfigFile = v
	}
	if err := c.readFile(); err != nil {
		return nil, err
	}

	if c.File.Storage.GraphRoot != "" {
		c.GraphRoot = c.File.Storage.GraphRoot
	}
	if c.File.Storage.RunRoot != "" {
		c.RunRoot = c.File.Storage.RunRoot
	}
	c.StorageDriver = c.File.Storage.Driver
	c.MountProgram = c.File.Storage.MountProgram
	c.LogLevel = c.File.Engine.LogLevel

	if o.Root != "" {
		c.GraphRoot = o.Root
		// A private --root keeps everything of cove's together, so tests and
		// scripts can use throwaway stores.
		c.StateRoot = filepath.Join(o.Root, "cove")
	}
	if o.RunRoot != "" {
		c.RunRoot = o.RunRoot
	}
	if o.StorageDriver != "" {
		c.StorageDriver = o.StorageDriver
	}
	if o.LogLevel != "" {
		c.LogLevel = o.LogLevel
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	switch c.File.Network.Helper {
	case "", "auto", "pasta", "slirp4netns":
		c.NetworkHelper = c.File.Network.Helper
	default:
		return nil, errdefs.InvalidArgument("config file %s: [network] helper = %q: use auto, pasta or slirp4netns", c.ConfigFile, c.File.Network.Helper)
	}
	switch c.StorageDriver {
	case "", "overlay", "vfs":
	case "overlay2":
		c.StorageDriver = "overlay"
	default:
		return nil, errdefs.InvalidArgument("storage driver %q: cove supports overlay and vfs", c.StorageDriver)
	}
	if c.RunRoot == "" {
		rr, why, err := rootlessRunRoot(c.UID)
		if err != nil {
			return nil, err
		}
		c.RunRoot, c.RunRootFallback = rr, why
	}
	for _, p := range []*string{&c.GraphRoot, &c.RunRoot, &c.StateRoot} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	return c, nil
}

func (c *Config) readFile() error {
	data, err := os.ReadFile(c.ConfigFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.ConfigFile, err)
	}
	md, err := toml.Decode(string(data), &c.File)
	if err != nil {
		return errdefs.InvalidArgument("config file %s: %v", c.ConfigFile, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return errdefs.InvalidArgument("config file %s: unknown keys %s (see docs/configuration.md)", c.ConfigFile, strings.Join(keys, ", "))
	}
	return nil
}

func xdgDir(env, home, rel string) string {
	if v := os.Getenv(env); v != "" && filepath.IsAbs(v) {
		return v
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, rel)
}

// rootlessRunRoot returns $XDG_RUNTIME_DIR/cove, or a 0700 per-user
// directory under /tmp when XDG_RUNTIME_DIR is unset or unusable (as under
// `su`, cron, or a container). The second result says why it fell back.
func rootlessRunRoot(uid int) (string, string, error) {
	xdg := os.Getenv("XDG_RUNTIME_DIR")
	why := ""
	if xdg == "" {
		why = "XDG_RUNTIME_DIR is not set"
	} else if err := usableRuntimeDir(xdg); err != nil {
		why = fmt.Sprintf("XDG_RUNTIME_DIR=%s is unusable: %v", xdg, err)
	} else {
		return filepath.Join(xdg, "cove"), "", nil
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("cove-run-%d", uid))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", "", fmt.Errorf("creating run root %s (%s): %w", dir, why, err)
	}
	// Another user could have created the directory first to spy on or
	// tamper with our state: refuse anything we do not own exclusively.
	if err := ownedPrivateDir(dir); err != nil {
		return "", "", fmt.Errorf("run root %s (%s): %w; set XDG_RUNTIME_DIR to a private directory", dir, why, err)
	}
	return dir, why, nil
}

func usableRuntimeDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	return ownedPrivateDirInfo(st)
}
