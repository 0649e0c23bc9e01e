package usernet

import (
	"net/netip"
	"strings"

	"github.com/cove-run/cove/internal/errdefs"
)

// Predefined are the names Docker lists as networks that always exist
// (bridge is cove's default, per-container pasta), plus the other
// --network modes cove accepts: a user network of one of these names
// would be ambiguous.
var predefined = []string{"bridge", "host", "none", "default", "private", "pasta", "slirp4netns"}

// IsPredefined reports whether name is a network mode rather than a user
// network's name.
func IsPredefined(name string) bool {
	for _, p := range predefined {
		if p == name {
			return true
		}
	}
	return false
}

// NameProblem says what is wrong with a network name, "" if nothing.
// Docker's grammar: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func NameProblem(name string) string {
	if name == "" {
		return "is empty"
	}
	if len(name) > 128 {
		return "is longer than 128 characters"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return "must start with a letter or a digit"
		}
		if !alnum && c != '_' && c != '.' && c != '-' {
			return "may contain only letters, digits, '_', '.' and '-'"
		}
	}
	return ""
}

// ValidateName checks a name given to network create.
func ValidateName(name string) error {
	if p := NameProblem(name); p != "" {
		return errdefs.InvalidArgument("network name %q %s ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", name, p)
	}
	if IsPredefined(name) {
		return errdefs.InvalidArgument("network name %q is reserved: it names a predefined network or network mode", name)
	}
	return nil
}

// ParseSubnet parses --subnet: an IPv4 CIDR with no host bits set, with
// room for the gateway and at least one container (/8 to /30).
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errdefs.InvalidArgument("--subnet %q: not a CIDR subnet such as 10.90.0.0/24", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, errdefs.InvalidArgument("--subnet %q: only IPv4 subnets are supported", s)
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return netip.Prefix{}, errdefs.InvalidArgument("--subnet %q: the prefix length must be between 8 and 30", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, errdefs.InvalidArgument("--subnet %q: host bits are set (the subnet is %s)", s, p.Masked())
	}
	return p, nil
}

// ParseGateway parses --gateway within subnet: neither the subnet's own
// address nor its broadcast address.
func ParseGateway(s string, subnet netip.Prefix) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, errdefs.InvalidArgument("--gateway %q: not an IPv4 address", s)
	}
	if !subnet.Contains(a) {
		return netip.Addr{}, errdefs.InvalidArgument("--gateway %q: not in the subnet %s", s, subnet)
	}
	if a == subnet.Addr() || a == broadcast(subnet) {
		return netip.Addr{}, errdefs.InvalidArgument("--gateway %q: the subnet's network or broadcast address", s)
	}
	return a, nil
}

// ParseIP parses --ip for a container on subnet.
func ParseIP(s string, subnet netip.Prefix, gateway netip.Addr) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, errdefs.InvalidArgument("--ip %q: not an IPv4 address", s)
	}
	if !subnet.Contains(a) || a == subnet.Addr() || a == broadcast(subnet) || a == gateway {
		return netip.Addr{}, errdefs.InvalidArgument("--ip %q: not a free host address of the subnet %s (gateway %s)", s, subnet, gateway)
	}
	return a, nil
}

// broadcast is the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Filter is `network ls --filter`: name= (substring, as Docker), id=
// (prefix), label=KEY[=VALUE], label!=, driver=, type=custom|builtin.
type Filter struct {
	Names, IDs, Labels, NotLabels, Drivers, Types []string
}

// ParseFilters parses --filter values, naming a bad one.
func ParseFilters(raw []string) (*Filter, error) {
	f := &Filter{}
	for _, r := range raw {
		k, v, ok := strings.Cut(r, "=")
		if !ok || v == "" && k != "label" && k != "label!" {
			return nil, errdefs.InvalidArgument("--filter %q: expected KEY=VALUE", r)
		}
		switch k {
		case "name":
			f.Names = append(f.Names, v)
		case "id":
			f.IDs = append(f.IDs, v)
		case "label":
			if v == "" {
				return nil, errdefs.InvalidArgument("--filter %q: label needs KEY or KEY=VALUE", r)
			}
			f.Labels = append(f.Labels, v)
		case "label!":
			if v == "" {
				return nil, errdefs.InvalidArgument("--filter %q: label! needs KEY or KEY=VALUE", r)
			}
			f.NotLabels = append(f.NotLabels, v)
		case "driver":
			f.Drivers = append(f.Drivers, v)
		case "type":
			if v != "custom" && v != "builtin" {
				return nil, errdefs.InvalidArgument("--filter %q: type is custom or builtin", r)
			}
			f.Types = append(f.Types, v)
		default:
			return nil, errdefs.InvalidArgument("--filter %q: unknown filter %q (use name, id, label, label!, driver or type)", r, k)
		}
	}
	return f, nil
}

// Match applies the filter to a network's fields.
func (f *Filter) Match(name, id, driver string, labels map[string]string, builtin bool) bool {
	anyOf := func(want []string, ok func(string) bool) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			if ok(w) {
				return true
			}
		}
		return false
	}
	hasLabel := func(want string) bool {
		k, v, withValue := strings.Cut(want, "=")
		got, ok := labels[k]
		return ok && (!withValue || got == v)
	}
	if !anyOf(f.Names, func(w string) bool { return strings.Contains(name, w) }) ||
		!anyOf(f.IDs, func(w string) bool { return strings.HasPrefix(id, w) }) ||
		!anyOf(f.Drivers, func(w string) bool { return w == driver }) ||
		!anyOf(f.Types, func(w string) bool { return (w == "builtin") == builtin }) {
		return false
	}
	for _, l := range f.Labels {
		if !hasLabel(l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if hasLabel(l) {
			return false
		}
	}
	return true
}

// ValidateAlias checks a --network-alias: a DNS name of letters, digits,
// '-', '_' and '.', at most 253 bytes.
func ValidateAlias(a string) error {
	if a == "" || len(a) > 253 || a[0] == '.' || a[0] == '-' {
		return errdefs.InvalidArgument("--network-alias %q: not a valid DNS name", a)
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errdefs.InvalidArgument("--network-alias %q: not a valid DNS name", a)
		}
	}
	return nil
}
