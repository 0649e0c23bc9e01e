package network

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
)

func TestResolvConf(t *testing.T) {
	host := "# generated\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions edns0\n"
	if got, want := ResolvConf(host, DNS{}, ""), "search corp.example\nnameserver 10.1.1.1\noptions edns0\n"; got != want {
		t.Errorf("host copy without loopback:\n%s\nwant\n%s", got, want)
	}
	if got, want := ResolvConf("nameserver 127.0.0.53\n", DNS{}, ""), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"; got != want {
		t.Errorf("loopback only, no forwarder: %q, want %q", got, want)
	}
	if got, want := ResolvConf(host, DNS{}, "169.254.1.1"), "search corp.example\nnameserver 169.254.1.1\noptions edns0\n"; got != want {
		t.Errorf("forwarder: %q, want %q", got, want)
	}
	got := ResolvConf(host, DNS{Servers: []string{"1.1.1.1"}, Search: []string{"."}, Options: []string{"ndots:2"}}, "169.254.1.1")
	if want := "nameserver 1.1.1.1\noptions ndots:2\n"; got != want {
		t.Errorf("flags: %q, want %q", got, want)
	}
}

func TestHostsFile(t *testing.T) {
	a := Addresses{ContainerIP: "192.0.2.2", Gateway: "192.0.2.1"}
	got := HostsFile(a, []spec.HostEntry{{Name: "db", IP: "10.0.0.5"}, {Name: "gw", IP: spec.HostGateway}}, "abc123", "web", "abc123")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.0.0.5\tdb\n", "192.0.2.1\tgw\n",
		"192.0.2.1\thost.containers.internal host.docker.internal\n", "192.0.2.2\tabc123 web\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "\tdb\n") > strings.Index(got, "host.containers.internal") {
		t.Errorf("--add-host entries must come first:\n%s", got)
	}
	iso := IsolatedHostsFile([]spec.HostEntry{{Name: "gw", IP: spec.HostGateway}}, "abc123")
	if strings.Contains(iso, "gw") || !strings.Contains(iso, "127.0.1.1\tabc123\n") {
		t.Errorf("isolated hosts:\n%s", iso)
	}
}

func TestPastaArgs(t *testing.T) {
	got := strings.Join(pastaArgs([]Published{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
	}, pastaFlags{DNSForward: true}), " ")
	for _, want := range []string{"--dns-forward 169.254.1.1", "-t 8080:80", "-u 127.0.0.1/5353:53", "-T none", "-U none", "--netns /proc/self/fd/3", "--foreground"} {
		if !strings.Contains(got, want) {
			t.Errorf("pasta args %q lack %q", got, want)
		}
	}
	if got := strings.Join(pastaArgs(nil, pastaFlags{}), " "); !strings.Contains(got, "-t none") || !strings.Contains(got, "-u none") {
		t.Errorf("without ports pasta must forward none, not auto: %q", got)
	}
}

func TestAllocatePorts(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	taken := uint16(l.Addr().(*net.TCPAddr).Port)
	_, err = AllocatePorts([]spec.PortMapping{{HostIP: "127.0.0.1", HostPort: taken, ContainerPort: 80, Count: 1, Protocol: "tcp"}})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), strconv.Itoa(int(taken))) || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("taken port: %v", err)
	}
	got, err := AllocatePorts([]spec.PortMapping{{HostIP: "127.0.0.1", ContainerPort: 80, Count: 2, Protocol: "udp"}})
	if err != nil || len(got) != 2 || got[0].HostPort == 0 || got[1].ContainerPort != 81 {
		t.Errorf("free ports: %+v, %v", got, err)
	}
	got, err = AllocatePorts([]spec.PortMapping{{HostIP: "127.0.0.1", HostPort: taken, HostRangeEnd: taken + 5, ContainerPort: 80, Count: 1, Protocol: "tcp"}})
	if err != nil || len(got) != 1 || got[0].HostPort == taken {
		t.Errorf("range: %+v, %v", got, err)
	}
}

// fakeHelpers puts executables named after the given helpers on a fresh
// PATH.
func fakeHelpers(t *testing.T, names ...string) {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestChoose(t *testing.T) {
	for _, c := range []struct {
		installed  []string
		preference string
		publishes  bool
		want       string
	}{
		// auto: slirp4netns without published ports, pasta with them.
		{[]string{Pasta, Slirp}, "", false, Slirp},
		{[]string{Pasta, Slirp}, "auto", true, Pasta},
		// The other one when only one is installed.
		{[]string{Pasta}, "", false, Pasta},
		{[]string{Slirp}, "auto", true, Slirp},
		// A preference applies to every container.
		{[]string{Pasta, Slirp}, Pasta, false, Pasta},
		{[]string{Pasta, Slirp}, Slirp, true, Slirp},
		{[]string{Slirp}, Pasta, false, Slirp},
	} {
		fakeHelpers(t, c.installed...)
		got, err := Choose(c.preference, c.publishes)
		if err != nil || got != c.want {
			t.Errorf("Choose(%q, %v) with %v installed = %q, %v; want %q", c.preference, c.publishes, c.installed, got, err, c.want)
		}
	}
	fakeHelpers(t)
	if _, err := Choose("", false); err == nil || !strings.Contains(err.Error(), "passt") {
		t.Errorf("no helper installed: %v", err)
	}
}
