// Package network connects a rootless container's network namespace to
// the host with a user-mode helper, pasta (passt) or slirp4netns, and
// publishes its ports.
//
// # Lifetime of the helper
//
// The helper runs in the foreground (never daemonized) as a child of the
// container's supervisor (the foreground `cove run`, or the launcher that
// becomes the detached container's monitor), with a parent-death signal of
// SIGKILL. The supervisor stops it when the container exits (Helper.Stop,
// or StopRecorded after the monitor's execve back into the launcher); if
// the supervisor is killed, the kernel kills the helper with it, as it
// kills the container. A helper must be stopped: its tap device and
// sockets keep the network namespace alive after the container's last
// process is gone, so neither pasta nor slirp4netns notices on its own.
//
// The helper gets the namespace as an open file (fd 3, "/proc/self/fd/3"):
// pasta drops its capabilities before it opens the namespace, and the
// kernel then refuses it /proc/PID/ns/net of a container process that
// holds more capabilities than it does.
package network

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/pkg/procstat"
)

// Helper names, as --network takes them.
const (
	Pasta = "pasta"
	Slirp = "slirp4netns"
)

// slirp4netns's fixed addresses (its defaults for 10.0.2.0/24).
const (
	slirpIP      = "10.0.2.100"
	slirpGateway = "10.0.2.2"
	slirpDNS     = "10.0.2.3"
)

// pastaDNSForward is the address at which pasta answers DNS by
// forwarding to the host's first resolver (--dns-forward): it reaches
// loopback resolvers (systemd-resolved, dnsmasq), and on this project's
// test machine plain UDP from the namespace to the host's resolver went
// unanswered where the forwarder worked.
const pastaDNSForward = "169.254.1.1"

// Choose resolves the default network's helper. preference is cove.toml's
// [network] helper: pasta or slirp4netns first, whichever is installed;
// "auto" (or empty) takes pasta for a container that publishes ports and
// slirp4netns for one that does not (docs/architecture.md, decision 14:
// Debian 12's pasta stalls and resets container-to-host transfers, and
// needs ~30 ms of CPU to start where slirp4netns needs ~5).
func Choose(preference string, publishes bool) (string, error) {
	order := []string{Slirp, Pasta}
	switch {
	case preference == Pasta:
		order = []string{Pasta, Slirp}
	case preference == Slirp:
	case publishes:
		// pasta forwards ports itself, faster than slirp4netns's own
		// forwarder (17 vs podman's 14 Gbps here) and keeping the
		// clients' addresses.
		order = []string{Pasta, Slirp}
	}
	for _, h := range order {
		if _, err := exec.LookPath(h); err == nil {
			return h, nil
		}
	}
	return "", fmt.Errorf("rootless networking needs pasta (package passt) or slirp4netns, and neither is on PATH; install one, or use --network none: %w", errdefs.ErrUnsupported)
}

// Addresses are what the container sees, known before the helper starts
// (for /etc/hosts and /etc/resolv.conf).
type Addresses struct {
	// ContainerIP is the container's IPv4 address.
	ContainerIP string
	// Gateway is the address at which the container reaches the host,
	// including services bound to the host's 127.0.0.1
	// (host.containers.internal, --add-host NAME:host-gateway).
	Gateway string
	// DNS is the helper's DNS forwarder, "" if it has none.
	DNS string
}

// AddressesFor returns the addresses the helper will give. cacheDir holds
// the probe of pasta's options (see pastaFeatures).
func AddressesFor(helper, cacheDir string) (Addresses, error) {
	if helper == Slirp {
		return Addresses{ContainerIP: slirpIP, Gateway: slirpGateway, DNS: slirpDNS}, nil
	}
	// pasta copies the host's address and default gateway (of the
	// interface with the default route) into the namespace, and maps the
	// gateway address to the host itself.
	ifName, gw, err := defaultRoute4()
	if err != nil {
		return Addresses{}, err
	}
	a := Addresses{Gateway: gw}
	if ifi, err := net.InterfaceByName(ifName); err == nil {
		if addrs, err := ifi.Addrs(); err == nil {
			for _, ad := range addrs {
				if n, ok := ad.(*net.IPNet); ok && n.IP.To4() != nil {
					a.ContainerIP = n.IP.String()
					break
				}
			}
		}
	}
	if pastaFeatures(cacheDir).DNSForward {
		a.DNS = pastaDNSForward
	}
	return a, nil
}

// defaultRoute4 reads the host's IPv4 default route from /proc/net/route.
func defaultRoute4() (ifName, gateway string, err error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags ...; hex in host byte order.
		if len(fl) < 3 || fl[1] != "00000000" {
			continue
		}
		b, err := hex.DecodeString(fl[2])
		if err != nil || len(b) != 4 {
			continue
		}
		return fl[0], netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}).String(), nil
	}
	return "", "", fmt.Errorf("pasta needs an IPv4 default route on the host, and there is none (see `ip route`); use --network slirp4netns or none: %w", errdefs.ErrUnsupported)
}

// pastaFlags are the options of the installed pasta that cove uses when
// present.
type pastaFlags struct {
	// Key identifies the binary probed: path, size and modification time.
	Key        string `json:"Key"`
	DNSForward bool   `json:"DNSForward"`
	// Runas: the --runas option exists.
	Runas bool `json:"Runas"`
}

var pastaProbe *pastaFlags

// pastaFeatures probes the installed pasta's options from its --help
// (Debian 12's prints "unknown version", so the version says nothing).
// The probe costs 13-20 ms (pasta logs each help line to syslog too), so
// it is cached in cacheDir (cove's run root) until the binary changes.
func pastaFeatures(cacheDir string) pastaFlags {
	if pastaProbe != nil {
		return *pastaProbe
	}
	var key string
	if path, err := exec.LookPath("pasta"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		if fi, err := os.Stat(path); err == nil {
			// "2": the fields probed; a cache from an older cove is probed again.
			key = fmt.Sprintf("2 %s %d %d", path, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	cache := ""
	if cacheDir != "" {
		cache = filepath.Join(cacheDir, "pasta-options.json")
		var f pastaFlags
		if b, err := os.ReadFile(cache); err == nil && json.Unmarshal(b, &f) == nil && f.Key == key && key != "" {
			pastaProbe = &f
			return f
		}
	}
	out, _ := exec.Command("pasta", "--help").CombinedOutput()
	f := pastaFlags{Key: key, DNSForward: bytes.Contains(out, []byte("--dns-forward")), Runas: bytes.Contains(out, []byte("--runas"))}
	pastaProbe = &f
	if cache != "" && key != "" {
		if b, err := json.Marshal(f); err == nil {
			tmp := cache + ".tmp" + strconv.Itoa(os.Getpid())
			if os.WriteFile(tmp, b, 0o600) == nil {
				os.Rename(tmp, cache)
			}
		}
	}
	return f
}

// Helper is a running pasta or slirp4netns.
type Helper struct {
	Name  string
	Pid   int
	Start uint64 // the process's start time, to recognise it later
	cmd   *exec.Cmd
	// reaped is closed once a helper killed by Kill has been waited for.
	reaped chan struct{}
}

// StartOptions describe the helper to start.
type StartOptions struct {
	// Helper is Pasta or Slirp.
	Helper string
	// NetNS is the container's network namespace.
	NetNS *os.File
	// Ports are the ports to publish, allocated (AllocatePorts).
	Ports []Published
	// Dir is the container's directory: the helper's log goes there.
	Dir string
	// LogPath, if set, is the helper's log instead of Dir/network.log.
	LogPath string
	// CacheDir caches the probe of pasta's options.
	CacheDir string
}

// Start starts the helper and returns once the container's interface is
// configured. The caller must Stop it when the container exits.
func Start(o StartOptions) (*Helper, error) {
	logPath := filepath.Join(o.Dir, "network.log")
	if o.LogPath != "" {
		logPath = o.LogPath
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// The helper says it is ready by writing to this pipe: pasta its PID
	// (it writes the PID file after configuring the namespace),
	// slirp4netns "1" on --ready-fd.
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	var args []string
	switch o.Helper {
	case Pasta:
		args = pastaArgs(o.Ports, pastaFeatures(o.CacheDir))
	case Slirp:
		// --enable-ipv6 as podman does: outbound IPv6 (fd00::/64 behind
		// slirp), as pasta gives.
		args = []string{"--configure", "--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--enable-ipv6", "--ready-fd=4", "--netns-type=path", "/proc/self/fd/3"}
		if len(o.Ports) > 0 {
			// Relative to its working directory (the container's): a
			// socket path may not exceed 108 bytes, and state
			// directories under $HOME can.
			os.Remove(filepath.Join(o.Dir, slirpSocket))
			args = append(args, "--api-socket", slirpSocket)
		}
		args = append(args, "tap0")
	default:
		readyW.Close()
		return nil, fmt.Errorf("unknown network helper %q", o.Helper)
	}
	cmd := exec.Command(o.Helper, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{o.NetNS, readyW}
	cmd.Dir = o.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Dies with the supervisor (see the package documentation); its
		// own process group, so a terminal's ^C goes to the supervisor,
		// which decides.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return nil, fmt.Errorf("starting %s: %w", o.Helper, err)
	}
	readyW.Close()
	h := &Helper{Name: o.Helper, Pid: cmd.Process.Pid, cmd: cmd}
	h.Start = procstat.StartTime(h.Pid)
	// EOF without a byte: the helper exited (or closed the pipe) without
	// getting ready.
	readyR.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [32]byte
	n, _ := readyR.Read(b[:])
	if n == 0 {
		h.Stop()
		msg, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s did not set up the container's network after %s: %s", o.Helper, time.Since(t0).Round(time.Millisecond), cleanLog(msg))
	}
	if o.Helper == Slirp {
		for _, p := range o.Ports {
			if err := slirpForward(o.Dir, p); err != nil {
				h.Stop()
				return nil, err
			}
		}
	}
	return h, nil
}

// slirpSocket is slirp4netns's API socket in the container's directory.
const slirpSocket = "slirp4netns.sock"

// slirpForward asks slirp4netns to publish a port (its add_hostfwd). It
// listens on the host itself and connects to the container's address;
// connections arrive from slirp's gateway, 10.0.2.2.
func slirpForward(dir string, p Published) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Through the directory's descriptor: the path stays short.
	c, err := net.Dial("unix", fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), slirpSocket))
	if err != nil {
		return fmt.Errorf("slirp4netns API socket: %w", err)
	}
	defer c.Close()
	hostAddr := p.HostIP
	if hostAddr == "" {
		hostAddr = "0.0.0.0"
	}
	req, _ := json.Marshal(map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Protocol, "host_addr": hostAddr, "host_port": p.HostPort, "guest_addr": slirpIP, "guest_port": p.ContainerPort,
	}})
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	c.(*net.UnixConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("slirp4netns API: reading the answer to add_hostfwd: %w", err)
	}
	if resp.Error != nil {
		return errdefs.InvalidArgument("-p: slirp4netns cannot publish %s/%s: %s", hostPortString(p.HostIP, p.HostPort), p.Protocol, resp.Error.Desc)
	}
	return nil
}

// cleanLog keeps the helper's messages, without pasta's noise about
// syslog.
func cleanLog(b []byte) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Failed to send") || strings.HasPrefix(l, "WARNING: Support for seccomp") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return "no message (exited)"
	}
	return strings.Join(keep, "; ")
}

// pastaArgs builds pasta's command line: configure the namespace's
// interface, forward exactly the published ports (pasta's default, "auto",
// would forward every port the container listens on), no forwarding from
// the namespace to the host's own ports (the gateway address reaches the
// host), foreground, ready file on fd 4.
func pastaArgs(ports []Published, f pastaFlags) []string {
	args := []string{"--config-net", "--quiet", "--foreground", "--pid", "/proc/self/fd/4", "--netns", "/proc/self/fd/3"}
	if f.Runas && realRoot() {
		// Started by root in the initial user namespace (cove as root),
		// pasta would switch to nobody and then fail to enter the
		// container's namespace. It still drops its capabilities and
		// sandboxes itself after the setup.
		args = append(args, "--runas", "0")
	}
	if f.DNSForward {
		args = append(args, "--dns-forward", pastaDNSForward)
	}
	var tcp, udp []string
	for _, p := range ports {
		s := strconv.Itoa(int(p.HostPort)) + ":" + strconv.Itoa(int(p.ContainerPort))
		if p.HostIP != "" {
			s = p.HostIP + "/" + s
		}
		if p.Protocol == "udp" {
			udp = append(udp, s)
		} else {
			tcp = append(tcp, s)
		}
	}
	for _, f := range [][2]any{{"-t", tcp}, {"-u", udp}} {
		list := f[1].([]string)
		if len(list) == 0 {
			args = append(args, f[0].(string), "none")
			continue
		}
		for _, s := range list {
			args = append(args, f[0].(string), s)
		}
	}
	return append(args, "-T", "none", "-U", "none")
}

// Stop kills the helper and reaps it.
func (h *Helper) Stop() {
	h.Kill()
	h.Reap()
}

// Kill kills the helper and reaps it in the background. The helper's exit
// takes 20-30 ms after SIGKILL: closing its tap device waits for the
// kernel's network RCU grace periods. A caller with other work to do (the
// removal of a --rm container) does it meanwhile and calls Reap last.
func (h *Helper) Kill() {
	if h == nil || h.cmd == nil {
		return
	}
	cmd := h.cmd
	h.cmd = nil
	cmd.Process.Kill()
	done := make(chan struct{})
	h.reaped = done
	go func() {
		cmd.Wait()
		close(done)
	}()
}

// Reap waits until a helper stopped by Kill has been reaped.
func (h *Helper) Reap() {
	if h != nil && h.reaped != nil {
		<-h.reaped
	}
}

// StopRecorded kills a helper recorded by an earlier image of this
// process (the launcher, after the monitor's execve back into it) or by a
// supervisor that is gone, if that process still exists (the start time
// tells it from a process that reused the PID) and ownedBy accepts its
// current parent. Its parent reaps it (we do, if that is us, unless
// noWait: then its exit, 20-30 ms, completes after we return, and our own
// process reaps it later or, once we are gone, whoever inherits it). It
// reports whether the helper is gone, or going with noWait.
func StopRecorded(pid int, start uint64, ownedBy func(ppid int) bool, noWait bool) bool {
	st, ok := procstat.Read(pid)
	if pid <= 0 || start == 0 || !ok || st.StartTime != start || st.IsZombie() {
		return true
	}
	if !ownedBy(st.PPid) {
		return false
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		return procstat.StartTime(pid) != start
	}
	if noWait {
		return true
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	// Not our child (ECHILD): its new parent reaps it; wait until it is
	// gone so that its ports are free when we return.
	for i := 0; i < 200; i++ {
		if st, ok := procstat.Read(pid); !ok || st.StartTime != start || st.IsZombie() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// realRoot reports whether this process is root in the initial user
// namespace (whose uid_map maps all 2^32 IDs onto themselves), not root
// of a namespace of cove's own.
func realRoot() bool {
	if os.Geteuid() != 0 {
		return false
	}
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}
