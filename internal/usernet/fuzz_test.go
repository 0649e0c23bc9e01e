package usernet

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzParseSubnet(f *testing.F) {
	f.Add("10.89.0.0/24", "10.89.0.1")
	f.Fuzz(func(t *testing.T, subnet, gw string) {
		p, err := ParseSubnet(subnet)
		if err != nil {
			return
		}
		if !p.Addr().Is4() || p.Masked() != p || p.Bits() < 8 || p.Bits() > 30 {
			t.Fatalf("accepted %q as %v", subnet, p)
		}
		if g, err := ParseGateway(gw, p); err == nil {
			if !p.Contains(g) || g == p.Addr() || g == broadcast(p) {
				t.Fatalf("gateway %q accepted in %v", gw, p)
			}
			if ip, err := ParseIP(gw, p, g); err == nil {
				t.Fatalf("the gateway %v accepted as a container address", ip)
			}
		}
	})
}

func FuzzNameProblem(f *testing.F) {
	f.Add("my-net_1.x")
	f.Fuzz(func(t *testing.T, name string) {
		if NameProblem(name) != "" {
			return
		}
		if name == "" || name[0] == '.' || name[0] == '-' || name[0] == '_' {
			t.Fatalf("accepted %q", name)
		}
		for _, c := range []byte(name) {
			if c == '/' || c == 0 || c > 127 {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}

func FuzzParseFilters(f *testing.F) {
	f.Add("name=web", "label=a=b")
	f.Fuzz(func(t *testing.T, a, b string) {
		flt, err := ParseFilters([]string{a, b})
		if err != nil {
			return
		}
		// Matching never panics, whatever was accepted.
		flt.Match("n", "abc", "bridge", map[string]string{"a": "b"}, false)
	})
}

// FuzzParseIPAndAlias: --ip accepts only host addresses of the subnet
// other than the gateway; --network-alias only DNS-name bytes.
func FuzzParseIPAndAlias(f *testing.F) {
	f.Add("10.89.0.7", "web.local")
	f.Fuzz(func(t *testing.T, ip, alias string) {
		subnet := netip.MustParsePrefix("10.89.0.0/24")
		gw := netip.MustParseAddr("10.89.0.1")
		if a, err := ParseIP(ip, subnet, gw); err == nil {
			if !subnet.Contains(a) || a == gw || a == subnet.Addr() || a == broadcast(subnet) {
				t.Fatalf("--ip %q accepted as %v", ip, a)
			}
		}
		if ValidateAlias(alias) == nil {
			if alias == "" || len(alias) > 253 || alias[0] == '.' || alias[0] == '-' || strings.ContainsAny(alias, " /\x00\n") {
				t.Fatalf("alias %q accepted", alias)
			}
		}
	})
}
