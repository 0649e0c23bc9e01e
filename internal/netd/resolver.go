package netd

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// lookupFunc returns the addresses of a container's name, alias or short
// ID; none for other names, which are forwarded.
type lookupFunc func(name string) []netip.Addr

// answer builds the reply to a DNS query for a network's own names; ok is
// false when the query is for another name, to be forwarded.
func answer(query []byte, lookup lookupFunc) (resp []byte, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	addrs := lookup(name)
	if len(addrs) == 0 {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		for _, a := range addrs {
			// A short TTL, as Docker's resolver: containers come and go.
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 600}
			if err := b.AResource(rh, dnsmessage.AResource{A: a.As4()}); err != nil {
				return nil, false
			}
		}
	}
	// AAAA and other types of a container's name: no records, no error
	// (the name exists), so resolvers do not go on to the host's servers.
	out, err := b.Finish()
	return out, err == nil
}

// servfail answers a query the resolver could not forward.
func servfail(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, qerr := p.Question()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeServerFailure,
		RecursionDesired: h.RecursionDesired})
	if qerr == nil && b.StartQuestions() == nil {
		b.Question(q)
	}
	out, _ := b.Finish()
	return out
}

// upstreams reads the host's nameservers from resolv.conf content; the
// forwarder's sockets are made in the host's namespace, so loopback
// resolvers (systemd-resolved's 127.0.0.53) work.
func upstreams(resolvConf string) []string {
	var out []string
	for _, line := range strings.Split(resolvConf, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a.WithZone(""), 53).String())
			}
		}
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// forward sends a query to the upstream servers in turn through dial
// (a UDP socket in the host's namespace) and returns the first reply.
func forward(query []byte, servers []string, dial func(addr string) (net.Conn, error)) []byte {
	buf := make([]byte, 65535)
	for _, s := range servers {
		c, err := dial(s)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(query); err == nil {
			if n, err := c.Read(buf); err == nil {
				c.Close()
				return append([]byte(nil), buf[:n]...)
			}
		}
		c.Close()
	}
	return servfail(query)
}

// tcpMessages frames DNS messages on a TCP connection (RFC 1035 4.2.2):
// each Write sends one message with its two-byte length, each Read
// returns one whole message.
type tcpMessages struct{ net.Conn }

func (c *tcpMessages) Write(msg []byte) (int, error) {
	if len(msg) > 65535 {
		return 0, fmt.Errorf("DNS message of %d bytes", len(msg))
	}
	if _, err := c.Conn.Write(append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)); err != nil {
		return 0, err
	}
	return len(msg), nil
}

func (c *tcpMessages) Read(buf []byte) (int, error) {
	var l [2]byte
	if _, err := io.ReadFull(c.Conn, l[:]); err != nil {
		return 0, err
	}
	n := int(l[0])<<8 | int(l[1])
	if n > len(buf) {
		return 0, fmt.Errorf("DNS message of %d bytes", n)
	}
	return io.ReadFull(c.Conn, buf[:n])
}
