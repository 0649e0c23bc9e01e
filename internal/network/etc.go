package network

import (
	"net/netip"
	"strings"

	"github.com/cove-run/cove/internal/spec"
)

// hostsHeader is Docker's start of a container's /etc/hosts.
const hostsHeader = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// HostsFile is a connected container's /etc/hosts: Docker's lines, the
// --add-host entries (first, so that they win over what follows), the
// host as host.containers.internal and host.docker.internal, and the
// container's own address under its host name and its name.
func HostsFile(a Addresses, extra []spec.HostEntry, names ...string) string {
	var b strings.Builder
	b.WriteString(hostsHeader)
	writeExtraHosts(&b, extra, a.Gateway)
	if a.Gateway != "" {
		b.WriteString(a.Gateway + "\thost.containers.internal host.docker.internal\n")
	}
	ip := a.ContainerIP
	if ip == "" {
		ip = "127.0.1.1"
	}
	b.WriteString(ip + "\t" + strings.Join(dedupe(names), " ") + "\n")
	return b.String()
}

// IsolatedHostsFile is /etc/hosts without a network (--network none).
func IsolatedHostsFile(extra []spec.HostEntry, names ...string) string {
	var b strings.Builder
	b.WriteString(hostsHeader)
	writeExtraHosts(&b, extra, "")
	b.WriteString("127.0.1.1\t" + strings.Join(dedupe(names), " ") + "\n")
	return b.String()
}

// AppendHosts adds --add-host entries to a copy of the host's /etc/hosts
// (--network host).
func AppendHosts(host string, extra []spec.HostEntry) string {
	if len(extra) == 0 {
		return host
	}
	var b strings.Builder
	b.WriteString(host)
	if host != "" && !strings.HasSuffix(host, "\n") {
		b.WriteByte('\n')
	}
	// With the host's network, the host is 127.0.0.1.
	writeExtraHosts(&b, extra, "127.0.0.1")
	return b.String()
}

func writeExtraHosts(b *strings.Builder, extra []spec.HostEntry, gateway string) {
	for _, h := range extra {
		ip := h.IP
		if ip == spec.HostGateway {
			if gateway == "" {
				continue
			}
			ip = gateway
		}
		b.WriteString(ip + "\t" + h.Name + "\n")
	}
}

func dedupe(names []string) []string {
	var out []string
	for _, n := range names {
		if n == "" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == n
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}

// DNS is the container's resolver configuration from --dns,
// --dns-search and --dns-option.
type DNS struct {
	Servers []string
	Search  []string
	Options []string
}

// ResolvConf builds a container's /etc/resolv.conf from the host's: the
// host's search and options lines unless given; as nameserver the
// helper's forwarder (helperDNS) if it has one, which reaches whatever
// the host uses, loopback resolvers included (podman's choice), else the
// host's nameservers without loopback ones (unreachable from the
// container's own loopback; Docker's rule); the flags over all of it.
func ResolvConf(host string, d DNS, helperDNS string) string {
	var servers, search, options []string
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && !a.IsLoopback() {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	switch {
	case helperDNS != "":
		servers = []string{helperDNS}
	case len(servers) == 0:
		// Docker's fallback.
		servers = []string{"8.8.8.8", "8.8.4.4"}
	}
	if len(d.Servers) > 0 {
		servers = d.Servers
	}
	if len(d.Search) > 0 {
		search = d.Search
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(d.Options) > 0 {
		options = d.Options
	}
	var b strings.Builder
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}
