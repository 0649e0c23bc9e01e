package engine

import (
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/buildinfo"
	"github.com/cove-run/cove/internal/cgroups"
	"github.com/cove-run/cove/internal/storage"
	"github.com/cove-run/cove/internal/userns"
	"github.com/cove-run/cove/pkg/idmap"
)

// Problem is something missing on the host, with the command that fixes it.
type Problem struct {
	What string `json:"what"`
	Fix  string `json:"fix,omitempty"`
}

// Info is what `cove info` reports. It is gathered without failing: what
// cannot be read is reported as a Problem.
type Info struct {
	Version VersionInfo `json:"version"`
	Host    HostInfo    `json:"host"`
	Store   StoreInfo   `json:"store"`
	// Problems lists what is missing or degraded, each with its fix.
	Problems []Problem `json:"problems"`
}

// VersionInfo describes the binary.
type VersionInfo struct {
	Version   string   `json:"version"`
	Commit    string   `json:"commit"`
	GoVersion string   `json:"goVersion"`
	BuildTags []string `json:"buildTags"`
	OS        string   `json:"os"`
	Arch      string   `json:"arch"`
}

// HostInfo describes the kernel, the user namespace and the helpers.
type HostInfo struct {
	Kernel   string `json:"kernel"`
	Hostname string `json:"hostname"`
	Rootless bool   `json:"rootless"`
	// UID and GID are the invoking user's IDs on the host.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// InUserNamespace is true when the report was made from inside cove's
	// user namespace; the maps below are then that namespace's.
	InUserNamespace bool            `json:"inUserNamespace"`
	SingleIDMapping bool            `json:"singleIDMapping"`
	UIDMap          []idmap.Mapping `json:"uidMap"`
	GIDMap          []idmap.Mapping `json:"gidMap"`
	SubUIDs         []idmap.Range   `json:"subUIDs"`
	SubGIDs         []idmap.Range   `json:"subGIDs"`
	NewUIDMap       string          `json:"newuidmap"`
	NewGIDMap       string          `json:"newgidmap"`
	Cgroups         cgroups.Status  `json:"cgroups"`
	Network         []Backend       `json:"networkBackends"`
}

// Backend is a network helper found on the host.
type Backend struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Found   bool   `json:"found"`
}

// StoreInfo describes where cove keeps things and the storage driver.
type StoreInfo struct {
	ConfigFile      string         `json:"configFile"`
	StateRoot       string         `json:"stateRoot"`
	GraphRoot       string         `json:"graphRoot"`
	RunRoot         string         `json:"runRoot"`
	RunRootFallback string         `json:"runRootFallback,omitempty"`
	Driver          storage.Choice `json:"driver"`
	DriverStatus    [][2]string    `json:"driverStatus,omitempty"`
	Images          int            `json:"images"`
	// Containers counts cove's containers (every record, whether its
	// layer is in storage or cove's own).
	Containers int    `json:"containers"`
	Error      string `json:"error,omitempty"`
}

// Version describes this binary.
func Version() VersionInfo {
	return VersionInfo{
		Version:   buildinfo.Version,
		Commit:    buildinfo.Commit,
		GoVersion: buildinfo.GoVersion(),
		BuildTags: buildinfo.Tags(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
}

// Info gathers the report. reexecErr is the reason the user namespace could
// not be entered, if that failed; info still reports what it can.
func (e *Engine) Info(reexecErr error) *Info {
	in := &Info{Version: Version()}
	h := &in.Host
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	h.Hostname, _ = os.Hostname()
	h.UID, h.GID = e.Config.UID, e.Config.GID
	h.Rootless = e.Config.Rootless
	h.InUserNamespace = userns.InNamespace()
	h.SingleIDMapping = userns.SingleID()
	h.UIDMap, _ = idmap.ReadMap("/proc/self/uid_map")
	h.GIDMap, _ = idmap.ReadMap("/proc/self/gid_map")
	if h.Rootless {
		plan := userns.NewPlan()
		if h.InUserNamespace {
			// Stage 2 runs as uid 0: look the ranges up for the real user.
			plan = userns.PlanFor(e.Config.UID, e.Config.GID)
		}
		h.SubUIDs, h.SubGIDs = plan.SubUIDs, plan.SubGIDs
		h.NewUIDMap, h.NewGIDMap = plan.NewUIDMap, plan.NewGIDMap
		if plan.Warning != "" {
			in.Problems = append(in.Problems, Problem{What: plan.Warning})
		}
		if reexecErr != nil {
			in.Problems = append(in.Problems, Problem{What: "could not enter the user namespace: " + reexecErr.Error()})
		}
	}
	h.Cgroups = cgroups.Detect()
	if h.Cgroups.Problem != "" {
		in.Problems = append(in.Problems, Problem{What: h.Cgroups.Problem, Fix: h.Cgroups.Fix})
	}
	h.Network = []Backend{probeBackend("pasta", "passt"), probeBackend("slirp4netns", "slirp4netns")}
	if !h.Network[0].Found && !h.Network[1].Found {
		in.Problems = append(in.Problems, Problem{What: "no rootless network backend (pasta or slirp4netns) found", Fix: "sudo apt-get install passt slirp4netns"})
	}
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
		if h.Rootless {
			in.Problems = append(in.Problems, Problem{What: "/dev/net/tun is not usable: " + err.Error(), Fix: "sudo chmod 0666 /dev/net/tun"})
		}
	} else {
		f.Close()
	}

	s := &in.Store
	s.ConfigFile = e.Config.ConfigFile
	s.StateRoot, s.GraphRoot, s.RunRoot = e.Config.StateRoot, e.Config.GraphRoot, e.Config.RunRoot
	s.RunRootFallback = e.Config.RunRootFallback
	if h.Rootless && !h.InUserNamespace {
		// Storage cannot be opened outside the namespace; report the probe
		// as far as it goes.
		s.Driver = storage.Probe(e.storageOptions())
		s.Error = "storage was not opened: not inside the user namespace"
	} else if st, err := e.Store(); err != nil {
		s.Driver = storage.Probe(e.storageOptions())
		s.Error = err.Error()
		in.Problems = append(in.Problems, Problem{What: "storage: " + err.Error()})
	} else {
		s.Driver = st.Choice
		s.DriverStatus = st.DriverStatus()
		if imgs, err := st.Images(); err == nil {
			s.Images = len(imgs)
		}
		// cove's records, not storage's containers: those with a
		// cove-managed layer (most) are not in storage.
		if stores, err := e.States(); err == nil {
			if ids, err := stores.IDs(); err == nil {
				s.Containers = len(ids)
			}
		}
	}
	if s.Driver.Warning != "" {
		in.Problems = append(in.Problems, Problem{What: s.Driver.Warning})
	}
	return in
}

func probeBackend(name, pkg string) Backend {
	b := Backend{Name: name}
	p, err := exec.LookPath(name)
	if err != nil {
		return b
	}
	b.Path, b.Found = p, true
	out, err := exec.Command(p, "--version").Output()
	if err == nil {
		b.Version = firstLine(string(out))
	}
	// Distribution builds of pasta (Debian 12's among them) print "pasta
	// unknown version": the package's version is what identifies them.
	if !strings.ContainsAny(b.Version, "0123456789") {
		if v := packageVersion(pkg); v != "" {
			b.Version = "package " + pkg + " " + v
		}
	}
	return b
}

// packageVersion asks dpkg, else rpm, for an installed package's version.
func packageVersion(pkg string) string {
	for _, c := range [][]string{
		{"dpkg-query", "-W", "-f=${Version}", pkg},
		{"rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", pkg},
	} {
		if out, err := exec.Command(c[0], c[1:]...).Output(); err == nil && len(out) > 0 {
			return firstLine(string(out))
		}
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
