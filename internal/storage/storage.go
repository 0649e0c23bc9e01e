// Package storage is cove's only door to go.podman.io/storage: it chooses
// the graph driver by probing the host, opens the store with cove's own
// roots, and exposes the store to the image and engine packages.
package storage

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/reexec"
	stypes "go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// Options says where the store lives and what the user asked for.
type Options struct {
	GraphRoot string
	RunRoot   string
	// Driver is "overlay" or "vfs" when the user chose one; empty to probe.
	Driver       string
	MountProgram string
	// Rootless adds the userxattr option to the overlay probe, as the kernel
	// requires inside a user namespace.
	Rootless bool
	// SingleID: only one ID is mapped, so chown to any other ID fails.
	SingleID bool
}

// Choice is the driver decision and the reason for it, shown by `cove info`.
type Choice struct {
	Driver        string `json:"driver"`
	MountProgram  string `json:"mountProgram,omitempty"`
	NativeOverlay bool   `json:"nativeOverlay"`
	Reason        string `json:"reason"`
	// Warning is printed on every command while it applies (vfs).
	Warning string `json:"warning,omitempty"`
}

// Store is an open store.
type Store struct {
	cstorage.Store
	Choice Choice
}

const vfsWarning = "storage driver vfs copies every image layer in full: containers start slowly and use much disk. Fix: use a kernel with overlay support in user namespaces (Linux 5.13+), or make fuse-overlayfs usable (sudo apt-get install fuse-overlayfs; /dev/fuse must be readable and writable by you), then remove the store: cove unshare rm -rf ~/.local/share/cove"

// Probe decides the driver without opening the store.
func Probe(o Options) Choice {
	switch {
	case o.Driver == "vfs":
		return Choice{Driver: "vfs", Reason: "chosen in configuration", Warning: vfsWarning}
	case o.Driver == "overlay" && o.MountProgram != "":
		return Choice{Driver: "overlay", MountProgram: o.MountProgram, Reason: "mount program chosen in configuration"}
	}
	// A store is pinned to the driver that created it: go.podman.io/storage
	// refuses to open a graph root with another driver's layers.
	existing := ""
	for _, d := range []string{"overlay", "vfs"} {
		if fi, err := os.Stat(filepath.Join(o.GraphRoot, d+"-layers")); err == nil && fi.IsDir() {
			existing = d
			break
		}
	}
	native, nativeErr := probeNativeOverlay(o)
	if existing == "vfs" && o.Driver == "" {
		c := Choice{Driver: "vfs", NativeOverlay: native, Reason: "the store was created with vfs", Warning: vfsWarning}
		return c
	}
	if native {
		reason := "native kernel overlay works here"
		if o.Driver == "overlay" {
			reason = "chosen in configuration; " + reason
		}
		return Choice{Driver: "overlay", NativeOverlay: true, Reason: reason}
	}
	fuse, fuseErr := probeFuseOverlayfs()
	if fuse != "" {
		return Choice{Driver: "overlay", MountProgram: fuse,
			Reason: fmt.Sprintf("native overlay failed (%v); fuse-overlayfs and /dev/fuse are usable", nativeErr)}
	}
	c := Choice{Driver: "vfs", Warning: vfsWarning,
		Reason: fmt.Sprintf("native overlay failed (%v) and fuse-overlayfs is not usable (%v)", nativeErr, fuseErr)}
	if o.Driver == "overlay" {
		// The user asked for overlay: do not silently degrade.
		c.Driver = "overlay"
		c.Warning = "overlay was requested but is not usable: " + c.Reason
	}
	return c
}

// probeNativeOverlay test-mounts an overlay on the graph root's filesystem.
// The verdict is cached in the run root, which a reboot (and so a kernel
// change) clears.
func probeNativeOverlay(o Options) (bool, error) {
	cache := filepath.Join(o.RunRoot, "overlay-probe")
	if b, err := os.ReadFile(cache); err == nil {
		s := string(b)
		if s == "ok" {
			return true, nil
		}
		return false, errors.New(strings.TrimPrefix(s, "fail: "))
	}
	ok, err := testMount(o)
	verdict := "ok"
	if !ok {
		verdict = "fail: " + err.Error()
	}
	if os.MkdirAll(o.RunRoot, 0o700) == nil {
		writeFileAtomic(cache, []byte(verdict))
	}
	return ok, err
}

func testMount(o Options) (bool, error) {
	if os.Geteuid() != 0 {
		return false, errors.New("not inside the user namespace")
	}
	if err := os.MkdirAll(o.GraphRoot, 0o700); err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp(o.GraphRoot, ".overlay-probe-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return false, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", dir, dir, dir)
	if o.Rootless {
		// Inside a user namespace overlay keeps its whiteouts and opaque
		// markers in user.* xattrs: trusted.* needs CAP_SYS_ADMIN in the
		// initial namespace.
		opts += ",userxattr"
	}
	merged := filepath.Join(dir, "merged")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return false, fmt.Errorf("mount overlay: %w", err)
	}
	unix.Unmount(merged, unix.MNT_DETACH)
	return true, nil
}

func probeFuseOverlayfs() (string, error) {
	bin, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "", errors.New("fuse-overlayfs is not installed; fix: sudo apt-get install fuse-overlayfs")
	}
	// go.podman.io/storage adopts fuse-overlayfs merely because it is on
	// PATH and only fails at mount time; check the device ourselves.
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("/dev/fuse: %v; fix: sudo chmod 0666 /dev/fuse", err)
	}
	f.Close()
	return bin, nil
}

// Open probes the driver and opens the store.
func Open(o Options) (*Store, error) {
	choice := Probe(o)
	so := stypes.StoreOptions{
		GraphRoot:       o.GraphRoot,
		RunRoot:         o.RunRoot,
		GraphDriverName: choice.Driver,
	}
	// storage.conf contributes driver options (additional image stores,
	// mount options, pull options); cove keeps its own roots and its own
	// driver choice, documented in docs/configuration.md.
	if conf, err := stypes.LoadStoreOptions(stypes.LoadOptions{}); err == nil {
		so.GraphDriverOptions = driverOptions(choice.Driver, conf.GraphDriverOptions)
		so.PullOptions = conf.PullOptions
	}
	if choice.MountProgram != "" {
		so.GraphDriverOptions = append(so.GraphDriverOptions, "overlay.mount_program="+choice.MountProgram)
	}
	if o.SingleID {
		so.GraphDriverOptions = append(so.GraphDriverOptions, choice.Driver+".ignore_chown_errors=true")
	}
	s, err := cstorage.GetStore(so)
	if err != nil {
		return nil, fmt.Errorf("opening storage at %s (driver %s): %w", o.GraphRoot, choice.Driver, err)
	}
	return &Store{Store: s, Choice: choice}, nil
}

// driverOptions adapts the driver options go.podman.io/storage reads from
// storage.conf to the driver cove chose. The library hands them over in two
// forms: "KEY=V" from [storage.options] and "DRIVER.KEY=V" from
// [storage.options.DRIVER] (the layout of Fedora's default storage.conf).
// Bare options are addressed to the chosen driver, options for another
// driver are dropped (the drivers reject "DRIVER.DRIVER.KEY", and vfs
// rejects overlay's mount options), and mount_program in either form is
// dropped because the probe decides between native overlay and FUSE.
func driverOptions(chosen string, opts []string) []string {
	var out []string
	for _, opt := range opts {
		key, _, _ := strings.Cut(opt, "=")
		drv, name, prefixed := strings.Cut(strings.ToLower(key), ".")
		if !prefixed {
			drv, name = chosen, drv
		}
		if drv == "overlay2" {
			drv = "overlay"
		}
		if drv != chosen || name == "mount_program" || (chosen == "vfs" && name == "mountopt") {
			continue
		}
		if !prefixed {
			opt = chosen + "." + opt
		}
		out = append(out, opt)
	}
	return out
}

// Close releases the store; layers mounted by this process stay mounted in
// its mount namespace, which dies with it.
func (s *Store) Close() {
	s.Shutdown(false)
}

// DriverStatus returns the driver's own key/value report.
func (s *Store) DriverStatus() [][2]string {
	st, err := s.Status()
	if err != nil {
		return nil
	}
	return st
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	tmp.Close()
	return os.Rename(tmp.Name(), path)
}

// RunReexecRole runs a go.podman.io/storage helper role (it re-executes the
// binary with its own argv[0] to extract layers in a chroot) and reports
// whether it did. main calls it before anything else.
func RunReexecRole() bool {
	return reexec.Init()
}

// ErrContainerUnknown is returned for a container the store does not know.
var ErrContainerUnknown = cstorage.ErrContainerUnknown

// ContainerCreation returns the options for creating a container's layer.
// A volatile one (a --rm container, whose layer and record need not
// survive a crash) is written to the store's volatile files without fsync
// and its overlay mounted with "volatile" (no sync of the upper directory).
func ContainerCreation(volatile bool) *cstorage.ContainerOptions {
	if !volatile {
		return nil
	}
	return &cstorage.ContainerOptions{Volatile: true}
}
