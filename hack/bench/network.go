package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// netBench measures cove's default network against podman's (Debian 12's
// podman 4.3: slirp4netns with rootlesskit's port driver) with
// hack/nettool, a static binary bind-mounted into busybox containers:
// throughput through a published TCP port (client on the host's
// loopback), container-to-host throughput, and the time of a connection
// set-up plus a one-byte round trip through a published port.
func netBench(base string, cove, pod *runner) {
	tool := filepath.Join(base, "nettool")
	build := exec.Command("go", "build", "-o", tool, "./hack/nettool")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: building hack/nettool: %v\n%s", err, out)
		os.Exit(1)
	}
	os.Chmod(tool, 0o755)
	const bytes = 512 << 20
	const conns = 200
	img := func(r *runner) string {
		if r.name == "podman" {
			return "localhost/cove-test/busybox:latest"
		}
		return "cove-test/busybox:latest"
	}
	type result struct {
		pub, out, lat []float64
		outFailed     int
	}
	res := map[string]*result{}
	for _, r := range []*runner{cove, pod} {
		r.cmd("load", "-i", filepath.Join(*images, "busybox.docker.tar")).Run()
		res[r.name] = &result{}
	}
	// The host's sink: a fixed free port, all addresses (podman's
	// slirp4netns reaches the host through its external address, cove's
	// pasta through the gateway address, which maps to the host).
	sinkPort := freeTCPPort()
	hostSink := exec.Command(tool, "tcp-sink", "0.0.0.0:"+strconv.Itoa(sinkPort))
	check(hostSink.Start())
	defer hostSink.Process.Kill()
	waitTCP("127.0.0.1:" + strconv.Itoa(sinkPort))
	for i := 0; i < *runs; i++ {
		for _, r := range []*runner{cove, pod} {
			sinkHP, echoHP := freeTCPPort(), freeTCPPort()
			r.must("run", "-d", "--name", "benchsink", "-p", "127.0.0.1:"+strconv.Itoa(sinkHP)+":5001", "-v", tool+":/nettool:ro", img(r), "/nettool", "tcp-sink", "5001")
			r.must("run", "-d", "--name", "benchecho", "-p", "127.0.0.1:"+strconv.Itoa(echoHP)+":5002", "-v", tool+":/nettool:ro", img(r), "/nettool", "tcp-echo", "5002")
			waitTCP("127.0.0.1:" + strconv.Itoa(sinkHP))
			waitTCP("127.0.0.1:" + strconv.Itoa(echoHP))
			// Published port, host to container.
			out, err := exec.Command(tool, "tcp-send", "127.0.0.1:"+strconv.Itoa(sinkHP), strconv.Itoa(bytes)).Output()
			check(err)
			res[r.name].pub = append(res[r.name].pub, parseFloat(out))
			// Container to host.
			// A transfer that fails (Debian 12's pasta resets some of
			// them, see the README) is counted, not measured.
			o, err := r.cmd("run", "--rm", "-v", tool+":/nettool:ro", img(r), "/nettool", "tcp-send", "host.containers.internal:"+strconv.Itoa(sinkPort), strconv.Itoa(bytes)).Output()
			if err != nil {
				res[r.name].outFailed++
			} else {
				res[r.name].out = append(res[r.name].out, parseFloat(o))
			}
			// Connection set-up + 1-byte round trip.
			out, err = exec.Command(tool, "tcp-connect", "127.0.0.1:"+strconv.Itoa(echoHP), strconv.Itoa(conns)).Output()
			check(err)
			res[r.name].lat = append(res[r.name].lat, parseFloat(out))
			for _, n := range []string{"benchsink", "benchecho"} {
				if r.name == "podman" {
					r.must("rm", "-f", "-t", "0", n)
				} else {
					r.must("rm", "-f", n)
				}
			}
		}
	}
	mf := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	c, p := res["cove"], res["podman"]
	fmt.Printf("%-42s %12s %12s %10s\n", "network (median of "+strconv.Itoa(*runs)+")", "cove", "podman", "cove/podman")
	for _, row := range []struct {
		name   string
		cv, pv []float64
		higher bool
	}{
		{"TCP to a published port (Gbps)", c.pub, p.pub, true},
		{"TCP container to host (Gbps)", c.out, p.out, true},
		{"connect+1B round trip, published (µs)", c.lat, p.lat, false},
	} {
		cm, pm := mf(row.cv), mf(row.pv)
		ratio := cm / pm
		if !row.higher {
			ratio = pm / cm
		}
		fmt.Printf("%-42s %12.2f %12.2f %9.2fx\n", row.name, cm, pm, ratio)
	}
	if c.outFailed+p.outFailed > 0 {
		fmt.Printf("%-42s %12d %12d\n", "  container to host: failed transfers", c.outFailed, p.outFailed)
	}
}

func freeTCPPort() int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitTCP(addr string) {
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			time.Sleep(20 * time.Millisecond)
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench: %s never answered\n", addr)
	os.Exit(1)
}

func parseFloat(b []byte) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	check(err)
	return v
}
