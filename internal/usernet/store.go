// Package usernet keeps cove's user-defined networks on disk, without a
// daemon: the networks' configurations and the containers' endpoints on
// them (address, MAC, aliases). Each network is a directory under Root:
//
//	Root/.lock                       flock held by every change (create,
//	                                 remove, address allocation) and by
//	                                 callers that must order a container's
//	                                 record against them
//	Root/ID/network.json             the network, written once at create
//	Root/ID/endpoints/CTRID.json     one container's endpoint
//
// A network is built in a hidden directory and renamed into place, and
// removed by a rename to a hidden name, so readers and crashes see a whole
// network or none. An endpoint is written before its container's record
// (both under the lock), so a create killed in between leaves an endpoint
// whose container does not exist: every reader ignores those and changes
// under the lock remove them.
package usernet

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/pkg/atomicfile"
	"github.com/cove-run/cove/pkg/flock"
)

// Network is a user-defined network's record.
type Network struct {
	Name     string            `json:"Name"`
	ID       string            `json:"Id"`
	Driver   string            `json:"Driver"`
	Subnet   netip.Prefix      `json:"Subnet"`
	Gateway  netip.Addr        `json:"Gateway"`
	Internal bool              `json:"Internal"`
	Labels   map[string]string `json:"Labels"`
	Created  time.Time         `json:"Created"`
}

// BridgeName is the network's bridge in the shared network namespace:
// interface names are limited to 15 bytes.
func (n *Network) BridgeName() string { return "cove-" + n.ID[:10] }

// Endpoint is a container's attachment to a network.
type Endpoint struct {
	ContainerID string     `json:"ContainerID"`
	IP          netip.Addr `json:"IP"`
	MAC         string     `json:"MAC"`
	Aliases     []string   `json:"Aliases,omitempty"`
}

// Store is the on-disk network database.
type Store struct {
	root string
	// ContainerExists tells endpoints of live container records from
	// those a killed create left; nil treats every endpoint as live.
	ContainerExists func(id string) bool
	// hostRoutes returns the host's IPv4 routes; a test replaces it.
	hostRoutes func() []netip.Prefix
}

// Open returns the store under root, creating it.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	return &Store{root: root, hostRoutes: HostRoutes}, nil
}

// Lock takes the store's lock; the kernel releases it if the holder dies.
func (s *Store) Lock() (func(), error) { return flock.Exclusive(filepath.Join(s.root, ".lock")) }

func (s *Store) dir(id string) string { return filepath.Join(s.root, id) }

func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateOptions are network create's.
type CreateOptions struct {
	Name     string
	Subnet   string
	Gateway  string
	Internal bool
	Labels   map[string]string
}

// Create validates the options and records a new network. A taken name or
// an overlapping subnet is an error that changes nothing.
func (s *Store) Create(o CreateOptions) (*Network, error) {
	if err := ValidateName(o.Name); err != nil {
		return nil, err
	}
	var subnet netip.Prefix
	var err error
	if o.Subnet != "" {
		if subnet, err = ParseSubnet(o.Subnet); err != nil {
			return nil, err
		}
	} else if o.Gateway != "" {
		return nil, errdefs.InvalidArgument("--gateway %q needs --subnet", o.Gateway)
	}
	unlock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.clearLeftoversLocked()
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == o.Name {
			return nil, fmt.Errorf("network with name %s already exists: %w", o.Name, errdefs.ErrAlreadyExists)
		}
	}
	if subnet.IsValid() {
		for _, n := range all {
			if n.Subnet.Overlaps(subnet) {
				return nil, errdefs.InvalidArgument("--subnet %s overlaps the subnet %s of network %s", subnet, n.Subnet, n.Name)
			}
		}
	} else if subnet, err = s.freeSubnet(all); err != nil {
		return nil, err
	}
	gw := subnet.Addr().Next()
	if o.Gateway != "" {
		if gw, err = ParseGateway(o.Gateway, subnet); err != nil {
			return nil, err
		}
	}
	labels := o.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	n := &Network{Name: o.Name, ID: newID(), Driver: "bridge", Subnet: subnet, Gateway: gw, Internal: o.Internal,
		Labels: labels, Created: time.Now().UTC()}
	data, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(s.root, ".new-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Mkdir(filepath.Join(tmp, "endpoints"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "network.json"), data, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, s.dir(n.ID)); err != nil {
		return nil, fmt.Errorf("creating network %s: %w", n.Name, err)
	}
	return n, nil
}

// freeSubnet is the first /24 of 10.89.0.0/16 that overlaps neither a
// network nor a route of the host (Podman's range for its networks).
func (s *Store) freeSubnet(all []*Network) (netip.Prefix, error) {
	routes := s.hostRoutes()
next:
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 0}), 24)
		for _, n := range all {
			if n.Subnet.Overlaps(p) {
				continue next
			}
		}
		for _, r := range routes {
			if r.Bits() > 0 && r.Overlaps(p) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet left in 10.89.0.0/16: remove networks or give --subnet")
}

// HostRoutes reads the IPv4 routes of the caller's network namespace from
// /proc/net/route (destination and mask in the kernel's byte order).
func HostRoutes() []netip.Prefix {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		dst, err1 := hex.DecodeString(f[1])
		mask, err2 := hex.DecodeString(f[7])
		if err1 != nil || err2 != nil || len(dst) != 4 || len(mask) != 4 {
			continue
		}
		bits := 0
		for _, b := range mask {
			for ; b != 0; b <<= 1 {
				bits++
			}
		}
		// Little-endian on every machine cove runs on.
		a := netip.AddrFrom4([4]byte{dst[3], dst[2], dst[1], dst[0]})
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	return out
}

// read reads one network by ID.
func (s *Store) read(id string) (*Network, error) {
	data, err := os.ReadFile(filepath.Join(s.dir(id), "network.json"))
	if err != nil {
		return nil, err
	}
	var n Network
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("network %s: malformed record: %w", id, err)
	}
	return &n, nil
}

// List returns every network, sorted by name.
func (s *Store) List() ([]*Network, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		if n, err := s.read(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get finds a network by name, full ID or a unique ID prefix (Docker's
// order: an exact name wins over an ID prefix).
func (s *Store) Get(ref string) (*Network, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var byPrefix []*Network
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			byPrefix = append(byPrefix, n)
		}
	}
	switch len(byPrefix) {
	case 1:
		return byPrefix[0], nil
	case 0:
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return nil, errdefs.InvalidArgument("network %s is ambiguous: %d networks have IDs starting with it", ref, len(byPrefix))
}

// Remove deletes a network. The caller holds the lock and has checked
// that no container uses it.
func (s *Store) Remove(n *Network) error {
	gone := filepath.Join(s.root, ".gone-"+newID()[:12])
	if err := os.Rename(s.dir(n.ID), gone); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("network %s not found: %w", n.Name, errdefs.ErrNotFound)
		}
		return fmt.Errorf("removing network %s: %w", n.Name, err)
	}
	return os.RemoveAll(gone)
}

// ClearLeftovers removes what killed creates and removals left, under
// the lock.
func (s *Store) ClearLeftovers() {
	unlock, err := s.Lock()
	if err != nil {
		return
	}
	defer unlock()
	s.clearLeftoversLocked()
}

// clearLeftoversLocked removes the hidden directories of creates and
// removals that were killed. The caller holds the lock; so does every
// Create and Remove from its first hidden directory to its last, so any
// such directory seen now is a dead one's, whatever its age.
func (s *Store) clearLeftoversLocked() {
	ents, _ := os.ReadDir(s.root)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			os.RemoveAll(filepath.Join(s.root, e.Name()))
		}
	}
}

func (s *Store) endpointPath(netID, ctrID string) string {
	return filepath.Join(s.dir(netID), "endpoints", ctrID+".json")
}

// Endpoints returns a network's endpoints whose container exists, by
// address.
func (s *Store) Endpoints(n *Network) ([]*Endpoint, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir(n.ID), "endpoints"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Endpoint
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if s.ContainerExists != nil && !s.ContainerExists(id) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir(n.ID), "endpoints", e.Name()))
		if err != nil {
			continue
		}
		var ep Endpoint
		if json.Unmarshal(data, &ep) == nil {
			out = append(out, &ep)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out, nil
}

// Endpoint returns a container's endpoint on a network, nil if it has
// none.
func (s *Store) Endpoint(n *Network, ctrID string) *Endpoint {
	data, err := os.ReadFile(s.endpointPath(n.ID, ctrID))
	if err != nil {
		return nil
	}
	var ep Endpoint
	if json.Unmarshal(data, &ep) != nil {
		return nil
	}
	return &ep
}

// Attach gives a container an endpoint on a network: the requested
// address (if valid) or the lowest free one, and a MAC derived from it as
// Docker's (02:42 and the four address bytes). The caller holds the lock,
// so two containers never get one address.
func (s *Store) Attach(n *Network, ctrID string, aliases []string, ip string) (*Endpoint, error) {
	if old := s.Endpoint(n, ctrID); old != nil {
		return nil, fmt.Errorf("container %s is already connected to network %s: %w", ctrID[:12], n.Name, errdefs.ErrAlreadyExists)
	}
	eps, err := s.Endpoints(n)
	if err != nil {
		return nil, err
	}
	used := map[netip.Addr]bool{n.Gateway: true}
	for _, ep := range eps {
		used[ep.IP] = true
	}
	var addr netip.Addr
	if ip != "" {
		if addr, err = ParseIP(ip, n.Subnet, n.Gateway); err != nil {
			return nil, err
		}
		if used[addr] {
			return nil, errdefs.InvalidArgument("--ip %s: the address is in use on network %s", ip, n.Name)
		}
	} else {
		last := broadcast(n.Subnet)
		for a := n.Subnet.Addr().Next(); a.Less(last); a = a.Next() {
			if !used[a] {
				addr = a
				break
			}
		}
		if !addr.IsValid() {
			return nil, fmt.Errorf("network %s: no free address left in %s", n.Name, n.Subnet)
		}
	}
	b := addr.As4()
	ep := &Endpoint{ContainerID: ctrID, IP: addr, Aliases: aliases,
		MAC: fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])}
	data, err := json.Marshal(ep)
	if err != nil {
		return nil, err
	}
	path := s.endpointPath(n.ID, ctrID)
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	s.clearStale(n, ctrID)
	return ep, nil
}

// clearStale removes endpoints whose container does not exist (a create
// killed between the endpoint and the record), except the one of keep,
// whose record is being written, and the temporary files of Attaches
// killed before their rename (every Attach holds the lock, so none is
// under way). The caller holds the lock.
func (s *Store) clearStale(n *Network, keep string) {
	ents, _ := os.ReadDir(filepath.Join(s.dir(n.ID), "endpoints"))
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		dead := strings.HasSuffix(e.Name(), ".json.tmp") ||
			ok && id != keep && s.ContainerExists != nil && !s.ContainerExists(id)
		if dead {
			os.Remove(filepath.Join(s.dir(n.ID), "endpoints", e.Name()))
		}
	}
}

// Detach removes a container's endpoint; a missing one is not an error.
func (s *Store) Detach(n *Network, ctrID string) error {
	err := os.Remove(s.endpointPath(n.ID, ctrID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
