//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	nettoolOnce sync.Once
	nettoolPath string
	nettoolErr  error
)

// netTool builds hack/nettool (a static UDP echo server and throughput
// tool: busybox has neither) once, readable by the test users.
func netTool(t *testing.T) string {
	t.Helper()
	nettoolOnce.Do(func() {
		nettoolPath = filepath.Join(baseDir, "nettool")
		cmd := exec.Command("go", "build", "-o", nettoolPath, "../../hack/nettool")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			nettoolErr = fmt.Errorf("building hack/nettool: %v\n%s", err, out)
			return
		}
		os.Chmod(nettoolPath, 0o755)
	})
	if nettoolErr != nil {
		t.Skip(nettoolErr)
	}
	return nettoolPath
}

// needPasta skips on hosts without pasta (the default network's helper).
func needPasta(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pasta"); err != nil {
		t.Skip("pasta is not installed")
	}
}

// liveHelpers lists running (not zombie) pasta/slirp4netns processes whose
// command line mentions s.
func liveHelpers(s string) []string {
	var out []string
	for _, p := range monProcsMentioning(s) {
		pid, _, _ := strings.Cut(p, ":")
		if !strings.Contains(p, "pasta") && !strings.Contains(p, "slirp4netns") {
			continue
		}
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
			continue
		}
		out = append(out, p)
	}
	return out
}

func waitNoHelpers(t *testing.T, s string) {
	t.Helper()
	waitFor(t, 5*time.Second, "no network helper mentioning "+s, func() bool { return len(liveHelpers(s)) == 0 })
}

// freePort returns a TCP port that is free on 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestNetworkDefault: the default network has loopback, an interface with
// an address and a default route, a resolver that answers, /etc/hosts with
// the container's names and the host, and the host's 127.0.0.1 services
// through host.containers.internal.
func TestNetworkDefault(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	// A service on the host's loopback only.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from-host") }))
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	r := h.Run(0, "run", "--rm", "--name", "netdef", "--add-host", "db.example:10.9.8.7", "--add-host", "gw:host-gateway",
		"cove-test/busybox", "sh", "-c",
		"ip -o link show lo | grep -q UP && echo lo-up; ip -4 -o addr show scope global | grep -q inet && echo addr; ip route | grep -q '^default' && echo route; "+
			"cat /etc/hosts; wget -q -O- http://host.containers.internal:"+port+"/; echo; wget -q -O- http://gw:"+port+"/; echo")
	for _, want := range []string{"lo-up\n", "addr\n", "route\n", "10.9.8.7\tdb.example\n", "host.containers.internal host.docker.internal\n", " netdef\n", "from-host\nfrom-host\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("default network: output lacks %q:\n%s\nstderr: %s", want, r.Stdout, r.Stderr)
		}
	}
	// DNS through the container's resolv.conf, when the host resolves.
	if _, err := net.LookupHost("proxy.golang.org"); err == nil {
		r = h.Run(0, "run", "--rm", "cove-test/busybox", "nslookup", "proxy.golang.org")
		if !strings.Contains(r.Stdout, "Address") {
			t.Errorf("nslookup in the container: %s", r.Stdout)
		}
	}
	r = h.Run(0, "run", "--rm", "--dns", "192.0.2.53", "--dns-search", "corp.example", "--dns-option", "ndots:3", "cove-test/busybox", "cat", "/etc/resolv.conf")
	if r.Stdout != "search corp.example\nnameserver 192.0.2.53\noptions ndots:3\n" {
		t.Errorf("--dns flags: resolv.conf %q", r.Stdout)
	}
	// --network host: the host's /etc/hosts plus --add-host (the host
	// is 127.0.0.1 there).
	r = h.Run(0, "run", "--rm", "--network", "host", "--add-host", "gw:host-gateway", "cove-test/busybox", "sh", "-c", "tail -n 1 /etc/hosts; ip -o link | grep -c .")
	if lines := strings.Split(r.Stdout, "\n"); lines[0] != "127.0.0.1\tgw" || lines[1] == "2" {
		t.Errorf("--network host with --add-host: %q", r.Stdout)
	}
	// --network none keeps loopback only; slirp4netns works too.
	r = h.Run(0, "run", "--rm", "--network", "none", "cove-test/busybox", "sh", "-c", "ip route | wc -l")
	if strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("--network none has routes: %q", r.Stdout)
	}
	if _, err := exec.LookPath("slirp4netns"); err == nil {
		r = h.Run(0, "run", "--rm", "--network", "slirp4netns", "cove-test/busybox", "sh", "-c", "ip -4 -o addr show tap0; wget -q -O- http://host.containers.internal:"+port+"/")
		if !strings.Contains(r.Stdout, "10.0.2.100") || !strings.Contains(r.Stdout, "from-host") {
			t.Errorf("slirp4netns: %q", r.Stdout)
		}
	}
	// A foreground container's helper ends with it.
	hp := strconv.Itoa(freePort(t))
	h.Run(0, "run", "--rm", "-p", "127.0.0.1:"+hp+":80", "cove-test/busybox", "true")
	waitNoHelpers(t, hp+":80")
}

// TestNetworkPublishTCP: -p with a real server, port/ps/inspect show the
// binding, another container reaches it through the host, and the helper
// is gone after rm.
func TestNetworkPublishTCP(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	hp := strconv.Itoa(freePort(t))
	t.Cleanup(func() { h.Cmd("rm", "-f", "web").Run() })
	id := monRunDetached(t, h, "--name", "web", "-p", "127.0.0.1:"+hp+":80", "-p", "127.0.0.1::81", "--expose", "99",
		"cove-test/busybox", "sh", "-c", "mkdir /www; echo hello-web > /www/index.html; httpd -f -p 80 -h /www")
	var body string
	waitFor(t, 10*time.Second, "httpd through the published port", func() bool {
		b, err := httpGet("http://127.0.0.1:" + hp + "/")
		body = b
		return err == nil
	})
	if body != "hello-web\n" {
		t.Errorf("GET through -p: %q", body)
	}
	r := h.Run(0, "port", "web", "80")
	if r.Stdout != "127.0.0.1:"+hp+"\n" {
		t.Errorf("port web 80: %q", r.Stdout)
	}
	r = h.Run(0, "port", "web")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 || lines[0] != "80/tcp -> 127.0.0.1:"+hp || !strings.HasPrefix(lines[1], "81/tcp -> 127.0.0.1:") {
		t.Errorf("port web: %q", r.Stdout)
	}
	r = h.Run(125, "port", "web", "82")
	if !strings.Contains(r.Stderr, "82/tcp") {
		t.Errorf("port web 82: %q", r.Stderr)
	}
	r = h.Run(0, "ps", "--format", "{{.Ports}}")
	if !strings.Contains(r.Stdout, "127.0.0.1:"+hp+"->80/tcp") || !strings.Contains(r.Stdout, "99/tcp") {
		t.Errorf("ps PORTS: %q", r.Stdout)
	}
	r = h.Run(0, "inspect", "-f", `{{json .NetworkSettings.Ports}}`, "web")
	if !strings.Contains(r.Stdout, `"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"`+hp+`"}]`) || !strings.Contains(r.Stdout, `"99/tcp":null`) {
		t.Errorf("inspect Ports: %s", r.Stdout)
	}
	if ip := monInspect(t, h, "web", "{{.NetworkSettings.IPAddress}}"); net.ParseIP(ip) == nil {
		t.Errorf("inspect IPAddress of a running container: %q", ip)
	}
	// Container to container, through the host's loopback.
	r = h.Run(0, "run", "--rm", "cove-test/busybox", "wget", "-q", "-O-", "http://host.containers.internal:"+hp+"/")
	if r.Stdout != "hello-web\n" {
		t.Errorf("container to container: %q", r.Stdout)
	}
	if len(liveHelpers(hp+":80")) != 1 {
		t.Errorf("want one helper for the container: %v", liveHelpers(hp+":80"))
	}
	h.Run(0, "stop", "-t", "1", "web")
	waitNoHelpers(t, hp+":80")
	if _, err := httpGet("http://127.0.0.1:" + hp + "/"); err == nil {
		t.Error("the port still answers after stop")
	}
	r = h.Run(0, "inspect", "-f", `{{json .NetworkSettings.Ports}}`, "web")
	if strings.Contains(r.Stdout, hp) {
		t.Errorf("a stopped container shows ports: %s", r.Stdout)
	}
	// start again: same port, works again; rm -f takes the helper.
	h.Run(0, "start", "web")
	waitFor(t, 10*time.Second, "httpd after start", func() bool { _, err := httpGet("http://127.0.0.1:" + hp + "/"); return err == nil })
	h.Run(0, "rm", "-f", id)
	waitNoHelpers(t, hp+":80")

	// slirp4netns publishes through its API (add_hostfwd), IPv4 only.
	if _, err := exec.LookPath("slirp4netns"); err == nil {
		hp := strconv.Itoa(freePort(t))
		monRunDetached(t, h, "--name", "slirpweb", "--network", "slirp4netns", "-p", hp+":80",
			"cove-test/busybox", "sh", "-c", "mkdir /www; echo hello-slirp > /www/index.html; httpd -f -p 80 -h /www")
		waitFor(t, 10*time.Second, "httpd through slirp4netns", func() bool {
			body, err := httpGet("http://127.0.0.1:" + hp + "/")
			return err == nil && body == "hello-slirp\n"
		})
		if r := h.Run(0, "port", "slirpweb", "80"); r.Stdout != "0.0.0.0:"+hp+"\n" {
			t.Errorf("port slirpweb 80: %q", r.Stdout)
		}
		h.Run(0, "rm", "-f", "slirpweb")
		waitNoHelpers(t, "slirp4netns.sock")
		if _, err := httpGet("http://127.0.0.1:" + hp + "/"); err == nil {
			t.Error("slirp4netns's port still answers after rm")
		}
	}
}

// TestNetworkPublishUDPAndAll: a UDP echo server behind -p /udp, and -P
// with the image's and --expose's ports.
func TestNetworkPublishUDPAndAll(t *testing.T) {
	needPasta(t)
	tool := netTool(t)
	h := newHarness(t)
	loadBusybox(t, h)
	t.Cleanup(func() { h.Cmd("rm", "-f", "echo").Run() })
	monRunDetached(t, h, "--name", "echo", "-v", tool+":/nettool:ro", "-P", "--expose", "7777/udp", "--expose", "8888",
		"cove-test/busybox", "/nettool", "udp-echo", "0.0.0.0:7777")
	r := h.Run(0, "port", "echo", "7777/udp")
	addr := strings.Split(strings.TrimSpace(r.Stdout), "\n")[0]
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" {
		t.Fatalf("port echo 7777/udp: %q", r.Stdout)
	}
	if p, _ := strconv.Atoi(port); p < 1024 {
		t.Errorf("-P gave port %d", p)
	}
	if r := h.Run(0, "port", "echo", "8888"); !strings.Contains(r.Stdout, ":") {
		t.Errorf("-P with --expose 8888: %q", r.Stdout)
	}
	// To the host's own address: Debian 12's pasta (2023-03-09) does not
	// return UDP replies to clients on the host's loopback (documented in
	// the README).
	c, err := net.Dial("udp4", hostAddress(t)+":"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var reply string
	waitFor(t, 10*time.Second, "a UDP echo", func() bool {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		b := make([]byte, 100)
		n, err := c.Read(b)
		reply = string(b[:n])
		return err == nil
	})
	if reply != "echo:ping" {
		t.Errorf("UDP echo: %q", reply)
	}
	h.Run(0, "rm", "-f", "echo")
	waitNoHelpers(t, ":"+port+":7777")
}

// TestNetworkBadInput: malformed -p, unknown networks, bad --add-host and
// --dns, a taken port and a privileged one: exit 125, an error naming the
// input, and nothing left running.
func TestNetworkBadInput(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-p", "80:80:80:80"}, `"80:80:80:80"`},
		{[]string{"-p", "70000"}, `"70000"`},
		{[]string{"-p", "8000-8001:80-82"}, "host range"},
		{[]string{"-p", "80/sctp"}, "sctp"},
		{[]string{"--network", "nosuchnet"}, "network nosuchnet not found"},
		{[]string{"--network", "ns:proc/1/ns/net"}, "absolute"},
		{[]string{"--network", "ns:/proc/1/ns/net"}, "permission denied"},
		{[]string{"--network", "ns:/etc/hostname"}, "not a network namespace"},
		{[]string{"--network", "ns:/proc/self/ns/net"}, "another user namespace"},
		{[]string{"--network", "ns:/proc/self/ns/net", "-p", "80"}, "port publishing"},
		{[]string{"--network", "none", "-p", "80"}, "--network none"},
		{[]string{"--add-host", "nocolon"}, `"nocolon"`},
		{[]string{"--add-host", "x:999.1.1.1"}, `"999.1.1.1"`},
		{[]string{"--dns", "not-an-ip"}, `"not-an-ip"`},
		{[]string{"--expose", "abc"}, `"abc"`},
		{[]string{"-p", "18090:80", "-p", "18090:81"}, "published twice"},
		{[]string{"-p", "18091:80", "-p", "127.0.0.1:18091:81"}, "published twice"},
		{[]string{"-p", "127.0.0.1:18092:80", "-p", "127.0.0.2:18092:81"}, "two addresses"},
	} {
		args := append(append([]string{"run", "--rm"}, c.args...), "cove-test/busybox", "true")
		r := h.Run(125, args...)
		if !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, r.Stderr, c.want)
		}
	}
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("bad input created containers: %q", r.Stdout)
	}
	// A port in use: the error names it, the container does not run.
	l, err := net.Listen("tcp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	r := h.Run(125, "run", "-d", "--name", "taken", "-p", taken+":80", "cove-test/busybox", "sleep", "60")
	if !strings.Contains(r.Stderr, "port "+taken+"/tcp is already in use") {
		t.Errorf("taken port: %q", r.Stderr)
	}
	if s := monInspect(t, h, "taken", "{{.State.Status}}"); s == "running" {
		t.Errorf("a container whose port is taken is %s", s)
	}
	h.Run(0, "rm", "-f", "taken")
	// A privileged port names the sysctl.
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil && strings.TrimSpace(string(b)) != "0" {
		if start, _ := strconv.Atoi(strings.TrimSpace(string(b))); start > 80 {
			r = h.Run(125, "run", "--rm", "-p", "80:80", "cove-test/busybox", "true")
			if !strings.Contains(r.Stderr, "net.ipv4.ip_unprivileged_port_start") {
				t.Errorf("privileged port: %q", r.Stderr)
			}
		}
	}
	if r := h.Run(0, "ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("--rm containers left: %q", r.Stdout)
	}
	waitNoHelpers(t, taken+":80")
}

// TestNetworkHelperDiesWithSupervisor: kill -9 of a detached container's
// monitor, or of the foreground cove run, leaves no network helper.
func TestNetworkHelperDiesWithSupervisor(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	hp := strconv.Itoa(freePort(t))
	id := monRunDetached(t, h, "-p", hp+":80", "cove-test/busybox", "httpd", "-f", "-p", "80")
	if len(liveHelpers(hp+":80")) != 1 {
		t.Fatalf("no helper: %v", liveHelpers(hp+":80"))
	}
	mon := monState(t, h, id).MonitorPid
	if mon <= 0 {
		t.Fatal("no monitor recorded")
	}
	if err := syscallKill(mon); err != nil {
		t.Fatal(err)
	}
	waitNoHelpers(t, hp+":80")
	waitFor(t, 10*time.Second, "the container to be seen exited", func() bool {
		return monInspect(t, h, id, "{{.State.Status}}") == "exited"
	})
	h.Run(0, "rm", id)

	// Foreground: kill -9 the cove process that supervises the container
	// (the helper's parent).
	hp2 := strconv.Itoa(freePort(t))
	cmd := h.Cmd("run", "--name", "fg", "-p", hp2+":80", "cove-test/busybox", "httpd", "-f", "-p", "80")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	var helper []string
	waitFor(t, 10*time.Second, "the foreground container's helper", func() bool {
		helper = liveHelpers(hp2 + ":80")
		return len(helper) == 1
	})
	pid, _, _ := strings.Cut(helper[0], ":")
	b, _ := os.ReadFile("/proc/" + pid + "/stat")
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	ppid, _ := strconv.Atoi(f[1])
	if err := syscallKill(ppid); err != nil {
		t.Fatal(err)
	}
	waitNoHelpers(t, hp2+":80")
	h.Run(0, "rm", "-f", "fg")
}

// hostAddress is an IPv4 address of this host other than loopback.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// TestNetworkRestartKeepsPort: stop (and restart) return only once the
// network helper has let go of the published ports, so the next start can
// bind them; and -P gives a port that -p already publishes no second one.
func TestNetworkRestartKeepsPort(t *testing.T) {
	needPasta(t)
	h := newHarness(t)
	loadBusybox(t, h)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := strconv.Itoa(port)
	h.Run(0, "run", "-d", "--name", "rp", "-p", p+":80", "-P", "--expose", "81", "cove-test/busybox", "sleep", "1000")
	r := h.Run(0, "port", "rp")
	if n := strings.Count(r.Stdout, "80/tcp ->"); n != 2 || !strings.Contains(r.Stdout, ":"+p+"\n") || strings.Count(r.Stdout, "81/tcp ->") != 2 {
		t.Errorf("-p with -P: want 80/tcp on %s only (IPv4 and IPv6) and 81/tcp on a random port:\n%s", p, r.Stdout)
	}
	for i := 0; i < 5; i++ {
		h.Run(0, "restart", "-t", "0", "rp")
		h.Run(0, "stop", "-t", "0", "rp")
		h.Run(0, "start", "rp")
	}
	h.Run(0, "rm", "-f", "rp")
}
