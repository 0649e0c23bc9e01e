package spec

import (
	"strconv"
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	ok := []struct {
		in   string
		want PortMapping
	}{
		{"80", PortMapping{ContainerPort: 80, Count: 1, Protocol: "tcp"}},
		{"8080:80", PortMapping{HostPort: 8080, ContainerPort: 80, Count: 1, Protocol: "tcp"}},
		{"127.0.0.1:8080:80/udp", PortMapping{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Count: 1, Protocol: "udp"}},
		{"127.0.0.1::80", PortMapping{HostIP: "127.0.0.1", ContainerPort: 80, Count: 1, Protocol: "tcp"}},
		{"[::1]:8080:80", PortMapping{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Count: 1, Protocol: "tcp"}},
		{"8000-8002:80-82/TCP", PortMapping{HostPort: 8000, ContainerPort: 80, Count: 3, Protocol: "tcp"}},
		{"8000-8010:80", PortMapping{HostPort: 8000, HostRangeEnd: 8010, ContainerPort: 80, Count: 1, Protocol: "tcp"}},
		{"80-81", PortMapping{ContainerPort: 80, Count: 2, Protocol: "tcp"}},
	}
	for _, c := range ok {
		got, err := ParsePublish(c.in)
		if err != nil {
			t.Errorf("ParsePublish(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParsePublish(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	bad := map[string]string{
		"":                   "missing port",
		"0":                  "1-65535",
		"65536":              "1-65535",
		"80/sctp":            "sctp",
		"80/icmp":            "unknown protocol",
		"a:80":               "not a port",
		"1.2.3:80:80":        "invalid IP",
		"::1:80:80":          "too many colons",
		"8000-8001:80-82":    "host range has 2",
		"90-80":              "ends before",
		"[::1]80":            "brackets",
		":80:80":             "empty IP",
		"+80":                "not a port",
		"fe80::1%eth0:1:1":   "too many colons",
		"[fe80::1%eth0]:1:1": "invalid IP",
	}
	for in, want := range bad {
		_, err := ParsePublish(in)
		if err == nil {
			t.Errorf("ParsePublish(%q) accepted", in)
			continue
		}
		checkRejected(t, err, strconv.Quote(in))
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePublish(%q) = %q, want it to mention %q", in, err, want)
		}
	}
}

func TestParseAddHostAndDNS(t *testing.T) {
	for in, want := range map[string]HostEntry{
		"db:10.0.0.5":         {"db", "10.0.0.5"},
		"db=10.0.0.5":         {"db", "10.0.0.5"},
		"gw:host-gateway":     {"gw", HostGateway},
		"v6:[2001:db8::1]":    {"v6", "2001:db8::1"},
		"v6:2001:db8::1":      {"v6", "2001:db8::1"},
		"my.host:192.168.0.1": {"my.host", "192.168.0.1"},
	} {
		got, err := ParseAddHost(in)
		if err != nil || got != want {
			t.Errorf("ParseAddHost(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"db", "db:", ":1.2.3.4", "a b:1.2.3.4", "db:999.1.1.1", "db:gateway"} {
		_, err := ParseAddHost(in)
		if err == nil {
			t.Errorf("ParseAddHost(%q) accepted", in)
			continue
		}
		checkRejected(t, err, strconv.Quote(in))
	}
	if _, err := ParseDNSServer("1.1.1"); err == nil {
		t.Error("ParseDNSServer accepted 1.1.1")
	}
	if err := ValidateDNSSearch("a b"); err == nil {
		t.Error("ValidateDNSSearch accepted a space")
	}
	if err := ValidateDNSOption("ndots:2"); err != nil {
		t.Error(err)
	}
	ports, err := ParseExpose("--expose", "80-82/udp")
	if err != nil || len(ports) != 3 || ports[2] != (ExposedPort{82, "udp"}) {
		t.Errorf("ParseExpose = %v, %v", ports, err)
	}
}

// FuzzParsePublish checks that every accepted -p value is a consistent
// mapping and every rejected one gets an error naming it.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "127.0.0.1:8080:80/udp", "[::1]::80", "8000-8002:80-82", "8000-8010:80/tcp", "1.2.3.4::1-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParsePublish(s)
		if err != nil {
			checkRejected(t, err, strconv.Quote(s))
			return
		}
		if m.Protocol != "tcp" && m.Protocol != "udp" {
			t.Fatalf("%q: protocol %q", s, m.Protocol)
		}
		if m.ContainerPort == 0 || m.Count == 0 || int(m.ContainerPort)+int(m.Count)-1 > 65535 {
			t.Fatalf("%q: container ports %d+%d", s, m.ContainerPort, m.Count)
		}
		if m.HostPort != 0 && int(m.HostPort)+int(m.Count)-1 > 65535 {
			t.Fatalf("%q: host ports %d+%d", s, m.HostPort, m.Count)
		}
		if m.HostRangeEnd != 0 && (m.Count != 1 || m.HostRangeEnd <= m.HostPort) {
			t.Fatalf("%q: host range %d-%d for %d ports", s, m.HostPort, m.HostRangeEnd, m.Count)
		}
		if m.HostIP != "" && strings.ContainsAny(m.HostIP, "[]/%") {
			t.Fatalf("%q: host IP %q", s, m.HostIP)
		}
	})
}
