package spec

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Device is one --device: a host device node made available in the
// container at ContainerPath with cgroup permissions drawn from "rwm".
type Device struct {
	HostPath      string `json:"PathOnHost"`
	ContainerPath string `json:"PathInContainer"`
	Permissions   string `json:"CgroupPermissions"`
}

// String formats d in the --device syntax.
func (d Device) String() string {
	return d.HostPath + ":" + d.ContainerPath + ":" + d.Permissions
}

// ParseDevice parses a --device value, HOST[:CONTAINER][:PERMISSIONS], as
// Docker: with two parts the second is PERMISSIONS when it is a valid mode
// and CONTAINER otherwise; CONTAINER defaults to HOST and PERMISSIONS to
// "rwm". HOST and CONTAINER must be absolute; PERMISSIONS is a non-empty
// subset of "rwm" without repeats. Whether HOST is a device is checked by
// Generate.
func ParseDevice(s string) (Device, error) {
	d, err := parseDevice(s)
	if err != nil {
		return Device{}, invalid("device %q: %v", s, err)
	}
	return d, nil
}

func parseDevice(s string) (Device, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return Device{}, errors.New("contains a NUL byte")
	}
	parts := strings.Split(s, ":")
	d := Device{Permissions: "rwm"}
	switch len(parts) {
	case 3:
		if !validDeviceMode(parts[2]) {
			return Device{}, fmt.Errorf("bad permissions %q (use a subset of rwm)", parts[2])
		}
		d.Permissions = parts[2]
		d.ContainerPath = parts[1]
		if d.ContainerPath == "" {
			return Device{}, errors.New("empty container path")
		}
	case 2:
		if validDeviceMode(parts[1]) {
			d.Permissions = parts[1]
		} else {
			d.ContainerPath = parts[1]
			if d.ContainerPath == "" {
				return Device{}, errors.New("empty container path")
			}
		}
	case 1:
	default:
		return Device{}, errors.New("too many ':' (expected HOST[:CONTAINER][:PERMISSIONS])")
	}
	host := parts[0]
	if !path.IsAbs(host) {
		return Device{}, fmt.Errorf("host path %q is not an absolute path", host)
	}
	d.HostPath = path.Clean(host)
	if d.ContainerPath == "" {
		d.ContainerPath = d.HostPath
	}
	c, err := cleanDestination(d.ContainerPath)
	if err != nil {
		return Device{}, fmt.Errorf("container path: %v", err)
	}
	d.ContainerPath = c
	return d, nil
}

func validDeviceMode(m string) bool {
	if m == "" || len(m) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range m {
		if c != 'r' && c != 'w' && c != 'm' || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}
