package spec

import (
	"net/netip"
	"strconv"
	"strings"
)

// PortMapping is one `-p` publication: Count consecutive ports starting at
// HostPort on the host forward to as many starting at ContainerPort in the
// container. HostPort 0 asks for a free port chosen at start (one for each
// of the Count ports). HostRangeEnd > HostPort (with Count 1) is Docker's
// "-p 8000-8010:80": one free port of that host range.
type PortMapping struct {
	HostIP        string `json:"HostIP,omitempty"`
	HostPort      uint16 `json:"HostPort"`
	HostRangeEnd  uint16 `json:"HostRangeEnd,omitempty"`
	ContainerPort uint16 `json:"ContainerPort"`
	Count         uint16 `json:"Count"`
	Protocol      string `json:"Protocol"`
}

// ParsePublish parses a `-p` value,
// [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], where either port may be a
// range (START-END), an IPv6 address is written in brackets, and the
// protocol is tcp (default) or udp.
func ParsePublish(v string) (PortMapping, error) {
	bad := func(why string) (PortMapping, error) {
		return PortMapping{}, invalid("-p %q: %s (the form is [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ports or ranges START-END of 1-65535)", v, why)
	}
	m := PortMapping{Protocol: "tcp"}
	rest := v
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		proto, err := parseProtocol(rest[i+1:])
		if err != nil {
			return bad(err.Error())
		}
		m.Protocol = proto
		rest = rest[:i]
	}
	var ipPart, hostPart, ctrPart string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return bad("an IPv6 address in brackets must be followed by :HOST_PORT:CONTAINER_PORT")
		}
		ipPart = rest[1:end]
		if ipPart == "" {
			return bad("empty IP address")
		}
		var ok bool
		hostPart, ctrPart, ok = strings.Cut(rest[end+2:], ":")
		if !ok {
			return bad("an IP address must be followed by :HOST_PORT:CONTAINER_PORT")
		}
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPart = parts[0]
		case 2:
			hostPart, ctrPart = parts[0], parts[1]
		case 3:
			ipPart, hostPart, ctrPart = parts[0], parts[1], parts[2]
			if ipPart == "" {
				return bad("empty IP address")
			}
		default:
			return bad("too many colons (write an IPv6 address in brackets)")
		}
	}
	if ipPart != "" {
		ip, err := netip.ParseAddr(ipPart)
		if err != nil || ip.Zone() != "" {
			return bad("invalid IP address " + strconv.Quote(ipPart))
		}
		m.HostIP = ip.Unmap().String()
	}
	ctrStart, ctrEnd, err := parsePortRange(ctrPart)
	if err != nil {
		return bad("container port: " + err.Error())
	}
	m.ContainerPort = ctrStart
	m.Count = ctrEnd - ctrStart + 1
	if hostPart == "" {
		return m, nil
	}
	hostStart, hostEnd, err := parsePortRange(hostPart)
	if err != nil {
		return bad("host port: " + err.Error())
	}
	switch n := hostEnd - hostStart + 1; {
	case n == m.Count:
		m.HostPort = hostStart
	case m.Count == 1:
		// One container port, a range of host ports: one free port of
		// the range (Docker's rule).
		m.HostPort, m.HostRangeEnd = hostStart, hostEnd
	default:
		return bad("the host range has " + strconv.Itoa(int(n)) + " ports and the container range " + strconv.Itoa(int(m.Count)))
	}
	return m, nil
}

func parseProtocol(s string) (string, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return "tcp", nil
	case "udp":
		return "udp", nil
	case "sctp":
		return "", errString("sctp is not supported by rootless networking; use tcp or udp")
	}
	return "", errString("unknown protocol " + strconv.Quote(s) + ": use tcp or udp")
}

type errString string

func (e errString) Error() string { return string(e) }

// parsePortRange parses PORT or START-END, 1-65535.
func parsePortRange(s string) (uint16, uint16, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := parsePort(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return start, start, nil
	}
	end, err := parsePort(b)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errString("range " + strconv.Quote(s) + " ends before it starts")
	}
	return start, end, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errString("missing port number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errString(strconv.Quote(s) + " is not a port number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, errString(strconv.Quote(s) + " is not a port number of 1-65535")
	}
	return uint16(n), nil
}

// ExposedPort is one container port of `--expose` or the image's EXPOSE.
type ExposedPort struct {
	Port     uint16
	Protocol string
}

// ParseExpose parses an `--expose` value, PORT[/PROTOCOL] or a range
// START-END[/PROTOCOL]; flag names the option for the error.
func ParseExpose(flag, v string) ([]ExposedPort, error) {
	rest, proto := v, "tcp"
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		p, err := parseProtocol(v[i+1:])
		if err != nil {
			return nil, invalid("%s %q: %v", flag, v, err)
		}
		rest, proto = v[:i], p
	}
	start, end, err := parsePortRange(rest)
	if err != nil {
		return nil, invalid("%s %q: %v (the form is PORT[/tcp|udp] or START-END[/tcp|udp])", flag, v, err)
	}
	out := make([]ExposedPort, 0, int(end-start)+1)
	for p := int(start); p <= int(end); p++ {
		out = append(out, ExposedPort{Port: uint16(p), Protocol: proto})
	}
	return out, nil
}

// HostGateway is the `--add-host NAME:host-gateway` value: the address
// at which the container reaches the host.
const HostGateway = "host-gateway"

// HostEntry is one `--add-host` line of /etc/hosts.
type HostEntry struct {
	Name string `json:"Name"`
	// IP is an address, or HostGateway.
	IP string `json:"IP"`
}

// ParseAddHost parses `--add-host NAME:IP` (also NAME=IP, as Docker 25
// accepts); IP may be an IPv6 address, in brackets or not, or
// host-gateway.
func ParseAddHost(v string) (HostEntry, error) {
	name, ip, ok := strings.Cut(v, "=")
	if !ok {
		name, ip, ok = strings.Cut(v, ":")
	}
	if !ok {
		return HostEntry{}, invalid("--add-host %q: the form is NAME:IP (or NAME:host-gateway)", v)
	}
	if err := validHostName(name); err != nil {
		return HostEntry{}, invalid("--add-host %q: %v", v, err)
	}
	if ip == HostGateway {
		return HostEntry{Name: name, IP: ip}, nil
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" {
		return HostEntry{}, invalid("--add-host %q: %q is not an IP address (or host-gateway)", v, ip)
	}
	return HostEntry{Name: name, IP: addr.String()}, nil
}

// validHostName accepts what /etc/hosts can carry: a non-empty name
// without whitespace, '#' or control characters.
func validHostName(n string) error {
	if n == "" {
		return errString("empty host name")
	}
	if len(n) > 253 {
		return errString("host name longer than 253 characters")
	}
	for _, c := range n {
		if c <= ' ' || c == '#' || c == 0x7f || c == ':' || c == '=' {
			return errString("host name " + strconv.Quote(n) + " contains " + strconv.QuoteRune(c))
		}
	}
	return nil
}

// ParseDNSServer validates a `--dns` address.
func ParseDNSServer(v string) (string, error) {
	addr, err := netip.ParseAddr(v)
	if err != nil {
		return "", invalid("--dns %q: not an IP address", v)
	}
	return addr.String(), nil
}

// ValidateDNSSearch validates a `--dns-search` domain ("." clears the
// search list, as in Docker).
func ValidateDNSSearch(v string) error {
	if v == "." {
		return nil
	}
	if err := validHostName(v); err != nil {
		return invalid("--dns-search %q: %v", v, err)
	}
	return nil
}

// ValidateDNSOption validates a `--dns-option` (resolv.conf "options").
func ValidateDNSOption(v string) error {
	if v == "" || strings.ContainsAny(v, " \t\r\n#") {
		return invalid("--dns-option %q: an option is one word, like ndots:2 or edns0", v)
	}
	return nil
}
