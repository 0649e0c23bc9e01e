// Package cgroups reports which cgroup hierarchy the host runs and which
// controllers this user may use, which decides whether resource limits can
// work rootless (only cgroup v2 with delegated controllers allows it).
package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Hierarchy modes.
const (
	V1      = "v1"
	V2      = "v2"
	Hybrid  = "hybrid"
	Unknown = "unknown"
)

// Status describes what the host offers this process.
type Status struct {
	Version string `json:"version"`
	// Path is this process's cgroup (v2 only).
	Path string `json:"path,omitempty"`
	// Controllers enabled in this process's cgroup, for v2.
	Controllers []string `json:"controllers"`
	// Delegated is true when this user can create child cgroups with those
	// controllers (the cgroup directory is writable).
	Delegated bool   `json:"delegated"`
	Problem   string `json:"problem,omitempty"`
	Fix       string `json:"fix,omitempty"`
}

// Root is the cgroup filesystem mount point; a variable for tests.
var Root = "/sys/fs/cgroup"

// Detect inspects Root and /proc/self/cgroup.
func Detect() Status {
	var st Status
	st.Version = hierarchy(Root)
	switch st.Version {
	case V1, Hybrid:
		st.Problem = "the host uses cgroup " + st.Version + " controllers; rootless resource limits (--memory, --cpus, --pids-limit) need cgroup v2 with delegated controllers"
		st.Fix = "boot with systemd.unified_cgroup_hierarchy=1 (the default on current distributions) and log in through systemd so that user@.service delegates controllers"
		return st
	case Unknown:
		st.Problem = "no cgroup filesystem at " + Root
		return st
	}
	rel := ownV2Path("/proc/self/cgroup")
	st.Path = rel
	dir := filepath.Join(Root, rel)
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil {
		st.Controllers = strings.Fields(string(b))
	}
	st.Delegated = unix.Access(dir, unix.W_OK) == nil && len(st.Controllers) > 0
	if !st.Delegated {
		st.Problem = "no cgroup controllers are delegated to this user"
		st.Fix = "run cove from a systemd user session (loginctl enable-linger $USER), with Delegate=yes for user@.service"
	} else {
		for _, want := range []string{"memory", "pids", "cpu"} {
			if !contains(st.Controllers, want) {
				st.Problem = "controller " + want + " is not delegated"
				st.Fix = "add it to Delegate= in a drop-in for user@.service: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf"
				break
			}
		}
	}
	return st
}

func hierarchy(root string) string {
	var sfs unix.Statfs_t
	if err := unix.Statfs(root, &sfs); err != nil {
		return Unknown
	}
	if sfs.Type == unix.CGROUP2_SUPER_MAGIC {
		return V2
	}
	if sfs.Type != unix.TMPFS_MAGIC {
		return Unknown
	}
	if err := unix.Statfs(filepath.Join(root, "unified"), &sfs); err == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid
	}
	return V1
}

func ownV2Path(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return "/"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p
		}
	}
	return "/"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
