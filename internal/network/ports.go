package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
)

// Published is one published port after allocation: a host port, the
// container port it reaches.
type Published struct {
	HostIP        string `json:"HostIP,omitempty"`
	HostPort      uint16 `json:"HostPort"`
	ContainerPort uint16 `json:"ContainerPort"`
	Protocol      string `json:"Protocol"`
}

// AllocatePorts turns -p mappings into concrete ports: each host port is
// checked by binding it (so that a taken or privileged port is refused
// with a clear error before anything starts), and a missing host port
// gets a free one from the kernel's ephemeral range. The checks release
// the ports again; the helper binds them a moment later.
func AllocatePorts(maps []spec.PortMapping) ([]Published, error) {
	var out []Published
	seen := map[string]bool{}
	for _, m := range maps {
		for i := 0; i < int(m.Count); i++ {
			p := Published{HostIP: m.HostIP, ContainerPort: m.ContainerPort + uint16(i), Protocol: m.Protocol}
			switch {
			case m.HostRangeEnd != 0:
				var lastErr error
				for hp := int(m.HostPort); hp <= int(m.HostRangeEnd); hp++ {
					if seen[key(m.HostIP, uint16(hp), m.Protocol)] {
						continue
					}
					if _, lastErr = probePort(m.HostIP, uint16(hp), m.Protocol); lastErr == nil {
						p.HostPort = uint16(hp)
						break
					}
				}
				if p.HostPort == 0 {
					return nil, portError(m, fmt.Sprintf("%d-%d", m.HostPort, m.HostRangeEnd), lastErr)
				}
			case m.HostPort != 0:
				p.HostPort = m.HostPort + uint16(i)
				if seen[key(m.HostIP, p.HostPort, m.Protocol)] {
					return nil, errdefs.InvalidArgument("-p: host port %s/%s is published twice", hostPortString(m.HostIP, p.HostPort), m.Protocol)
				}
				if _, err := probePort(m.HostIP, p.HostPort, m.Protocol); err != nil {
					return nil, portError(m, strconv.Itoa(int(p.HostPort)), err)
				}
			default:
				hp, err := probePort(m.HostIP, 0, m.Protocol)
				if err != nil {
					return nil, portError(m, "a free port", err)
				}
				p.HostPort = hp
			}
			seen[key(m.HostIP, p.HostPort, m.Protocol)] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func key(ip string, port uint16, proto string) string {
	return ip + "|" + strconv.Itoa(int(port)) + "/" + proto
}

func hostPortString(ip string, port uint16) string {
	if ip == "" {
		return strconv.Itoa(int(port))
	}
	return net.JoinHostPort(ip, strconv.Itoa(int(port)))
}

// portError explains a host port that cannot be bound.
func portError(m spec.PortMapping, what string, err error) error {
	where := what
	if m.HostIP != "" {
		where = m.HostIP + " port " + what
	}
	switch {
	case errors.Is(err, syscall.EACCES):
		start := "1024"
		if b, rerr := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); rerr == nil {
			start = strings.TrimSpace(string(b))
		}
		return errdefs.InvalidArgument("-p: host port %s/%s is privileged: without root, ports below net.ipv4.ip_unprivileged_port_start (%s here) cannot be bound; publish a higher port, or lower it with `sysctl net.ipv4.ip_unprivileged_port_start=%d`", where, m.Protocol, start, m.HostPort)
	case errors.Is(err, syscall.EADDRINUSE):
		return errdefs.InvalidArgument("-p: host port %s/%s is already in use", where, m.Protocol)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errdefs.InvalidArgument("-p: host address %s is not an address of this host", m.HostIP)
	}
	return errdefs.InvalidArgument("-p: host port %s/%s: %v", where, m.Protocol, err)
}

// probePort binds the port (0: any) and returns the bound port, then
// releases it.
func probePort(ip string, port uint16, proto string) (uint16, error) {
	addr := hostPortString(ip, port)
	if ip == "" {
		addr = ":" + strconv.Itoa(int(port))
	}
	// tcp4/udp4 for the wildcard: pasta binds IPv4 and IPv6 separately,
	// and a port taken on IPv4 is the common case worth naming.
	network := proto
	if ip == "" {
		network += "4"
	}
	if proto == "udp" {
		c, err := net.ListenPacket(network, addr)
		if err != nil {
			return 0, unwrapSys(err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return 0, unwrapSys(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

func unwrapSys(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
