//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Issue 6 item 3: user-defined networks. The records and commands first;
// the data path (containers reaching each other) below.

// networkNames returns `network ls --format {{.Name}}` with filters.
func networkNames(h *Harness, args ...string) string {
	h.t.Helper()
	r := h.Run(0, append([]string{"network", "ls", "--format", "{{.Name}}"}, args...)...)
	return strings.Join(strings.Fields(r.Stdout), ",")
}

func TestUserNetworkCommands(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	// create prints a 64-digit ID; subnets come from 10.89.0.0/16.
	r := h.Run(0, "network", "create", "--label", "team=a", "front")
	id := strings.TrimSpace(r.Stdout)
	if len(id) != 64 {
		t.Fatalf("network create printed %q", r.Stdout)
	}
	h.Run(0, "network", "create", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.254", "--internal", "back")

	// ls: the predefined networks and ours, Docker's columns.
	r = h.Run(0, "network", "ls")
	if !strings.HasPrefix(r.Stdout, "NETWORK ID     NAME      DRIVER    SCOPE\n") || !strings.Contains(r.Stdout, id[:12]+"   front     bridge    local\n") {
		t.Errorf("network ls:\n%s", r.Stdout)
	}
	if got := networkNames(h); got != "bridge,host,none,back,front" {
		t.Errorf("ls names: %s", got)
	}
	if got := networkNames(h, "--filter", "label=team=a"); got != "front" {
		t.Errorf("ls --filter label: %s", got)
	}
	if got := networkNames(h, "--filter", "type=custom", "--filter", "name=ba"); got != "back" {
		t.Errorf("ls --filter type,name: %s", got)
	}
	if got := networkNames(h, "--filter", "id="+id[:6]); got != "front" {
		t.Errorf("ls --filter id: %s", got)
	}
	r = h.Run(0, "network", "ls", "-q", "--no-trunc", "--filter", "name=front")
	if r.Stdout != id+"\n" {
		t.Errorf("ls -q --no-trunc: %q", r.Stdout)
	}

	// inspect, also through plain inspect and by ID prefix.
	r = h.Run(0, "network", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Internal}} {{.Labels.team}}", "front")
	if r.Stdout != "front bridge local 10.89.0.0/24 10.89.0.1 false a\n" {
		t.Errorf("network inspect: %q", r.Stdout)
	}
	r = h.Run(0, "inspect", "-f", "{{.Name}} {{range .IPAM.Config}}{{.Gateway}}{{end}} {{.Internal}}", "back")
	if r.Stdout != "back 10.77.0.254 true\n" {
		t.Errorf("plain inspect of a network: %q", r.Stdout)
	}
	r = h.Run(0, "network", "inspect", "-f", "{{.Name}}", id[:8], "bridge")
	if r.Stdout != "front\nbridge\n" {
		t.Errorf("inspect by ID prefix and predefined: %q", r.Stdout)
	}
	h.Run(0, "network", "exists", "front")
	h.Run(1, "network", "exists", "nope")

	// A container on a network: inspect shows its endpoint, the network
	// lists it, and rm of the network is refused until it is removed.
	h.Run(0, "create", "--name", "c1", "--network", "front", "--network-alias", "web", "--ip", "10.89.0.9", "cove-test/busybox", "true")
	r = h.Run(0, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}/{{$v.IPPrefixLen}} {{$v.Gateway}} {{$v.MacAddress}} {{index $v.Aliases 1}}{{end}}", "c1")
	if r.Stdout != "front 10.89.0.9/24 10.89.0.1 02:42:0a:59:00:09 web\n" {
		t.Errorf("container endpoint: %q", r.Stdout)
	}
	r = h.Run(0, "ps", "-a", "--filter", "network=front", "--format", "{{.Names}} {{.Networks}}")
	if r.Stdout != "c1 front\n" {
		t.Errorf("ps --filter network: %q", r.Stdout)
	}
	r = h.Run(0, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "front")
	if r.Stdout != "c1 10.89.0.9/24\n" {
		t.Errorf("network containers: %q", r.Stdout)
	}
	r = h.Run(125, "network", "rm", "front")
	if !strings.Contains(r.Stderr, "network front id "+id+" has active endpoints") || !strings.Contains(r.Stderr, "c1") {
		t.Errorf("rm of a used network: %q", r.Stderr)
	}
	// connect and disconnect a stopped container.
	h.Run(0, "network", "connect", "--alias", "db", "back", "c1")
	r = h.Run(125, "network", "connect", "back", "c1")
	if !strings.Contains(r.Stderr, "container c1 is already connected to network back") {
		t.Errorf("second connect: %q", r.Stderr)
	}
	if got := monInspect(t, h, "c1", "{{len .NetworkSettings.Networks}}"); got != "2" {
		t.Errorf("after connect: %s networks", got)
	}
	h.Run(0, "network", "disconnect", "back", "c1")
	r = h.Run(125, "network", "disconnect", "back", "c1")
	if !strings.Contains(r.Stderr, "not connected") {
		t.Errorf("second disconnect: %q", r.Stderr)
	}
	// The next container gets the next free address.
	h.Run(0, "create", "--name", "c2", "--network", "front", "cove-test/busybox", "true")
	if got := monInspect(t, h, "c2", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"); got != "10.89.0.2" {
		t.Errorf("c2 address: %s", got)
	}
	h.Run(0, "rm", "c1", "c2")
	h.Run(0, "network", "rm", "front")
	h.Run(1, "network", "exists", "front")

	// prune removes unused networks only.
	h.Run(0, "network", "create", "keep")
	h.Run(0, "create", "--name", "c3", "--network", "keep", "cove-test/busybox", "true")
	r = h.Run(0, "network", "prune", "-f")
	if r.Stdout != "Deleted Networks:\nback\n" {
		t.Errorf("prune: %q", r.Stdout)
	}
	if got := networkNames(h, "--filter", "type=custom"); got != "keep" {
		t.Errorf("after prune: %s", got)
	}
	h.Run(0, "rm", "c3")
	h.Run(0, "network", "rm", "keep")
	// rm -f ignores a missing network.
	h.Run(0, "network", "rm", "-f", "nope")
}

func TestUserNetworkBadInput(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "network", "create", "--subnet", "10.78.0.0/16", "taken")
	before := h.Run(0, "network", "ls", "-q", "--no-trunc").Stdout
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "taken"}, "network with name taken already exists"},
		{[]string{"network", "create", "host"}, `"host" is reserved`},
		{[]string{"network", "create", "_bad"}, `"_bad"`},
		{[]string{"network", "create", "a/b"}, `"a/b"`},
		{[]string{"network", "create", "--subnet", "10.78.5.0/24", "n"}, "overlaps the subnet 10.78.0.0/16 of network taken"},
		{[]string{"network", "create", "--subnet", "10.79.0.1/24", "n"}, "host bits"},
		{[]string{"network", "create", "--subnet", "nonsense", "n"}, `"nonsense"`},
		{[]string{"network", "create", "--subnet", "fd00::/64", "n"}, "IPv4"},
		{[]string{"network", "create", "--subnet", "10.79.0.0/24", "--gateway", "10.80.0.1", "n"}, "not in the subnet"},
		{[]string{"network", "create", "--gateway", "10.79.0.1", "n"}, "needs --subnet"},
		{[]string{"network", "create", "-d", "macvlan", "n"}, `"macvlan"`},
		{[]string{"network", "ls", "--filter", "colour=red"}, `"colour=red"`},
		{[]string{"network", "inspect", "nope"}, "network nope not found"},
		{[]string{"network", "rm", "nope"}, "network nope not found"},
		{[]string{"network", "rm", "bridge"}, "pre-defined network"},
		{[]string{"network", "connect", "nope", "nobody"}, "nobody"},
		{[]string{"run", "--rm", "--network", "nope", "cove-test/busybox", "true"}, "network nope not found"},
		{[]string{"run", "--rm", "--network", "taken", "--network", "host", "cove-test/busybox", "true"}, "cannot be combined"},
		{[]string{"run", "--rm", "--network-alias", "x", "cove-test/busybox", "true"}, "user-defined network"},
		{[]string{"run", "--rm", "--network", "taken", "--ip", "10.99.0.5", "cove-test/busybox", "true"}, `"10.99.0.5"`},
		{[]string{"run", "--rm", "--network", "taken", "--network-alias", "bad alias", "cove-test/busybox", "true"}, `"bad alias"`},
		{[]string{"run", "--rm", "--network", "taken", "--ip", "10.78.0.1", "cove-test/busybox", "true"}, "gateway 10.78.0.1"},
		{[]string{"network", "create", strings.Repeat("a", 129)}, "longer than 128"},
		{[]string{"network", "create", "--subnet", "10.79.0.0/31", "n"}, "prefix length"},
		{[]string{"network", "create", "--subnet", "10.79.0.0/24", "--gateway", "10.79.0.255", "n"}, "broadcast"},
		{[]string{"network", "create", "--label", "=x", "n"}, `"=x"`},
		{[]string{"network", "ls", "--filter", "type=foo"}, `"type=foo"`},
		{[]string{"network", "ls", "--filter", "label!="}, `"label!=": label! needs KEY`},
		{[]string{"network", "ls", "--format", "{{"}, `--format "{{"`},
		{[]string{"network", "ls", "--format", "{{.Nope}}"}, "Nope"},
		{[]string{"network", "prune", "-f", "--filter", "name=taken"}, "label and label! filters only"},
	} {
		r := h.Run(125, c.args...)
		if !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, r.Stderr, c.want)
		}
	}
	if after := h.Run(0, "network", "ls", "-q", "--no-trunc").Stdout; after != before {
		t.Errorf("bad input changed the networks:\n%s\nthen\n%s", before, after)
	}
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("bad input created containers: %q", r.Stdout)
	}
	// network connect's options, on a container that exists.
	h.Run(0, "create", "--name", "c", "cove-test/busybox", "true")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ip", "bad"}, `--ip "bad": not an IPv4 address`},
		{[]string{"--ip", "10.99.0.5"}, `"10.99.0.5": not a free host address`},
		{[]string{"--alias", "bad alias"}, `"bad alias"`},
	} {
		r := h.Run(125, append(append([]string{"network", "connect"}, c.args...), "taken", "c")...)
		if !strings.Contains(r.Stderr, c.want) {
			t.Errorf("connect %v: stderr %q lacks %q", c.args, r.Stderr, c.want)
		}
	}
	if r := h.Run(0, "network", "inspect", "-f", "{{len .Containers}}", "taken"); r.Stdout != "0\n" {
		t.Errorf("bad connects connected containers: %q", r.Stdout)
	}
}

// TestUserNetworkConcurrentCreates: parallel creates of one name make one
// network; parallel containers get distinct addresses.
func TestUserNetworkConcurrent(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = run(h.Cmd("network", "create", "same")).Code
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == 0 {
			ok++
		} else if c != 125 {
			t.Errorf("network create exit %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 4 parallel creates of one name succeeded", ok)
	}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if r := run(h.Cmd("create", "--network", "same", "cove-test/busybox", "true")); r.Code != 0 {
				t.Errorf("create: %d %s", r.Code, r.Stderr)
			}
		}(i)
	}
	wg.Wait()
	r := h.Run(0, "network", "inspect", "-f", "{{range .Containers}}{{.IPv4Address}} {{end}}", "same")
	seen := map[string]bool{}
	for _, a := range strings.Fields(r.Stdout) {
		if seen[a] {
			t.Errorf("address %s given twice: %s", a, r.Stdout)
		}
		seen[a] = true
	}
	if len(seen) != 4 {
		t.Errorf("addresses: %q", r.Stdout)
	}
}

// fetchByAddr is a shell command that prints "reached" if srv's page
// comes back from ip. A TCP connection alone proves nothing: the test
// machine's outbound path accepts connections to any address (and may
// then hold them, hence the timeout).
func fetchByAddr(ip string) string {
	return `printf 'GET /i HTTP/1.0\r\n\r\n' | timeout 3 nc -w 2 ` + ip + ` 8080 2>/dev/null | grep -q hello && echo reached`
}

// liveNetd lists the cove-netd processes of a harness (its run root is
// under h.Dir).
func liveNetd(h *Harness) []string {
	var out []string
	for _, p := range monProcsMentioning(h.Dir) {
		if strings.Contains(p, "cove-netd") {
			out = append(out, p)
		}
	}
	return out
}

// TestUserNetworkTalkByName: containers on one network reach each other
// by name, alias and short ID through cove's resolver; a container on
// another network resolves and reaches neither; connect and disconnect
// act on a running container; --internal networks have no way out; and
// cove-netd is gone once no container uses a network.
func TestUserNetworkTalkByName(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "network", "create", "front")
	h.Run(0, "network", "create", "other")
	h.Run(0, "network", "create", "--internal", "closed")
	id := strings.TrimSpace(h.Run(0, "run", "-d", "--name", "srv", "--network", "front", "--network-alias", "web",
		"cove-test/busybox", "sh", "-c", "echo hello > /tmp/i; exec httpd -f -p 8080 -h /tmp").Stdout)
	ip := monInspect(t, h, "srv", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
	if !strings.HasPrefix(ip, "10.89.0.") {
		t.Fatalf("srv's address on front: %q", ip)
	}
	// The first wget may race httpd's start: retry briefly.
	get := func(host string) string {
		return "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://" + host + ":8080/i && break; sleep 0.2; done; "
	}
	r := h.Run(0, "run", "--rm", "--network", "front", "cove-test/busybox", "sh", "-c", get("srv")+get("web")+get(id[:12]))
	if r.Stdout != "hello\nhello\nhello\n" {
		t.Errorf("by name, alias and short ID: %q (stderr %q)", r.Stdout, r.Stderr)
	}
	// The resolver answers over TCP too: a framed query for "srv" (type
	// A) gets srv's address in its answer.
	gw := monInspect(t, h, "srv", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}")
	r = h.Run(0, "run", "--rm", "--network", "front", "cove-test/busybox", "sh", "-c",
		`(printf '\000\025\000\052\001\000\000\001\000\000\000\000\000\000\003srv\000\000\001\000\001'; sleep 1) | timeout 3 nc `+gw+` 53 | od -An -tx1 | tr -d ' \n'`)
	var ipHex string
	for _, part := range strings.Split(ip, ".") {
		ipHex += fmt.Sprintf("%02x", atoi(t, part))
	}
	if !strings.HasSuffix(r.Stdout, "0004"+ipHex) {
		t.Errorf("DNS over TCP for srv (%s): %q", ip, r.Stdout)
	}
	// Outbound traffic still goes through the container's own pasta, and
	// names the resolver does not know are forwarded (NXDOMAIN here).
	r = h.Run(0, "run", "--rm", "--network", "front", "cove-test/busybox", "sh", "-c",
		"ip route | grep -q '^default' && echo route; nslookup nothing.invalid >/dev/null 2>&1 || echo nx")
	if r.Stdout != "route\nnx\n" {
		t.Errorf("outbound route and forwarding: %q", r.Stdout)
	}
	// Another network: no name, no route to the address.
	r = h.Run(0, "run", "--rm", "--network", "other", "cove-test/busybox", "sh", "-c",
		"nslookup srv >/dev/null 2>&1 && echo resolved; "+fetchByAddr(ip)+"; echo done")
	if r.Stdout != "done\n" {
		t.Errorf("isolation between networks: %q", r.Stdout)
	}
	// An internal network: no pasta, so no default route.
	r = h.Run(0, "run", "--rm", "--network", "closed", "cove-test/busybox", "sh", "-c", "ip route; ip -o link | grep -c ether")
	if strings.Contains(r.Stdout, "default") || !strings.HasSuffix(r.Stdout, "\n1\n") {
		t.Errorf("internal network: %q", r.Stdout)
	}
	// A network in use by a running container cannot go.
	r = h.Run(125, "network", "rm", "front")
	if !strings.Contains(r.Stderr, "has active endpoints") {
		t.Errorf("rm of a used network: %q", r.Stderr)
	}
	// connect gives a running container an interface and the names of
	// the new network; disconnect takes both away.
	h.Run(0, "run", "-d", "--name", "cli", "--network", "other", "cove-test/busybox", "sleep", "60")
	h.Run(0, "network", "connect", "front", "cli")
	r = h.Run(0, "exec", "cli", "wget", "-q", "-O-", "http://srv:8080/i")
	if r.Stdout != "hello\n" {
		t.Errorf("after connect: %q", r.Stdout)
	}
	h.Run(0, "network", "disconnect", "front", "cli")
	r = h.Run(0, "exec", "cli", "sh", "-c", "nslookup srv >/dev/null 2>&1 && echo resolved; ip -o addr | grep -c 10.89.0. ; true")
	if r.Stdout != "0\n" {
		t.Errorf("after disconnect: %q", r.Stdout)
	}
	// A container on the default network gets the resolver with its
	// first user network.
	h.Run(0, "run", "-d", "--name", "late", "cove-test/busybox", "sleep", "60")
	h.Run(0, "network", "connect", "front", "late")
	r = h.Run(0, "exec", "late", "wget", "-q", "-O-", "http://web:8080/i")
	if r.Stdout != "hello\n" {
		t.Errorf("default-network container after connect: %q", r.Stdout)
	}
	if len(liveNetd(h)) != 1 {
		t.Errorf("netd processes: %q", liveNetd(h))
	}
	h.Run(0, "rm", "-f", "srv", "cli", "late")
	waitFor(t, 10*time.Second, "cove-netd to exit", func() bool { return len(liveNetd(h)) == 0 })
	h.Run(0, "network", "rm", "front", "other", "closed")
}

// TestNetworkContainerMode: --network container:NAME shares a running
// container's network namespace (its loopback services, its address and
// its resolv.conf), with --init too; a missing or stopped container and
// published ports are refused.
func TestNetworkContainerMode(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "run", "-d", "--name", "srv", "cove-test/busybox", "sh", "-c", "echo hi > /tmp/i; exec httpd -f -p 127.0.0.1:8080 -h /tmp")
	srvAddr := strings.TrimSpace(h.Run(0, "exec", "srv", "sh", "-c", "ip -o -4 addr show scope global | awk '{print $4}'").Stdout)
	get := "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://127.0.0.1:8080/i && break; sleep 0.2; done; "
	for _, extra := range [][]string{nil, {"--init"}} {
		args := append(append([]string{"run", "--rm", "--network", "container:srv"}, extra...),
			"cove-test/busybox", "sh", "-c", get+"ip -o -4 addr show scope global | awk '{print $4}'")
		r := h.Run(0, args...)
		if r.Stdout != "hi\n"+srvAddr+"\n" {
			t.Errorf("container:srv %v: %q, want srv's page and address %q", extra, r.Stdout, srvAddr)
		}
	}
	if got := monInspect(t, h, "srv", "{{.ResolvConfPath}}"); got == "" {
		t.Error("no resolv.conf path")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--network", "container:nope"}, "no such container: nope"},
		{[]string{"--network", "container:srv", "-p", "80"}, "port publishing"},
		{[]string{"--network", "container:"}, "name the container"},
		{[]string{"--network", "ns:/no/such/file"}, "no such file"},
	} {
		r := h.Run(125, append(append([]string{"run", "--rm"}, c.args...), "cove-test/busybox", "true")...)
		if !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, r.Stderr, c.want)
		}
	}
	h.Run(0, "stop", "-t", "0", "srv")
	r := h.Run(125, "run", "--rm", "--network", "container:srv", "cove-test/busybox", "true")
	if !strings.Contains(r.Stderr, "non running container srv") {
		t.Errorf("stopped owner: %q", r.Stderr)
	}
	h.Run(0, "rm", "srv")
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("containers left: %q", r.Stdout)
	}
}

// TestUserNetworkNetdKilled: after kill -9 of cove-netd, the next
// container on a network starts a new one, and a container restarted
// then is reachable by name again.
func TestUserNetworkNetdKilled(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "network", "create", "n")
	h.Run(0, "run", "-d", "--name", "a1", "--network", "n", "cove-test/busybox", "sleep", "60")
	procs := liveNetd(h)
	if len(procs) != 1 {
		t.Fatalf("netd processes: %q", procs)
	}
	pid, _, _ := strings.Cut(procs[0], ":")
	if err := syscallKill(atoi(t, pid)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "netd to die", func() bool { return len(liveNetd(h)) == 0 })
	h.Run(0, "restart", "-t", "0", "a1")
	r := h.Run(0, "run", "--rm", "--network", "n", "cove-test/busybox", "sh", "-c", "nslookup a1 >/dev/null && echo found")
	if r.Stdout != "found\n" {
		t.Errorf("after netd was killed and a1 restarted: %q %q", r.Stdout, r.Stderr)
	}
	h.Run(0, "rm", "-f", "a1")
	waitFor(t, 10*time.Second, "cove-netd to exit", func() bool { return len(liveNetd(h)) == 0 })
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUserNetworkRmWithoutNetworks: removing a container on no user
// network does not wait for the networks' lock (held here as a long
// network change would), while a container on one still loses its
// endpoint.
func TestUserNetworkRmWithoutNetworks(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "network", "create", "n")
	h.Run(0, "create", "--name", "plain", "cove-test/busybox", "true")
	h.Run(0, "create", "--name", "joined", "--network", "n", "cove-test/busybox", "true")
	lock, err := os.OpenFile(filepath.Join(h.Dir, "data", "cove", "networks", ".lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- run(h.Cmd("rm", "plain")) }()
	select {
	case r := <-done:
		if r.Code != 0 {
			t.Fatalf("rm: exit %d: %s", r.Code, r.Stderr)
		}
	case <-time.After(15 * time.Second):
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		<-done
		t.Fatal("rm of a container on no user network waited for the networks' lock")
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	h.Run(0, "rm", "joined")
	id := strings.TrimSpace(h.Run(0, "network", "inspect", "-f", "{{.Id}}", "n").Stdout)
	ents, err := os.ReadDir(filepath.Join(h.Dir, "data", "cove", "networks", id, "endpoints"))
	if err != nil || len(ents) != 0 {
		t.Errorf("endpoints left after rm: %v %v", ents, err)
	}
	h.Run(0, "network", "rm", "n")
}

// TestUserNetworkKilledHalfway: cove killed at any point of network
// create, network rm, run --network and network connect leaves a store
// the next commands use: the network works or is gone, no address is
// lost to a container that does not exist, and the network can be
// removed once its containers are.
func TestUserNetworkKilledHalfway(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	killAfter := func(d time.Duration, args ...string) {
		cmd := h.Cmd(args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		cmd.Process.Kill()
		cmd.Wait()
	}
	h.Run(0, "create", "--name", "c", "cove-test/busybox", "true")
	for i, d := range []time.Duration{0, 2, 5, 10, 20, 40, 80} {
		d *= time.Millisecond
		name := "k" + strconv.Itoa(i)
		killAfter(d, "network", "create", "--subnet", fmt.Sprintf("10.66.%d.0/24", i), name)
		if run(h.Cmd("network", "inspect", name)).Code != 0 {
			h.Run(0, "network", "create", "--subnet", fmt.Sprintf("10.66.%d.0/24", i), name)
		}
		killAfter(d, "create", "--network", name, "--ip", fmt.Sprintf("10.66.%d.7", i), "cove-test/busybox", "true")
		killAfter(d, "network", "connect", name, "c")
		// Whatever the killed create left, the address is free again
		// once the containers that exist are removed.
		if ids := strings.Fields(h.Run(0, "ps", "-a", "-q").Stdout); len(ids) > 0 {
			h.Run(0, append([]string{"rm", "-f"}, ids...)...)
		}
		h.Run(0, "create", "--name", "c", "--network", name, "--ip", fmt.Sprintf("10.66.%d.7", i), "cove-test/busybox", "true")
		if ids := strings.Fields(h.Run(0, "ps", "-a", "-q", "--filter", "network="+name).Stdout); len(ids) != 1 {
			t.Errorf("%v: containers on %s: %v", d, name, ids)
		}
		h.Run(0, "rm", "-f", "c")
		killAfter(d, "network", "rm", name)
		h.Run(0, "network", "rm", "-f", name)
		h.Run(1, "network", "exists", name)
		h.Run(0, "create", "--name", "c", "cove-test/busybox", "true")
	}
	// Nothing hidden is left once a change has run under the lock.
	h.Run(0, "network", "create", "last")
	ents, err := os.ReadDir(filepath.Join(h.Dir, "data", "cove", "networks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left in the networks' store: %s", e.Name())
		}
	}
	if got := networkNames(h, "--filter", "type=custom"); got != "last" {
		t.Errorf("networks: %s", got)
	}
}

// TestUserNetworkLessTravelled: the options and refusals the main test
// does not reach: driver filters, prune's label filters, disconnect -f of
// a container not connected, and connect of a container whose network
// mode has no place for a user network.
func TestUserNetworkLessTravelled(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "network", "create", "--label", "keep=yes", "kept")
	h.Run(0, "network", "create", "--label", "keep=no", "dropped")
	h.Run(0, "network", "create", "plain")
	if got := networkNames(h, "--filter", "driver=null"); got != "none" {
		t.Errorf("ls --filter driver=null: %s", got)
	}
	if got := networkNames(h, "--filter", "driver=bridge"); got != "bridge,dropped,kept,plain" {
		t.Errorf("ls --filter driver=bridge: %s", got)
	}
	if got := networkNames(h, "--filter", "label!=keep=yes", "--filter", "type=custom"); got != "dropped,plain" {
		t.Errorf("ls --filter label!=: %s", got)
	}
	r := h.Run(0, "network", "prune", "-f", "--filter", "label=keep=no")
	if r.Stdout != "Deleted Networks:\ndropped\n" {
		t.Errorf("prune --filter label=: %q", r.Stdout)
	}
	r = h.Run(0, "network", "prune", "-f", "--filter", "label!=keep")
	if r.Stdout != "Deleted Networks:\nplain\n" {
		t.Errorf("prune --filter label!=: %q", r.Stdout)
	}
	if got := networkNames(h, "--filter", "type=custom"); got != "kept" {
		t.Errorf("after prunes: %s", got)
	}

	h.Run(0, "create", "--name", "c", "cove-test/busybox", "true")
	h.Run(0, "network", "disconnect", "-f", "kept", "c")
	h.Run(0, "create", "--name", "hostnet", "--network", "host", "cove-test/busybox", "true")
	r = h.Run(125, "network", "connect", "kept", "hostnet")
	if !strings.Contains(r.Stderr, "container hostnet uses the host network mode, which cannot be combined with a user network") {
		t.Errorf("connect of a host-network container: %q", r.Stderr)
	}
	if r := h.Run(0, "network", "inspect", "-f", "{{len .Containers}}", "kept"); r.Stdout != "0\n" {
		t.Errorf("kept's containers: %q", r.Stdout)
	}
}

// TestUserNetworkUnrecordedNetdLeavesTheRecord: a netd whose starter was
// killed before recording it (simulated by removing the record) is
// replaced by the next container's netd; when the unrecorded one goes
// idle and exits it must not remove its successor's record, or the next
// container would start a third netd, cut off from the second's.
func TestUserNetworkUnrecordedNetdLeavesTheRecord(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	h.Run(0, "network", "create", "n")
	h.Run(0, "run", "-d", "--name", "a1", "--network", "n", "cove-test/busybox", "sleep", "60")
	record := filepath.Join(h.Dir, "run", "cove", "netd", "netd.json")
	if err := os.Remove(record); err != nil {
		t.Fatal(err)
	}
	h.Run(0, "run", "-d", "--name", "a2", "--network", "n", "cove-test/busybox", "sleep", "60")
	if procs := liveNetd(h); len(procs) != 2 {
		t.Fatalf("netd processes after the record was lost: %q", procs)
	}
	h.Run(0, "rm", "-f", "a1")
	waitFor(t, 10*time.Second, "the unrecorded netd to exit", func() bool { return len(liveNetd(h)) == 1 })
	if _, err := os.Stat(record); err != nil {
		t.Errorf("the serving netd's record: %v", err)
	}
	r := h.Run(0, "run", "--rm", "--network", "n", "cove-test/busybox", "sh", "-c", "nslookup a2 >/dev/null && echo found")
	if r.Stdout != "found\n" {
		t.Errorf("a new container finds a2: %q %q", r.Stdout, r.Stderr)
	}
	if procs := liveNetd(h); len(procs) != 1 {
		t.Errorf("netd processes: %q", procs)
	}
	h.Run(0, "rm", "-f", "a2")
	waitFor(t, 10*time.Second, "cove-netd to exit", func() bool { return len(liveNetd(h)) == 0 })
}

// TestUserNetworkRmRacesCreate: network rm and a create on the network
// at once end with the container on an existing network, or with no
// container and no network; never a container on a removed network.
func TestUserNetworkRmRacesCreate(t *testing.T) {
	h := newHarness(t)
	loadBusybox(t, h)
	for i := 0; i < 6; i++ {
		h.Run(0, "network", "create", "race")
		var created, removed Result
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			created = run(h.Cmd("create", "--name", "r", "--network", "race", "cove-test/busybox", "true"))
		}()
		go func() { defer wg.Done(); removed = run(h.Cmd("network", "rm", "race")) }()
		wg.Wait()
		switch {
		case created.Code == 0 && removed.Code == 125:
			if !strings.Contains(removed.Stderr, "has active endpoints") {
				t.Errorf("rm lost to create: %q", removed.Stderr)
			}
			h.Run(0, "network", "exists", "race")
			h.Run(0, "rm", "r")
			h.Run(0, "network", "rm", "race")
		case created.Code == 125 && removed.Code == 0:
			if !strings.Contains(created.Stderr, "network race not found") {
				t.Errorf("create lost to rm: %q", created.Stderr)
			}
			h.Run(1, "container", "exists", "r")
		default:
			t.Fatalf("create exit %d (%s), network rm exit %d (%s)", created.Code, created.Stderr, removed.Code, removed.Stderr)
		}
	}
}
