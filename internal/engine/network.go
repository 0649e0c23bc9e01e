package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/network"
	"github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/usernet"
	"github.com/cove-run/cove/pkg/atomicfile"
)

// networkDefault is the recorded network of a container created without
// --network (or with default or bridge): the helper is chosen at each
// start (pasta if installed, else slirp4netns).
const networkDefault = "default"

// netStateFile records a running container's network helper and its
// published ports, for the supervisor that stops it and for port, ps and
// inspect. It exists only while the container runs.
const netStateFile = "network.json"

// netState is the content of netStateFile.
type netState struct {
	Helper string `json:"Helper"`
	Pid    int    `json:"Pid"`
	Start  uint64 `json:"Start"`
	// Parent is the supervisor that started the helper.
	Parent int                 `json:"Parent"`
	Ports  []network.Published `json:"Ports,omitempty"`
	// IPAddress and Gateway are the container's, for inspect.
	IPAddress string `json:"IPAddress,omitempty"`
	Gateway   string `json:"Gateway,omitempty"`
}

// userNetworkRequest is a user network create connects a container to.
type userNetworkRequest struct {
	Name    string   `json:"Name"`
	Aliases []string `json:"Aliases,omitempty"`
	IP      string   `json:"IP,omitempty"`
}

// isNetworkMode tells --network values that name a mode (default, host,
// container:NAME, ...) from user networks' names.
func isNetworkMode(v string) bool {
	switch v {
	case "", networkDefault, "bridge", "private", spec.NetworkNone, spec.NetworkHost, network.Pasta, network.Slirp:
		return true
	}
	return strings.Contains(v, ":")
}

// parseUserNetworks handles --network values that name user networks
// (their existence is checked at create, under the network lock), with
// --network-alias and --ip. Docker's default bridge may be named beside
// them: every container on a user network keeps its own pasta for
// outbound traffic and published ports anyway.
func parseUserNetworks(o *ContainerOptions, p *parsedOptions) (bool, error) {
	var users []string
	for _, v := range append([]string{o.Network}, o.Networks...) {
		switch {
		case v == "" || v == "bridge" || v == networkDefault:
		case isNetworkMode(v):
			if len(o.Networks) > 0 {
				return false, errdefs.InvalidArgument("--network %q cannot be combined with other networks", v)
			}
			return false, nil
		default:
			if prob := usernet.NameProblem(v); prob != "" {
				return false, errdefs.InvalidArgument("--network %q: no such network (a network name %s)", v, prob)
			}
			if slices.Contains(users, v) {
				return false, errdefs.InvalidArgument("--network %q given twice", v)
			}
			users = append(users, v)
		}
	}
	if len(users) == 0 {
		if len(o.NetworkAliases) > 0 || o.IP != "" {
			return false, errdefs.InvalidArgument("--network-alias and --ip need a user-defined network (network create, then --network NAME)")
		}
		return false, nil
	}
	for _, a := range o.NetworkAliases {
		if err := usernet.ValidateAlias(a); err != nil {
			return false, err
		}
	}
	if o.IP != "" && len(users) > 1 {
		return false, errdefs.InvalidArgument("--ip %q: give one user network with --ip (connect the others with network connect --ip)", o.IP)
	}
	for _, u := range users {
		p.UserNetworks = append(p.UserNetworks, userNetworkRequest{Name: u, Aliases: o.NetworkAliases, IP: o.IP})
	}
	p.Network = networkDefault
	return true, nil
}

// parseNetwork validates --network and the options that go with it.
func parseNetwork(o *ContainerOptions, p *parsedOptions) error {
	user, err := parseUserNetworks(o, p)
	if err != nil {
		return err
	}
	switch net := o.Network; {
	case user:
	case net == "" || net == networkDefault || net == "bridge" || net == "private":
		p.Network = networkDefault
	case net == spec.NetworkNone || net == spec.NetworkHost || net == network.Pasta || net == network.Slirp:
		p.Network = net
	case strings.HasPrefix(net, "container:"):
		ref := strings.TrimPrefix(net, "container:")
		if ref == "" {
			return errdefs.InvalidArgument("--network %q: name the container (container:NAME or ID)", net)
		}
		// Docker's conflicts: the other container's network settings
		// are this one's.
		switch {
		case len(o.Publish) > 0 || o.PublishAll || len(o.Expose) > 0:
			return errdefs.InvalidArgument("--network %q: conflicting options: port publishing and the container type network mode", net)
		case len(o.AddHost) > 0 || len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOption) > 0:
			return errdefs.InvalidArgument("--network %q: conflicting options: --add-host and --dns* and the container type network mode", net)
		}
		p.Network = net
	case strings.HasPrefix(net, "ns:"):
		// Podman's mode: a network namespace named by a path, typically
		// /proc/PID/ns/net of a process of the user's; checked at start,
		// when it is opened.
		path := strings.TrimPrefix(net, "ns:")
		if !filepath.IsAbs(path) || filepath.Clean(path) != path {
			return errdefs.InvalidArgument("--network %q: the path must be absolute and clean (ns:/proc/PID/ns/net)", net)
		}
		if len(o.Publish) > 0 || o.PublishAll {
			return errdefs.InvalidArgument("--network %q: conflicting options: port publishing needs a network helper, and a joined namespace has none", net)
		}
		p.Network = net
	case strings.HasPrefix(net, "slirp4netns:") || strings.HasPrefix(net, "pasta:"):
		return errdefs.InvalidArgument("--network %q: options for the network helper are not supported yet; use %s", net, strings.SplitN(net, ":", 2)[0])
	default:
		return errdefs.InvalidArgument("--network %q: no such network mode", net)
	}
	for _, v := range o.Publish {
		m, err := spec.ParsePublish(v)
		if err != nil {
			return err
		}
		p.Ports = append(p.Ports, m)
	}
	for _, v := range o.Expose {
		ports, err := spec.ParseExpose("--expose", v)
		if err != nil {
			return err
		}
		p.Expose = append(p.Expose, ports...)
	}
	for _, v := range o.AddHost {
		h, err := spec.ParseAddHost(v)
		if err != nil {
			return err
		}
		p.AddHosts = append(p.AddHosts, h)
	}
	for _, v := range o.DNS {
		s, err := spec.ParseDNSServer(v)
		if err != nil {
			return err
		}
		p.DNS.Servers = append(p.DNS.Servers, s)
	}
	for _, v := range o.DNSSearch {
		if err := spec.ValidateDNSSearch(v); err != nil {
			return err
		}
		p.DNS.Search = append(p.DNS.Search, v)
	}
	for _, v := range o.DNSOption {
		if err := spec.ValidateDNSOption(v); err != nil {
			return err
		}
		p.DNS.Options = append(p.DNS.Options, v)
	}
	if len(o.Publish) > 0 || o.PublishAll {
		switch p.Network {
		case spec.NetworkNone:
			return errdefs.InvalidArgument("-p/-P: a container with --network none has no network to publish ports on")
		}
	}
	if p.Network == spec.NetworkHost {
		// Docker discards published ports with the host's network: the
		// container's ports are the host's.
		p.Ports = nil
	}
	return checkPortOverlap(p.Ports, o.Publish)
}

// checkPortOverlap refuses, at create, host ports that two -p options
// both claim (the same port and protocol, on any addresses), which would
// otherwise only fail at start and leave an exited container. Random host
// ports cannot clash.
func checkPortOverlap(maps []spec.PortMapping, specs []string) error {
	type claim struct {
		ip   string
		spec string
	}
	claims := map[string]claim{} // "port/proto" -> the first -p to claim it
	for j, m := range maps {
		if m.HostPort == 0 || m.HostRangeEnd != 0 || j >= len(specs) {
			continue
		}
		for i := 0; i < int(m.Count); i++ {
			k := strconv.Itoa(int(m.HostPort)+i) + "/" + m.Protocol
			if c, taken := claims[k]; taken {
				if c.ip == m.HostIP || c.ip == "" || m.HostIP == "" {
					return errdefs.InvalidArgument("-p: host port %s is published twice (%q and %q)", k, c.spec, specs[j])
				}
				// Docker binds one port on two addresses; pasta refuses
				// ("overlapping port specifier"), so say it now.
				return errdefs.InvalidArgument("-p: host port %s is published on two addresses (%q and %q), which cove's network helper cannot do; use one address or two ports", k, c.spec, specs[j])
			}
			claims[k] = claim{ip: m.HostIP, spec: specs[j]}
		}
	}
	return nil
}

// helperFor resolves the container's network helper: "" for none and
// host. publishes says whether the container publishes ports (-p, or -P
// with ports to publish).
func (e *Engine) helperFor(p *parsedOptions, publishes bool) (string, error) {
	switch p.Network {
	case network.Pasta, network.Slirp:
		return p.Network, nil
	case networkDefault:
		return network.Choose(e.Config.NetworkHelper, publishes)
	}
	return "", nil
}

// publishesPorts says whether a container publishes ports.
func publishesPorts(rec *containerRecord) bool {
	return len(portMappings(rec)) > 0
}

// portMappings are the container's -p mappings plus, with -P, every port
// the image EXPOSEs and --expose names, on free host ports.
func portMappings(rec *containerRecord) []spec.PortMapping {
	maps := append([]spec.PortMapping{}, rec.Parsed.Ports...)
	if !rec.Options.PublishAll {
		return maps
	}
	// -P publishes the exposed ports that -p did not: Docker gives a port
	// with a binding no second, random one.
	bound := map[spec.ExposedPort]bool{}
	for _, m := range rec.Parsed.Ports {
		for i := 0; i < int(m.Count); i++ {
			bound[spec.ExposedPort{Port: m.ContainerPort + uint16(i), Protocol: m.Protocol}] = true
		}
	}
	for _, e := range exposedPorts(rec) {
		if !bound[e] {
			maps = append(maps, spec.PortMapping{ContainerPort: e.Port, Count: 1, Protocol: e.Protocol})
		}
	}
	return maps
}

// exposedPorts are the image's EXPOSE and --expose ports, sorted.
func exposedPorts(rec *containerRecord) []spec.ExposedPort {
	seen := map[spec.ExposedPort]bool{}
	var out []spec.ExposedPort
	add := func(e spec.ExposedPort) {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for k := range rec.ImageConfig.ExposedPorts {
		// An image's EXPOSE the spec parser rejects is not worth failing
		// the start for; skip it.
		if ports, err := spec.ParseExpose("EXPOSE", k); err == nil {
			for _, e := range ports {
				add(e)
			}
		}
	}
	for _, e := range rec.Parsed.Expose {
		add(e)
	}
	for _, m := range rec.Parsed.Ports {
		for i := 0; i < int(m.Count); i++ {
			add(spec.ExposedPort{Port: m.ContainerPort + uint16(i), Protocol: m.Protocol})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}

// networkStarter connects a container's network namespace as the runtime's
// BeforeSetup hook, and remembers the helper it started.
type networkStarter struct {
	helper   string
	dir      string
	cacheDir string
	ports    []network.Published
	h        *network.Helper
	// killed is the helper kill stopped, until reap.
	killed *network.Helper
}

// prepareNetwork allocates the published ports (refusing taken and
// privileged ones before anything starts) and returns the starter, nil
// for a container without a helper.
func prepareNetwork(dir, cacheDir string, rec *containerRecord, helper string) (*networkStarter, error) {
	if helper == "" {
		return nil, nil
	}
	ports, err := network.AllocatePorts(portMappings(rec))
	if err != nil {
		return nil, err
	}
	return &networkStarter{helper: helper, dir: dir, cacheDir: cacheDir, ports: ports}, nil
}

// networkFor prepares the container's network and sets the runtime's hook
// that connects it; nil for none and host.
func (e *Engine) networkFor(c *state.Container, rec *containerRecord, opts *runtime.Options, early *EarlyNetwork) (*networkStarter, error) {
	helper, err := e.helperFor(&rec.Parsed, publishesPorts(rec))
	if err != nil {
		return nil, err
	}
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	dir := stores.Dir(c.ID)
	// A helper recorded by an earlier run whose supervisor died.
	stopOrphanedNetwork(dir)
	plug, internalOnly, err := e.userNetworkPlug(c, rec)
	if err != nil {
		return nil, err
	}
	if internalOnly {
		// --internal networks only: no way out, as Docker's.
		helper = ""
	}
	if isContainerNetwork(rec.Parsed.Network) {
		if err := e.joinOwnerNetwork(c, rec, opts); err != nil {
			return nil, err
		}
	}
	if isPathNetwork(rec.Parsed.Network) {
		if err := joinPathNetwork(rec, opts); err != nil {
			return nil, err
		}
	}
	n, err := prepareNetwork(dir, e.Config.RunRoot, rec, helper)
	if err != nil {
		return nil, err
	}
	if n == nil || !early.take(helper, n, opts) {
		// Not for this container after all (or no helper wanted, as
		// with --internal networks): no idle helper meanwhile.
		early.Stop()
		if n != nil {
			opts.BeforeSetup = n.connect
		}
	}
	if plug != nil {
		// After the helper: the container's ethN come after its eth0.
		if first := opts.BeforeSetup; first != nil {
			opts.BeforeSetup = func(pid int) error {
				if err := first(pid); err != nil {
					return err
				}
				return plug(pid)
			}
		} else {
			opts.BeforeSetup = plug
		}
	}
	return n, nil
}

// connect is the BeforeSetup hook: it starts the helper on the init's
// network namespace and records it.
func (n *networkStarter) connect(pid int) error {
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return fmt.Errorf("opening the container's network namespace: %w", err)
	}
	defer ns.Close()
	h, err := network.Start(network.StartOptions{Helper: n.helper, NetNS: ns, Ports: n.ports, Dir: n.dir, CacheDir: n.cacheDir})
	if err != nil {
		return err
	}
	return n.record(h)
}

// record makes h the container's helper and records it.
func (n *networkStarter) record(h *network.Helper) error {
	n.h = h
	rec := netState{Helper: h.Name, Pid: h.Pid, Start: h.Start, Parent: os.Getpid(), Ports: n.ports}
	if a, err := network.AddressesFor(n.helper, n.cacheDir); err == nil {
		rec.IPAddress, rec.Gateway = a.ContainerIP, a.Gateway
	}
	data, _ := json.Marshal(rec)
	if err := atomicfile.Write(filepath.Join(n.dir, netStateFile), data, 0o600); err != nil {
		h.Stop()
		n.h = nil
		return err
	}
	return nil
}

// stop stops the helper this process started and forgets it.
func (n *networkStarter) stop() {
	n.kill()
	n.reap()
}

// reap waits for a helper killed by kill to be gone.
func (n *networkStarter) reap() {
	if n != nil && n.killed != nil {
		n.killed.Reap()
		n.killed = nil
	}
}

// kill kills the helper without waiting for its exit (see
// network.Helper.Kill); reap waits.
func (n *networkStarter) kill() {
	if n == nil || n.h == nil {
		return
	}
	pid := n.h.Pid
	n.h.Kill()
	n.killed, n.h = n.h, nil
	// Unless a new run (a start right after the exit) recorded its own.
	if ns, ok := readNetState(n.dir); ok && ns.Pid == pid {
		os.Remove(filepath.Join(n.dir, netStateFile))
	}
}

// stopOwnNetwork stops the helper recorded in a container's directory if
// this process started it (the launcher, back from its monitor).
func stopOwnNetwork(dir string) {
	ns, ok := readNetState(dir)
	if !ok {
		return
	}
	self := os.Getpid()
	if ns.Parent != self {
		// Another launcher's run (the container was started again).
		return
	}
	// Without published ports nobody needs the helper gone at once: the
	// monitor (after a restart's execve) or init reaps it.
	if network.StopRecorded(ns.Pid, ns.Start, func(ppid int) bool { return ppid == self }, len(ns.Ports) == 0) {
		os.Remove(filepath.Join(dir, netStateFile))
	}
}

// stopOrphanedNetwork stops the helper recorded in a container's
// directory if its supervisor is gone (a cove command that finds the
// container's process dead). The kernel's parent-death signal normally
// took it already; a helper whose parent is still its supervisor belongs
// to a live run and is left alone.
func stopOrphanedNetwork(dir string) {
	ns, ok := readNetState(dir)
	if !ok {
		return
	}
	if network.StopRecorded(ns.Pid, ns.Start, func(ppid int) bool { return ppid != ns.Parent }, false) {
		os.Remove(filepath.Join(dir, netStateFile))
	}
}

func readNetState(dir string) (*netState, bool) {
	b, err := os.ReadFile(filepath.Join(dir, netStateFile))
	if err != nil {
		return nil, false
	}
	var ns netState
	if json.Unmarshal(b, &ns) != nil {
		return nil, false
	}
	return &ns, true
}

// etcNetworkFiles returns the container's /etc/hosts and /etc/resolv.conf.
// atts are the container's user networks.
func (e *Engine) etcNetworkFiles(c *state.Container, rec *containerRecord, cacheDir string, atts []attachment) (hosts, resolv string, err error) {
	p := &rec.Parsed
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	d := network.DNS{Servers: p.DNS.Servers, Search: p.DNS.Search, Options: p.DNS.Options}
	switch p.Network {
	case spec.NetworkHost:
		b, _ := os.ReadFile("/etc/hosts")
		return network.AppendHosts(string(b), p.AddHosts), network.ResolvConf(string(hostResolv), d, ""), nil
	case spec.NetworkNone:
		return network.IsolatedHostsFile(p.AddHosts, rec.Hostname, c.Name), network.ResolvConf(string(hostResolv), d, ""), nil
	}
	if isPathNetwork(p.Network) {
		// Whatever the namespace has: the host's resolvers, as with none.
		return network.IsolatedHostsFile(p.AddHosts, rec.Hostname, c.Name), network.ResolvConf(string(hostResolv), d, ""), nil
	}
	helper, err := e.helperFor(p, publishesPorts(rec))
	if err != nil {
		return "", "", err
	}
	a, err := network.AddressesFor(helper, cacheDir)
	if err != nil {
		return "", "", err
	}
	dns := a.DNS
	if len(atts) > 0 {
		// The first network's resolver, on its gateway: it answers the
		// names of the network's containers and forwards the rest.
		dns = atts[0].Network.Gateway.String()
		a.ContainerIP = atts[0].Endpoint.IP.String()
	}
	return network.HostsFile(a, p.AddHosts, rec.Hostname, c.Name), network.ResolvConf(string(hostResolv), d, dns), nil
}

// PortsOf returns a running container's published ports, Docker's
// "80/tcp" -> bindings, with every exposed port (nil bindings when not
// published).
func (e *Engine) portsOf(c *state.Container, rec *containerRecord) map[string][]PortBinding {
	out := map[string][]PortBinding{}
	for _, x := range exposedPorts(rec) {
		out[strconv.Itoa(int(x.Port))+"/"+x.Protocol] = nil
	}
	ns, ok := e.runningNetState(c)
	if !ok {
		return out
	}
	for _, p := range ns.Ports {
		k := strconv.Itoa(int(p.ContainerPort)) + "/" + p.Protocol
		ips := []string{p.HostIP}
		if p.HostIP == "" {
			// Docker lists the wildcard once per family; slirp4netns
			// binds IPv4 only.
			ips = []string{"0.0.0.0", "::"}
			if ns.Helper == network.Slirp {
				ips = ips[:1]
			}
		}
		for _, ip := range ips {
			out[k] = append(out[k], PortBinding{HostIP: ip, HostPort: strconv.Itoa(int(p.HostPort))})
		}
	}
	return out
}

// runningNetState is the network record of a running container.
func (e *Engine) runningNetState(c *state.Container) (*netState, bool) {
	if c.State.Status != state.Running && c.State.Status != state.Paused {
		return nil, false
	}
	stores, err := e.States()
	if err != nil {
		return nil, false
	}
	return readNetState(stores.Dir(c.ID))
}

// ContainerPorts returns a container's published ports (cove port).
func (e *Engine) ContainerPorts(ref string) (string, map[string][]PortBinding, error) {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return "", nil, err
	}
	ports := e.portsOf(c, rec)
	for k, v := range ports {
		if len(v) == 0 {
			delete(ports, k)
		}
	}
	return c.Name, ports, nil
}

// PortKeys returns the "80/tcp" keys of a port map in port order.
func PortKeys(ports map[string][]PortBinding) []string {
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		pi, _ := strconv.Atoi(strings.SplitN(keys[i], "/", 2)[0])
		pj, _ := strconv.Atoi(strings.SplitN(keys[j], "/", 2)[0])
		return pi < pj || pi == pj && keys[i] < keys[j]
	})
	return keys
}

// portsSummary is ps's PORTS column: "0.0.0.0:8080->80/tcp, :::8080->80/tcp".
// Consecutive container ports published on consecutive host ports of one
// address collapse into ranges, "0.0.0.0:8000-8001->80-81/tcp", and so do
// consecutive exposed-only ports, "80-81/tcp", as Docker prints them.
func portsSummary(ports map[string][]PortBinding) string {
	type run struct {
		host           string // "" for an exposed-only port
		hostLo, hostHi int
		ctrLo, ctrHi   int
		proto          string
	}
	var runs []*run
	// open holds, per address and protocol, the run the next port may
	// extend.
	open := map[string]*run{}
	for _, k := range PortKeys(ports) {
		ps, proto, _ := strings.Cut(k, "/")
		cp, _ := strconv.Atoi(ps)
		bs := ports[k]
		if len(bs) == 0 {
			bs = []PortBinding{{HostPort: ""}}
		}
		for _, b := range bs {
			host := ""
			if b.HostPort != "" {
				host = b.HostIP
				if strings.Contains(host, ":") {
					host = "[" + host + "]"
					if b.HostIP == "::" {
						host = "::"
					}
				}
			}
			hp, _ := strconv.Atoi(b.HostPort)
			key := host + "|" + proto + "|" + strconv.FormatBool(b.HostPort == "")
			if r := open[key]; r != nil && r.ctrHi+1 == cp && (b.HostPort == "" || r.hostHi+1 == hp) {
				r.ctrHi, r.hostHi = cp, hp
				continue
			}
			r := &run{host: host, hostLo: hp, hostHi: hp, ctrLo: cp, ctrHi: cp, proto: proto}
			if b.HostPort == "" {
				r.host = ""
			}
			open[key] = r
			runs = append(runs, r)
		}
	}
	span := func(lo, hi int) string {
		if lo == hi {
			return strconv.Itoa(lo)
		}
		return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	}
	parts := make([]string, 0, len(runs))
	for _, r := range runs {
		ctr := span(r.ctrLo, r.ctrHi) + "/" + r.proto
		if r.host == "" && r.hostLo == 0 {
			parts = append(parts, ctr)
			continue
		}
		parts = append(parts, r.host+":"+span(r.hostLo, r.hostHi)+"->"+ctr)
	}
	return strings.Join(parts, ", ")
}

// isPathNetwork reports --network ns:PATH.
func isPathNetwork(mode string) bool { return strings.HasPrefix(mode, "ns:") }

// joinPathNetwork has the container's init join the network namespace at
// the path --network ns:PATH names (through runtime.Options.NetNS, as for
// container:NAME). Only a namespace owned by cove's user namespace (one of
// the user's containers or processes started under `cove unshare`) can be
// joined; the kernel refuses others (EPERM), and that is said.
func joinPathNetwork(rec *containerRecord, opts *runtime.Options) error {
	mode := rec.Parsed.Network
	if ownUserNamespace(opts) {
		return errdefs.InvalidArgument("--network %s cannot be combined with a user namespace of the container's own (--userns, --uidmap)", mode)
	}
	path := strings.TrimPrefix(mode, "ns:")
	f, err := os.Open(path)
	if err != nil {
		return errdefs.InvalidArgument("--network %s: %v", mode, err)
	}
	// NS_GET_NSTYPE tells a network namespace from any other file.
	t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || t != unix.CLONE_NEWNET {
		f.Close()
		return errdefs.InvalidArgument("--network %s: not a network namespace", mode)
	}
	// The init may join only a namespace owned by cove's user namespace
	// (setns needs privilege over the owner). Said here, by name, rather
	// than as the init's EPERM: NS_GET_USERNS fails with EPERM for an
	// owner outside ours, and names another one otherwise.
	if !ownedByOurUserNamespace(f) {
		f.Close()
		return errdefs.InvalidArgument("--network %s: the namespace belongs to another user namespace than cove's (the host's, or another user's); only network namespaces of your containers or of processes under `cove unshare` can be joined", mode)
	}
	opts.NetNS = f
	return nil
}

// ownedByOurUserNamespace says whether the namespace ns is owned by this
// process's user namespace.
func ownedByOurUserNamespace(ns *os.File) bool {
	owner, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		return false
	}
	defer unix.Close(owner)
	var a, b unix.Stat_t
	if unix.Fstat(owner, &a) != nil || unix.Stat("/proc/self/ns/user", &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// isContainerNetwork reports --network container:NAME.
func isContainerNetwork(mode string) bool { return strings.HasPrefix(mode, "container:") }

// networkOwner is the running container whose network namespace a
// --network container:NAME container joins.
func (e *Engine) networkOwner(self *state.Container, mode string) (*state.Container, error) {
	ref := strings.TrimPrefix(mode, "container:")
	other, _, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	if other.ID == self.ID {
		return nil, errdefs.InvalidArgument("--network %s: a container cannot join its own network namespace", mode)
	}
	if !isRunning(other.State.Status) || other.State.Pid <= 0 {
		return nil, fmt.Errorf("cannot join network namespace of a non running container %s: %w", other.Name, errdefs.ErrInvalidState)
	}
	return other, nil
}

// joinOwnerNetwork has the container's init join the network namespace
// of the running container it names (--network container:NAME), through
// runtime.Options.NetNS: the init joins it before the Go runtime starts
// threads. Possible because all of a user's cove processes and containers
// share one user namespace, which owns both network namespaces.
func (e *Engine) joinOwnerNetwork(c *state.Container, rec *containerRecord, opts *runtime.Options) error {
	other, err := e.networkOwner(c, rec.Parsed.Network)
	if err != nil {
		return err
	}
	if ownUserNamespace(opts) {
		// Root only in its own namespace, the init would lack privilege
		// over the other container's network namespace.
		return errdefs.InvalidArgument("--network %s cannot be combined with a user namespace of the container's own (--userns, --uidmap)", rec.Options.Network)
	}
	// Closed on exec (the launcher becomes the monitor) or when the
	// foreground run ends.
	ns, err := os.Open("/proc/" + strconv.Itoa(other.State.Pid) + "/ns/net")
	if err != nil {
		return fmt.Errorf("opening the network namespace of container %s: %w", other.Name, err)
	}
	opts.NetNS = ns
	return nil
}
