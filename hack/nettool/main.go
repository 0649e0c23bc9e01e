// Command nettool is a small static network tool for cove's network tests
// and benchmarks: the busybox test image has no UDP server and no
// throughput tool. It is built with CGO_ENABLED=0 and bind-mounted into
// containers.
//
//	nettool udp-echo PORT            answer every datagram with "echo:" + it
//	nettool tcp-sink PORT            accept connections, discard what comes, reply with the byte count
//	nettool tcp-send ADDR BYTES      send BYTES, print "Gbps" measured until the sink's reply
//	nettool tcp-connect ADDR N       N connect+1-byte round trips, print the median in microseconds
//	nettool tcp-echo PORT            accept connections, echo one byte back, close
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: nettool udp-echo|tcp-sink|tcp-echo PORT | tcp-send ADDR BYTES | tcp-connect ADDR N")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "udp-echo":
		err = udpEcho(os.Args[2])
	case "tcp-sink":
		err = tcpSink(os.Args[2])
	case "tcp-echo":
		err = tcpEcho(os.Args[2])
	case "tcp-send":
		err = tcpSend(os.Args[2], os.Args[3])
	case "tcp-connect":
		err = tcpConnect(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nettool:", err)
		os.Exit(1)
	}
}

// listenAddr takes PORT (every address) or HOST:PORT.
func listenAddr(port string) string {
	if strings.Contains(port, ":") {
		return port
	}
	return ":" + port
}

func udpEcho(port string) error {
	// udp4 for an IPv4 address: Go would bind 0.0.0.0 dual-stack.
	network := "udp"
	if strings.HasPrefix(port, "0.0.0.0:") {
		network = "udp4"
	}
	c, err := net.ListenPacket(network, listenAddr(port))
	if err != nil {
		return err
	}
	fmt.Println("listening")
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		c.WriteTo(append([]byte("echo:"), buf[:n]...), from)
	}
}

// serve accepts connections on port and handles each in a goroutine.
func serve(port string, handle func(net.Conn)) error {
	l, err := net.Listen("tcp", listenAddr(port))
	if err != nil {
		return err
	}
	fmt.Println("listening")
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

func tcpSink(port string) error {
	return serve(port, func(c net.Conn) {
		// The sender half-closes after its data; the count tells it
		// everything arrived.
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "%d\n", n)
	})
}

func tcpEcho(port string) error {
	return serve(port, func(c net.Conn) {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err == nil {
			c.Write(b[:])
		}
	})
}

func tcpSend(addr, bytesStr string) error {
	total, err := strconv.ParseInt(bytesStr, 10, 64)
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	for left := total; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		w, err := c.Write(buf[:n])
		if err != nil {
			return err
		}
		left -= int64(w)
	}
	c.(*net.TCPConn).CloseWrite()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no count from the sink: %v", err)
	}
	elapsed := time.Since(start)
	got, _ := strconv.ParseInt(line[:len(line)-1], 10, 64)
	if got != total {
		return fmt.Errorf("sink got %d bytes of %d", got, total)
	}
	fmt.Printf("%.3f\n", float64(total)*8/elapsed.Seconds()/1e9)
	return nil
}

func tcpConnect(addr, nStr string) error {
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 1 {
		return fmt.Errorf("bad count %q", nStr)
	}
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		var b [1]byte
		c.Write([]byte{'x'})
		_, err = io.ReadFull(c, b[:])
		c.Close()
		if err != nil {
			return err
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	fmt.Printf("%d\n", ds[len(ds)/2].Microseconds())
	return nil
}
