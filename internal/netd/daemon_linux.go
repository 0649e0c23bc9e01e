package netd

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/pkg/flock"
)

// idleGrace is how long netd waits, with no container left, before it
// exits: a restart or the next container of a script keeps it.
const idleGrace = 2 * time.Second

// Main is the cove-netd role. argv: cove-netd --spawn DIR (the
// intermediate the supervisor starts and reaps, so that netd is nobody's
// child) or cove-netd DIR (netd itself). Descriptor 3 is the readiness
// pipe: netd writes "ok TID" (the thread that owns the shared namespace)
// or "error MESSAGE".
func Main() int {
	if len(os.Args) == 3 && os.Args[1] == "--spawn" {
		return spawn(os.Args[2])
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cove-netd DIR")
		return 2
	}
	d := &daemon{dir: os.Args[1], containers: map[string]*container{}, networks: map[string]*bridgeNet{}}
	ready := os.NewFile(3, "ready")
	if err := d.setUp(); err != nil {
		fmt.Fprintf(ready, "error %v\n", err)
		return 1
	}
	fmt.Fprintf(ready, "ok %d\n", d.tid)
	ready.Close()
	go d.exitWhenIdle()
	d.serve()
	return 0
}

// spawn starts netd in its own session and exits, so that netd is not
// the supervisor's child: it outlives a foreground `cove run`, and is
// not waited for by a launcher. A launcher is a child subreaper, though,
// so netd may be reparented to it; its C monitor reaps any orphan and
// only looks at the container's status.
func spawn(dir string) int {
	log, _ := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	cmd := &exec.Cmd{
		Path: "/proc/self/exe", Args: []string{Role, dir}, Dir: "/", Stdout: log, Stderr: log,
		ExtraFiles:  []*os.File{os.NewFile(3, "ready")},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.NewFile(3, "ready"), "error starting netd: %v\n", err)
		return 1
	}
	return 0
}

// daemon is netd's state.
type daemon struct {
	dir     string
	control net.Listener
	// tid is the thread that owns the shared namespace; inNS runs a
	// function on it.
	tid  int
	work chan func()

	mu         sync.Mutex
	containers map[string]*container
	networks   map[string]*bridgeNet
	idleSince  time.Time
}

// container is one watched container.
type container struct {
	pid       int
	pidfd     int
	endpoints map[string]Endpoint // by network ID
	// veths are the bridge ends of its veth pairs, by network ID.
	veths map[string]string
}

// bridgeNet is a network whose bridge and resolver exist.
type bridgeNet struct {
	net    Network
	dns    *net.UDPConn
	dnsTCP *net.TCPListener
}

// setUp makes the shared namespace and the control socket.
//
// The namespace belongs to one OS thread of netd, made by unshare(2) on
// a goroutine locked to it for netd's whole life: the rest of netd stays
// in the host's namespace, where the DNS forwarder's sockets must be
// (the host's resolver may be 127.0.0.53), and which a rootless process
// could not enter again once it left (the host's namespace belongs to
// the initial user namespace). Supervisors open the namespace as
// /proc/PID/task/TID/ns/net. Sockets belong to the namespace of the
// thread that created them, so the bridges' resolvers, made on that
// thread, listen inside it while other goroutines serve them.
func (d *daemon) setUp() error {
	d.work = make(chan func())
	started := make(chan error)
	go func() {
		// Never unlocked: the thread ends with netd, not back in the
		// pool in the wrong namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			started <- fmt.Errorf("creating the shared network namespace: %w", err)
			return
		}
		d.tid = unix.Gettid()
		// A new namespace starts with forwarding off; make sure, since
		// it is what keeps networks apart (there is no firewall here).
		// /proc/sys/net is the opening thread's namespace's.
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0); err != nil {
			started <- fmt.Errorf("turning off forwarding in the shared namespace: %w", err)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			started <- fmt.Errorf("bringing up loopback in the shared namespace: %w", err)
			return
		}
		started <- nil
		for f := range d.work {
			f()
		}
	}()
	if err := <-started; err != nil {
		return err
	}
	// Socket paths are limited to 108 bytes: bind through a descriptor
	// of the directory.
	dirFD, err := unix.Open(d.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sock := "/proc/self/fd/" + strconv.Itoa(dirFD) + "/" + socketFile
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	unix.Close(dirFD)
	if err != nil {
		return fmt.Errorf("listening on netd's socket: %w", err)
	}
	d.control = l
	d.idleSince = time.Now()
	return nil
}

// inNS runs f on the thread that owns the shared namespace.
func (d *daemon) inNS(f func() error) error {
	errc := make(chan error, 1)
	d.work <- func() { errc <- f() }
	return <-errc
}

func (d *daemon) serve() {
	for {
		c, err := d.control.Accept()
		if err != nil {
			return
		}
		go d.handle(c)
	}
}

func (d *daemon) handle(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var req request
		var rep reply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rep.Error = "malformed request: " + err.Error()
		} else if err := d.do(&req); err != nil {
			rep.Error = err.Error()
		}
		b, _ := json.Marshal(&rep)
		if _, err := c.Write(append(b, '\n')); err != nil {
			return
		}
	}
}

func (d *daemon) do(req *request) error {
	switch req.Op {
	case "attach":
		return d.attach(req)
	case "detach":
		d.mu.Lock()
		ct := d.containers[req.ContainerID]
		var veth string
		if ct != nil {
			veth = ct.veths[req.NetworkID]
			delete(ct.endpoints, req.NetworkID)
			delete(ct.veths, req.NetworkID)
		}
		d.mu.Unlock()
		if veth == "" {
			return nil
		}
		// Deleting one end deletes the pair.
		return d.inNS(func() error {
			l, err := netlink.LinkByName(veth)
			if err != nil {
				return nil
			}
			return netlink.LinkDel(l)
		})
	}
	return fmt.Errorf("unknown operation %q", req.Op)
}

// attach makes the bridges and resolvers of the container's networks and
// starts watching the container.
func (d *daemon) attach(req *request) error {
	d.pruneNetworks(req.Endpoints)
	for _, ep := range req.Endpoints {
		if err := d.ensureNetwork(ep.Network); err != nil {
			return err
		}
	}
	d.mu.Lock()
	ct := d.containers[req.ContainerID]
	if ct != nil && ct.pid != req.Pid {
		// Restarted before its watcher saw the old init go: a new
		// entry; the old watcher leaves it alone.
		ct = nil
	}
	if ct == nil {
		// A pidfd refers to this process, not to whatever reuses its
		// PID; it becomes readable when the process exits.
		fd, err := unix.PidfdOpen(req.Pid, 0)
		if err != nil {
			d.mu.Unlock()
			return fmt.Errorf("watching the container's process %d: %w", req.Pid, err)
		}
		ct = &container{pid: req.Pid, pidfd: fd, endpoints: map[string]Endpoint{}, veths: map[string]string{}}
		d.containers[req.ContainerID] = ct
		go d.watch(req.ContainerID, ct)
	}
	d.mu.Unlock()
	for _, ep := range req.Endpoints {
		veth, err := d.plug(ct.pid, ep)
		if err != nil {
			return fmt.Errorf("network %s: %w", ep.Network.Name, err)
		}
		d.mu.Lock()
		ct.endpoints[ep.Network.ID] = ep
		ct.veths[ep.Network.ID] = veth
		d.mu.Unlock()
	}
	return nil
}

// watch forgets a container when its init exits (its network namespace
// and the veths in it go with it).
func (d *daemon) watch(id string, ct *container) {
	fds := []unix.PollFd{{Fd: int32(ct.pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			break
		}
	}
	d.mu.Lock()
	if d.containers[id] == ct {
		delete(d.containers, id)
	}
	if len(d.containers) == 0 {
		d.idleSince = time.Now()
	}
	d.mu.Unlock()
	unix.Close(ct.pidfd)
}

// pruneNetworks removes the bridges and resolvers of networks that no
// watched container is on and whose subnet overlaps one being attached:
// a network removed and another created with its subnet (the first free
// one) would otherwise find the old bridge holding the gateway address
// and port 53. Unused bridges are otherwise kept: deleting one costs tens
// of milliseconds (an RCU grace period), and the next container of the
// network would make it again.
func (d *daemon) pruneNetworks(eps []Endpoint) {
	d.mu.Lock()
	used := map[string]bool{}
	for _, ct := range d.containers {
		for id := range ct.endpoints {
			used[id] = true
		}
	}
	var stale []*bridgeNet
	for id, bn := range d.networks {
		for _, ep := range eps {
			if !used[id] && id != ep.Network.ID && bn.net.Subnet.Overlaps(ep.Network.Subnet) {
				stale = append(stale, bn)
				delete(d.networks, id)
				break
			}
		}
	}
	d.mu.Unlock()
	for _, bn := range stale {
		bn.dns.Close()
		bn.dnsTCP.Close()
		d.inNS(func() error {
			if l, err := netlink.LinkByName(bn.net.Bridge); err == nil {
				netlink.LinkDel(l)
			}
			return nil
		})
	}
}

// ensureNetwork creates a network's bridge (the gateway address on it)
// and its resolver, once.
func (d *daemon) ensureNetwork(n Network) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.networks[n.ID]; ok {
		return nil
	}
	var conn *net.UDPConn
	var tcp *net.TCPListener
	err := d.inNS(func() error {
		br, err := netlink.LinkByName(n.Bridge)
		if err != nil {
			br = &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
			if err := netlink.LinkAdd(br); err != nil {
				return fmt.Errorf("creating the bridge of network %s: %w", n.Name, err)
			}
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Gateway.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
		if err := netlink.AddrReplace(br, addr); err != nil {
			return fmt.Errorf("setting the gateway address of network %s: %w", n.Name, err)
		}
		if err := netlink.LinkSetUp(br); err != nil {
			return fmt.Errorf("bringing up the bridge of network %s: %w", n.Name, err)
		}
		// The address is usable at once: IPv4 has no duplicate detection.
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: n.Gateway.AsSlice(), Port: 53})
		if err != nil {
			return fmt.Errorf("starting the resolver of network %s: %w", n.Name, err)
		}
		// TCP too: resolvers retry there when a UDP answer was
		// truncated.
		tcp, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: n.Gateway.AsSlice(), Port: 53})
		if err != nil {
			conn.Close()
			return fmt.Errorf("starting the resolver of network %s: %w", n.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	bn := &bridgeNet{net: n, dns: conn, dnsTCP: tcp}
	d.networks[n.ID] = bn
	go d.resolve(bn)
	go d.resolveTCP(bn)
	return nil
}

// lookup returns the addresses a name has for a client: a running
// container's name, alias or short ID on the network the query came in
// on, or, as Docker's resolver, on any other network the asking container
// (known by its address on this one) is connected to.
func (d *daemon) lookup(netID string, client netip.Addr, name string) []netip.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	nets := map[string]bool{netID: true}
	for _, ct := range d.containers {
		if ep, ok := ct.endpoints[netID]; ok && ep.IP == client {
			for id := range ct.endpoints {
				nets[id] = true
			}
		}
	}
	var out []netip.Addr
	for _, ct := range d.containers {
		for id, ep := range ct.endpoints {
			if !nets[id] || slices.Contains(out, ep.IP) {
				continue
			}
			for _, n := range ep.Names {
				if strings.EqualFold(n, name) {
					out = append(out, ep.IP)
					break
				}
			}
		}
	}
	return out
}

// resolve serves DNS on a network's gateway.
func (d *daemon) resolve(bn *bridgeNet) {
	buf := make([]byte, 4096)
	for {
		n, from, err := bn.dns.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		q := append([]byte(nil), buf[:n]...)
		go func() {
			if resp := d.respond(bn, from.Addr().Unmap(), q, "udp"); resp != nil {
				bn.dns.WriteToUDPAddrPort(resp, from)
			}
		}()
	}
}

// respond answers a query from client on a network: its own names, or
// the host's resolvers' answer over the same transport. The forwarder's
// sockets are made by goroutines on threads in the host's namespace
// (only the namespace's own thread is elsewhere, and it is locked).
func (d *daemon) respond(bn *bridgeNet, client netip.Addr, q []byte, transport string) []byte {
	resp, ok := answer(q, func(name string) []netip.Addr { return d.lookup(bn.net.ID, client, name) })
	if ok {
		return resp
	}
	conf, _ := os.ReadFile("/etc/resolv.conf")
	return forward(q, upstreams(string(conf)), func(addr string) (net.Conn, error) {
		c, err := net.DialTimeout(transport, addr, time.Second)
		if err != nil || transport == "udp" {
			return c, err
		}
		return &tcpMessages{Conn: c}, nil
	})
}

// resolveTCP serves DNS over TCP on a network's gateway: messages with a
// two-byte length, several per connection.
func (d *daemon) resolveTCP(bn *bridgeNet) {
	for {
		c, err := bn.dnsTCP.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			client, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			mc := &tcpMessages{Conn: c}
			buf := make([]byte, 65535)
			for {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				n, err := mc.Read(buf)
				if err != nil {
					return
				}
				resp := d.respond(bn, client.Addr().Unmap(), append([]byte(nil), buf[:n]...), "tcp")
				if resp == nil {
					return
				}
				if _, err := mc.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

// exitWhenIdle ends netd once no container has been watched for
// idleGrace. It takes the start lock first, so that a supervisor never
// finds a netd that is about to exit: one that holds the lock has
// attached its container (and netd stays), or gets the lock after the
// record is gone (and starts a new netd).
func (d *daemon) exitWhenIdle() {
	for range time.Tick(500 * time.Millisecond) {
		d.mu.Lock()
		idle := len(d.containers) == 0 && time.Since(d.idleSince) > idleGrace
		d.mu.Unlock()
		if !idle {
			continue
		}
		unlock, err := flock.Exclusive(filepath.Join(d.dir, lockFile))
		if errors.Is(err, os.ErrNotExist) {
			// The run root is gone (a test's, or a reboot's tmpfs
			// cleaner): no supervisor can find this netd any more.
			os.Exit(0)
		}
		if err != nil {
			continue
		}
		d.mu.Lock()
		if len(d.containers) == 0 {
			// Only its own record: a netd whose starter was killed
			// before recording it has been replaced by one that
			// serves containers now, and whose record this is.
			if rec, err := readRecord(d.dir); err == nil && rec.Pid == os.Getpid() {
				os.Remove(filepath.Join(d.dir, recordFile))
			}
			// The kernel releases the lock with the process.
			os.Exit(0)
		}
		d.mu.Unlock()
		unlock()
	}
}

// plug connects a container (init PID pid) to a network: a veth pair, one
// end on the network's bridge, the other created directly in the
// container's namespace as the first free ethN (eth0 is pasta's when the
// container has it) with the endpoint's MAC and address. It returns the
// bridge end's name. netd and the container's namespace both belong to
// cove's user namespace, in which netd has CAP_NET_ADMIN and
// CAP_SYS_ADMIN.
func (d *daemon) plug(pid int, ep Endpoint) (string, error) {
	ctrNS, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening the container's network namespace: %w", err)
	}
	defer unix.Close(ctrNS)
	// Configuring the container's end needs a netlink socket inside its
	// namespace, so a thread that enters it: one that never returns
	// (see onThrowawayThread).
	var hc *netlink.Handle
	if err := onThrowawayThread(func() error {
		if err := unix.Setns(ctrNS, unix.CLONE_NEWNET); err != nil {
			return err
		}
		hc, err = netlink.NewHandle()
		return err
	}); err != nil {
		return "", fmt.Errorf("joining the container's network namespace: %w", err)
	}
	defer hc.Close()
	name, err := freeEthName(hc)
	if err != nil {
		return "", err
	}
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return "", err
	}
	var rnd [5]byte
	rand.Read(rnd[:])
	host := "cv" + hex.EncodeToString(rnd[:]) // 12 bytes of 15
	err = d.inNS(func() error {
		br, err := netlink.LinkByName(ep.Network.Bridge)
		if err != nil {
			return fmt.Errorf("its bridge %s: %w", ep.Network.Bridge, err)
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index},
			PeerName: name, PeerHardwareAddr: mac, PeerNamespace: netlink.NsFd(ctrNS)}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating a veth pair: %w", err)
		}
		return netlink.LinkSetUp(veth)
	})
	if err == nil {
		var peer netlink.Link
		peer, err = hc.LinkByName(name)
		if err == nil {
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: ep.IP.AsSlice(), Mask: net.CIDRMask(ep.Network.Subnet.Bits(), 32)}}
			if err = hc.AddrAdd(peer, addr); err == nil {
				err = hc.LinkSetUp(peer)
			}
		}
		if err != nil {
			err = fmt.Errorf("configuring %s in the container: %w", name, err)
		}
	}
	if err != nil {
		d.inNS(func() error {
			if l, lerr := netlink.LinkByName(host); lerr == nil {
				netlink.LinkDel(l)
			}
			return nil
		})
		return "", err
	}
	return host, nil
}

// onThrowawayThread runs f on a goroutine locked to its OS thread and
// never unlocked, so the thread ends with it: f moves the thread into
// another network namespace, and a rootless process cannot move it back
// into the host's (which belongs to the initial user namespace). The Go
// runtime never reuses a thread that ended locked. Only netd does this:
// in a supervisor the ended thread could be the parent of a container
// init, whose parent-death signal would then fire.
func onThrowawayThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- f()
	}()
	return <-errc
}

// freeEthName is the first ethN the container's namespace does not have.
func freeEthName(hc *netlink.Handle) (string, error) {
	links, err := hc.LinkList()
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, l := range links {
		taken[l.Attrs().Name] = true
	}
	for i := 0; i < 100; i++ {
		if n := "eth" + strconv.Itoa(i); !taken[n] {
			return n, nil
		}
	}
	return "", fmt.Errorf("no free ethN interface name")
}
