package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/netd"
	"github.com/cove-run/cove/internal/network"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/usernet"
)

// Networks opens the user-defined network store, StateRoot/networks:
// beside the container records, so networks survive a reboot as Docker's
// do.
func (e *Engine) Networks() (*usernet.Store, error) {
	if e.networks != nil {
		return e.networks, nil
	}
	s, err := usernet.Open(filepath.Join(e.Config.StateRoot, "networks"))
	if err != nil {
		return nil, err
	}
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	s.ContainerExists = func(id string) bool {
		_, err := os.Stat(stores.Dir(id))
		return err == nil
	}
	e.networks = s
	return s, nil
}

// allNetworks opens the network store and lists its networks.
func (e *Engine) allNetworks() (*usernet.Store, []*usernet.Network, error) {
	ns, err := e.Networks()
	if err != nil {
		return nil, nil, err
	}
	all, err := ns.List()
	return ns, all, err
}

// lockedNetworks opens the network store and takes its lock.
func (e *Engine) lockedNetworks() (*usernet.Store, func(), error) {
	ns, err := e.Networks()
	if err != nil {
		return nil, nil, err
	}
	unlock, err := ns.Lock()
	if err != nil {
		return nil, nil, err
	}
	return ns, unlock, nil
}

// NetworkCreateOptions are `network create`'s.
type NetworkCreateOptions struct {
	Name     string
	Driver   string
	Subnet   string
	Gateway  string
	Internal bool
	Labels   []string
}

// CreateNetwork records a new bridge network.
func (e *Engine) CreateNetwork(o NetworkCreateOptions) (*usernet.Network, error) {
	if o.Driver != "" && o.Driver != "bridge" {
		return nil, errdefs.InvalidArgument("--driver %q: only the bridge driver exists", o.Driver)
	}
	labels, err := spec.Labels(nil, o.Labels)
	if err != nil {
		return nil, err
	}
	ns, err := e.Networks()
	if err != nil {
		return nil, err
	}
	return ns.Create(usernet.CreateOptions{Name: o.Name, Subnet: o.Subnet, Gateway: o.Gateway, Internal: o.Internal, Labels: labels})
}

// NetworkInspect is a network in the schema of `docker network inspect`.
type NetworkInspect struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Created    string                      `json:"Created"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       NetworkIPAM                 `json:"IPAM"`
	Internal   bool                        `json:"Internal"`
	Attachable bool                        `json:"Attachable"`
	Ingress    bool                        `json:"Ingress"`
	ConfigOnly bool                        `json:"ConfigOnly"`
	Containers map[string]NetworkContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`
	builtin    bool
}

// NetworkIPAM is the IPAM section.
type NetworkIPAM struct {
	Driver  string              `json:"Driver"`
	Options map[string]string   `json:"Options"`
	Config  []NetworkIPAMConfig `json:"Config"`
}

// NetworkIPAMConfig is one subnet.
type NetworkIPAMConfig struct {
	Subnet  string `json:"Subnet"`
	Gateway string `json:"Gateway"`
}

// NetworkContainer is one entry of Containers.
type NetworkContainer struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

// Builtin reports whether the network is one of the predefined ones.
func (n *NetworkInspect) Builtin() bool { return n.builtin }

// predefinedNetworks are what `docker network ls` always shows: bridge is
// cove's default network (per-container pasta or slirp4netns), host and
// none the modes of those names. Their IDs are fixed digests of the names,
// so that they stay the same between invocations, as a daemon's would.
func predefinedNetworks() []*NetworkInspect {
	var out []*NetworkInspect
	for _, p := range [][2]string{{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}} {
		sum := sha256.Sum256([]byte("cove predefined network " + p[0]))
		out = append(out, &NetworkInspect{Name: p[0], ID: hex.EncodeToString(sum[:]), Created: timeString(time.Time{}), Scope: "local",
			Driver: p[1], IPAM: NetworkIPAM{Driver: "default", Options: map[string]string{}, Config: []NetworkIPAMConfig{}},
			Containers: map[string]NetworkContainer{}, Options: map[string]string{}, Labels: map[string]string{}, builtin: true})
	}
	return out
}

// inspectOf renders a user network with its containers.
func (e *Engine) inspectOf(ns *usernet.Store, n *usernet.Network) *NetworkInspect {
	in := &NetworkInspect{Name: n.Name, ID: n.ID, Created: timeString(n.Created), Scope: "local", Driver: n.Driver,
		IPAM:     NetworkIPAM{Driver: "default", Options: map[string]string{}, Config: []NetworkIPAMConfig{{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()}}},
		Internal: n.Internal, Containers: map[string]NetworkContainer{}, Options: map[string]string{}, Labels: n.Labels}
	eps, _ := ns.Endpoints(n)
	stores, _ := e.States()
	for _, ep := range eps {
		name := ""
		if c, err := stores.Get(ep.ContainerID); err == nil {
			name = c.Name
		}
		sum := sha256.Sum256([]byte(n.ID + ep.ContainerID))
		in.Containers[ep.ContainerID] = NetworkContainer{Name: name, EndpointID: hex.EncodeToString(sum[:]), MacAddress: ep.MAC,
			IPv4Address: fmt.Sprintf("%s/%d", ep.IP, n.Subnet.Bits())}
	}
	return in
}

// ListNetworks lists the predefined and user networks matching Docker's
// --filter values.
func (e *Engine) ListNetworks(filters []string) ([]*NetworkInspect, error) {
	f, err := usernet.ParseFilters(filters)
	if err != nil {
		return nil, err
	}
	ns, all, err := e.allNetworks()
	if err != nil {
		return nil, err
	}
	list := predefinedNetworks()
	for _, n := range all {
		list = append(list, e.inspectOf(ns, n))
	}
	var out []*NetworkInspect
	for _, n := range list {
		if f.Match(n.Name, n.ID, n.Driver, n.Labels, n.builtin) {
			out = append(out, n)
		}
	}
	return out, nil
}

// InspectNetwork describes one network, predefined or user-defined.
func (e *Engine) InspectNetwork(ref string) (*NetworkInspect, error) {
	for _, p := range predefinedNetworks() {
		if p.Name == ref || p.ID == ref {
			return p, nil
		}
	}
	ns, err := e.Networks()
	if err != nil {
		return nil, err
	}
	n, err := ns.Get(ref)
	if err != nil {
		return nil, err
	}
	return e.inspectOf(ns, n), nil
}

// NetworkExists reports whether a network exists.
func (e *Engine) NetworkExists(ref string) (bool, error) {
	_, err := e.InspectNetwork(ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// networkUsers names the containers connected to a network. The caller
// holds the network lock.
func (e *Engine) networkUsers(ns *usernet.Store, n *usernet.Network) []string {
	eps, _ := ns.Endpoints(n)
	stores, _ := e.States()
	var names []string
	for _, ep := range eps {
		if c, err := stores.Get(ep.ContainerID); err == nil {
			names = append(names, c.Name)
		}
	}
	return names
}

// RemoveNetwork removes a user network no container is connected to
// (running or not: a stopped container would fail to start). force
// ignores a missing network, as Docker's -f does; it never disconnects or
// removes containers.
func (e *Engine) RemoveNetwork(ref string, force bool) (string, error) {
	for _, p := range predefinedNetworks() {
		if p.Name == ref || p.ID == ref {
			return "", fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", p.Name, errdefs.ErrInvalidArgument)
		}
	}
	ns, unlock, err := e.lockedNetworks()
	if err != nil {
		return "", err
	}
	defer unlock()
	n, err := ns.Get(ref)
	if err != nil {
		if force && errors.Is(err, errdefs.ErrNotFound) {
			return "", nil
		}
		return "", err
	}
	if users := e.networkUsers(ns, n); len(users) > 0 {
		return "", fmt.Errorf("error while removing network: network %s id %s has active endpoints (containers %s): remove them or disconnect them first: %w",
			n.Name, n.ID, strings.Join(users, ", "), errdefs.ErrInUse)
	}
	return n.Name, ns.Remove(n)
}

// PruneNetworks removes the user networks no container is connected to;
// filters are label=, label!=.
func (e *Engine) PruneNetworks(filters []string) ([]string, error) {
	f, err := usernet.ParseFilters(filters)
	if err != nil {
		return nil, err
	}
	if len(f.Names) > 0 || len(f.IDs) > 0 || len(f.Drivers) > 0 || len(f.Types) > 0 {
		return nil, errdefs.InvalidArgument("network prune takes label and label! filters only")
	}
	ns, err := e.Networks()
	if err != nil {
		return nil, err
	}
	ns.ClearLeftovers()
	unlock, err := ns.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := ns.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range all {
		if !f.Match(n.Name, n.ID, n.Driver, n.Labels, false) || len(e.networkUsers(ns, n)) > 0 {
			continue
		}
		if err := ns.Remove(n); err != nil {
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

// attachment is a container's endpoint with its network.
type attachment struct {
	Network  *usernet.Network
	Endpoint *usernet.Endpoint
}

// attachmentsOf returns the networks a container is connected to, by
// network name.
func (e *Engine) attachmentsOf(id string) ([]attachment, error) {
	ns, all, err := e.allNetworks()
	if err != nil {
		return nil, err
	}
	var out []attachment
	for _, n := range all {
		if ep := ns.Endpoint(n, id); ep != nil {
			out = append(out, attachment{Network: n, Endpoint: ep})
		}
	}
	return out, nil
}

// attachAtCreate connects a container being created to its user networks
// and then records it (create), holding the network lock throughout so
// that `network rm` sees either no container or a connected one. On
// failure the endpoints go again.
func (e *Engine) attachAtCreate(id string, p *parsedOptions, create func() error) error {
	if len(p.UserNetworks) == 0 {
		return create()
	}
	ns, unlock, err := e.lockedNetworks()
	if err != nil {
		return err
	}
	defer unlock()
	var done []*usernet.Network
	undo := func() {
		for _, n := range done {
			ns.Detach(n, id)
		}
	}
	for _, want := range p.UserNetworks {
		n, err := ns.Get(want.Name)
		if err != nil {
			undo()
			return err
		}
		if _, err := ns.Attach(n, id, want.Aliases, want.IP); err != nil {
			undo()
			return err
		}
		done = append(done, n)
	}
	if err := create(); err != nil {
		undo()
		return err
	}
	return nil
}

// detachAll removes a removed container's endpoints. It looks for them
// before taking the lock: most containers have no user network, and their
// rm should not wait behind a network create or connect. Looking without
// the lock is safe because the container's record is already gone: an
// endpoint a racing connect writes after the look belongs to a container
// that does not exist, which every reader ignores and the next change
// under the lock removes.
func (e *Engine) detachAll(id string) {
	atts, err := e.attachmentsOf(id)
	if err != nil || len(atts) == 0 {
		return
	}
	ns, unlock, err := e.lockedNetworks()
	if err != nil {
		return
	}
	defer unlock()
	for _, a := range atts {
		ns.Detach(a.Network, id)
	}
}

// ConnectNetwork connects a container to a user network (Docker's
// `network connect`). A running container gets its interface at once.
func (e *Engine) ConnectNetwork(netRef, ctrRef string, aliases []string, ip string) error {
	for _, a := range aliases {
		if err := usernet.ValidateAlias(a); err != nil {
			return err
		}
	}
	ns, err := e.Networks()
	if err != nil {
		return err
	}
	c, rec, err := e.lookupReconciled(ctrRef)
	if err != nil {
		return err
	}
	if m := rec.Parsed.Network; m != networkDefault && m != network.Pasta && m != network.Slirp {
		return errdefs.InvalidArgument("container %s uses the %s network mode, which cannot be combined with a user network", c.Name, rec.Options.Network)
	}
	unlock, err := ns.Lock()
	if err != nil {
		return err
	}
	n, err := ns.Get(netRef)
	if err != nil {
		unlock()
		return err
	}
	if ns.Endpoint(n, c.ID) != nil {
		// Named as the user named it, not by the short ID Attach knows.
		unlock()
		return fmt.Errorf("container %s is already connected to network %s: %w", c.Name, n.Name, errdefs.ErrAlreadyExists)
	}
	ep, err := ns.Attach(n, c.ID, aliases, ip)
	unlock()
	if err != nil {
		return err
	}
	if !isRunning(c.State.Status) {
		return nil
	}
	if err := e.plugLive(c, []attachment{{Network: n, Endpoint: ep}}); err != nil {
		ns.Detach(n, c.ID)
		return fmt.Errorf("connecting container %s to network %s: %w", c.Name, n.Name, err)
	}
	if atts, _ := e.attachmentsOf(c.ID); len(atts) == 1 && !isContainerNetwork(rec.Parsed.Network) {
		// Its first user network: point its resolv.conf at the
		// network's resolver now, as Docker's containers find names
		// at once. The files are rewritten in place (same inodes), so
		// the container's bind mounts show the new content.
		if _, err := e.writeEtcFiles(c, rec); err != nil {
			return fmt.Errorf("container %s is connected to network %s, but its resolv.conf was not updated: %w", c.Name, n.Name, err)
		}
	}
	return nil
}

// DisconnectNetwork disconnects a container from a user network; a
// running container loses the interface at once.
func (e *Engine) DisconnectNetwork(netRef, ctrRef string, force bool) error {
	c, _, err := e.lookupReconciled(ctrRef)
	if err != nil {
		return err
	}
	ns, unlock, err := e.lockedNetworks()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := ns.Get(netRef)
	if err != nil {
		return err
	}
	ep := ns.Endpoint(n, c.ID)
	if ep == nil {
		if force {
			return nil
		}
		return fmt.Errorf("container %s is not connected to network %s: %w", c.Name, n.Name, errdefs.ErrNotFound)
	}
	if isRunning(c.State.Status) {
		if err := e.unplugLive(c, n, ep); err != nil && !force {
			return fmt.Errorf("disconnecting container %s from network %s: %w", c.Name, n.Name, err)
		}
	}
	return ns.Detach(n, c.ID)
}

// InspectEndpoint is one entry of NetworkSettings.Networks.
type InspectEndpoint struct {
	Aliases     []string `json:"Aliases"`
	NetworkID   string   `json:"NetworkID"`
	EndpointID  string   `json:"EndpointID"`
	Gateway     string   `json:"Gateway"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	MacAddress  string   `json:"MacAddress"`
}

// endpointsOf is a container's NetworkSettings.Networks for its user
// networks.
func (e *Engine) endpointsOf(c *state.Container) map[string]InspectEndpoint {
	atts, _ := e.attachmentsOf(c.ID)
	if len(atts) == 0 {
		return nil
	}
	out := map[string]InspectEndpoint{}
	for _, a := range atts {
		sum := sha256.Sum256([]byte(a.Network.ID + c.ID))
		aliases := append([]string{c.ID[:12]}, a.Endpoint.Aliases...)
		out[a.Network.Name] = InspectEndpoint{Aliases: aliases, NetworkID: a.Network.ID, EndpointID: hex.EncodeToString(sum[:]),
			Gateway: a.Network.Gateway.String(), IPAddress: a.Endpoint.IP.String(), IPPrefixLen: a.Network.Subnet.Bits(), MacAddress: a.Endpoint.MAC}
	}
	return out
}

// netdDir is where the shared namespace's keeper keeps its lock, record
// and socket: the run root, since it does not outlive a reboot.
func (e *Engine) netdDir() string { return filepath.Join(e.Config.RunRoot, "netd") }

// netdEndpoints turns a container's attachments into what netd and Plug
// need: the names it resolves by are its name, its short ID and the
// endpoint's aliases.
func netdEndpoints(c *state.Container, atts []attachment) []netd.Endpoint {
	var out []netd.Endpoint
	for _, a := range atts {
		n := a.Network
		names := append([]string{c.Name, c.ID[:12]}, a.Endpoint.Aliases...)
		out = append(out, netd.Endpoint{
			Network: netd.Network{ID: n.ID, Name: n.Name, Bridge: n.BridgeName(), Subnet: n.Subnet, Gateway: n.Gateway},
			IP:      a.Endpoint.IP, MAC: a.Endpoint.MAC, Names: names,
		})
	}
	return out
}

// userNetworkPlug returns the BeforeSetup step that connects a starting
// container to its user networks (nil without any), and whether all of
// them are --internal.
func (e *Engine) userNetworkPlug(c *state.Container, rec *containerRecord) (func(pid int) error, bool, error) {
	if rec.Parsed.Network != networkDefault && rec.Parsed.Network != network.Pasta && rec.Parsed.Network != network.Slirp {
		return nil, false, nil
	}
	atts, err := e.attachmentsOf(c.ID)
	if err != nil || len(atts) == 0 {
		return nil, false, err
	}
	internalOnly := true
	for _, a := range atts {
		internalOnly = internalOnly && a.Network.Internal
	}
	eps := netdEndpoints(c, atts)
	dir := e.netdDir()
	return func(pid int) error { return netd.Attach(dir, c.ID, pid, eps) }, internalOnly, nil
}

// plugLive gives a running container its interfaces on networks (network
// connect).
func (e *Engine) plugLive(c *state.Container, atts []attachment) error {
	return netd.Attach(e.netdDir(), c.ID, c.State.Pid, netdEndpoints(c, atts))
}

// unplugLive removes a running container's interface on a network
// (network disconnect).
func (e *Engine) unplugLive(c *state.Container, n *usernet.Network, ep *usernet.Endpoint) error {
	return netd.Detach(e.netdDir(), c.ID, n.ID)
}

// ContainerNetworks names a container's networks as ps shows them: its
// user networks, else its mode (Docker's "bridge" for the default).
func (e *Engine) ContainerNetworks(c *ContainerSummary) []string {
	atts, _ := e.attachmentsOf(c.ID)
	var names []string
	for _, a := range atts {
		names = append(names, a.Network.Name)
	}
	if len(names) == 0 {
		mode := c.NetworkMode
		if mode == "" || mode == networkDefault || mode == "private" {
			mode = "bridge"
		}
		names = []string{mode}
	}
	return names
}
