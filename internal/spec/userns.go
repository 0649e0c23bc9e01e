package spec

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Userns is a parsed --userns value.
type Userns struct {
	// KeepID maps the invoking user's own uid and gid to themselves in
	// the container (Podman's keep-id): files the container writes on a
	// bind mount belong to the user on the host.
	KeepID bool `json:"KeepID,omitempty"`
	// UID and GID are keep-id's uid= and gid= (-1: the user's own).
	UID int `json:"UID,omitempty"`
	GID int `json:"GID,omitempty"`
}

// ParseUserns parses --userns: "" or "host" (the container shares cove's
// user namespace: the user is root, the subordinate IDs are the other
// users), or keep-id[:uid=N,gid=N].
func ParseUserns(s string) (Userns, error) {
	u := Userns{UID: -1, GID: -1}
	mode, opts, hasOpts := strings.Cut(s, ":")
	switch mode {
	case "", "host":
		if hasOpts {
			return Userns{}, invalid("--userns %q: %s takes no options", s, mode)
		}
		return u, nil
	case "keep-id":
	default:
		return Userns{}, invalid("--userns %q: use host or keep-id[:uid=N,gid=N]", s)
	}
	u.KeepID = true
	if !hasOpts {
		return u, nil
	}
	if opts == "" {
		return Userns{}, invalid("--userns %q: empty options after ':'", s)
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || v[0] == '+' || n >= 1<<31 {
			return Userns{}, invalid("--userns %q: %q needs a number", s, o)
		}
		switch {
		case k == "uid" && u.UID < 0:
			u.UID = int(n)
		case k == "gid" && u.GID < 0:
			u.GID = int(n)
		default:
			return Userns{}, invalid("--userns %q: unknown or repeated option %q (use uid=N and gid=N)", s, o)
		}
	}
	return u, nil
}

// ParseIDMap parses a --uidmap or --gidmap value, CONTAINER:HOST:SIZE,
// where HOST is an ID of cove's user namespace (0 is the user, 1.. the
// subordinate IDs), as Podman's rootless mappings.
func ParseIDMap(flag, s string) (specs.LinuxIDMapping, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return specs.LinuxIDMapping{}, invalid("--%s %q: expected CONTAINER:HOST:SIZE", flag, s)
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil || p == "" || p[0] == '+' {
			return specs.LinuxIDMapping{}, invalid("--%s %q: %q is not a number", flag, s, p)
		}
		n[i] = v
	}
	if n[2] == 0 || n[0]+n[2] > 1<<32-1 || n[1]+n[2] > 1<<32-1 {
		return specs.LinuxIDMapping{}, invalid("--%s %q: the size must be at least 1 and the ranges must fit in 32 bits", flag, s)
	}
	return specs.LinuxIDMapping{ContainerID: uint32(n[0]), HostID: uint32(n[1]), Size: uint32(n[2])}, nil
}

// CheckIDMaps reports overlapping ranges on either side of a mapping,
// which the kernel refuses.
func CheckIDMaps(flag string, maps []specs.LinuxIDMapping) error {
	for i, a := range maps {
		for _, b := range maps[i+1:] {
			if overlap(a.ContainerID, a.Size, b.ContainerID, b.Size) || overlap(a.HostID, a.Size, b.HostID, b.Size) {
				return invalid("--%s: ranges %d:%d:%d and %d:%d:%d overlap", flag, a.ContainerID, a.HostID, a.Size, b.ContainerID, b.HostID, b.Size)
			}
		}
	}
	return nil
}

func overlap(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

// KeepIDMap returns the keep-id mapping of one ID kind: container ID id
// is cove's ID 0 (the user), container IDs below id are cove's 1..id, and
// the rest of cove's IDs keep their numbers. available is how many IDs
// cove's namespace has (1 + the subordinate range).
func KeepIDMap(id, available uint32) ([]specs.LinuxIDMapping, error) {
	if available < 2 {
		return nil, errors.New("--userns=keep-id needs subordinate IDs (/etc/subuid and /etc/subgid)")
	}
	if id >= available {
		return nil, fmt.Errorf("--userns=keep-id: ID %d is beyond the %d IDs of the subordinate range; give keep-id:uid=N,gid=N below it", id, available)
	}
	m := []specs.LinuxIDMapping{}
	if id > 0 {
		m = append(m, specs.LinuxIDMapping{ContainerID: 0, HostID: 1, Size: id})
	}
	m = append(m, specs.LinuxIDMapping{ContainerID: id, HostID: 0, Size: 1})
	if rest := available - id - 1; rest > 0 {
		m = append(m, specs.LinuxIDMapping{ContainerID: id + 1, HostID: id + 1, Size: rest})
	}
	return m, nil
}

// MapID returns the ID of cove's namespace that container ID id maps to.
func MapID(maps []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

// ReadRootFile returns the content of the regular file name under rootfs,
// resolved as if rootfs were "/", or nil when it does not exist.
func ReadRootFile(rootfs, name string) ([]byte, error) { return readRootFile(rootfs, name) }

// AddPasswdEntry returns an /etc/passwd (or, with fields of a group line,
// /etc/group) content with line appended unless an entry with the same
// numeric ID (field 3) already exists, as Podman's keep-id does.
func AddPasswdEntry(content []byte, line string, id int) []byte {
	want := strconv.Itoa(id)
	for _, l := range bytes.Split(content, []byte("\n")) {
		f := bytes.Split(l, []byte(":"))
		if len(f) > 2 && string(f[2]) == want {
			return content
		}
	}
	out := bytes.Clone(content)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...)
}
