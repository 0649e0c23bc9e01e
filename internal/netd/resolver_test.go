package netd

import (
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t testing.TB, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 42, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET})
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var web = netip.MustParseAddr("10.89.0.2")

func lookupWeb(name string) []netip.Addr {
	if name == "web" {
		return []netip.Addr{web}
	}
	return nil
}

func TestAnswerKnownName(t *testing.T) {
	resp, ok := answer(query(t, "WEB.", dnsmessage.TypeA), lookupWeb)
	if !ok {
		t.Fatal("a container's name was not answered")
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	if m.ID != 42 || !m.Response || len(m.Answers) != 1 {
		t.Fatalf("reply %+v", m)
	}
	if a, ok := m.Answers[0].Body.(*dnsmessage.AResource); !ok || netip.AddrFrom4(a.A) != web {
		t.Fatalf("answer %+v", m.Answers[0])
	}
	// AAAA of a known name: no records, no error.
	resp, ok = answer(query(t, "web.", dnsmessage.TypeAAAA), lookupWeb)
	if err := m.Unpack(resp); !ok || err != nil || len(m.Answers) != 0 || m.RCode != dnsmessage.RCodeSuccess {
		t.Fatalf("AAAA: %v %v %+v", ok, err, m)
	}
	// Other names are forwarded.
	if _, ok := answer(query(t, "example.com.", dnsmessage.TypeA), lookupWeb); ok {
		t.Fatal("an unknown name was answered")
	}
}

func TestForwardAndServfail(t *testing.T) {
	// An upstream that answers with its own reply.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		n, from, err := pc.ReadFrom(buf)
		if err == nil {
			pc.WriteTo(append([]byte("R"), buf[:n]...), from)
		}
	}()
	q := query(t, "example.com.", dnsmessage.TypeA)
	dialer := func(addr string) (net.Conn, error) { return net.Dial("udp", addr) }
	resp := forward(q, []string{pc.LocalAddr().String()}, dialer)
	if string(resp) != "R"+string(q) {
		t.Fatalf("forward returned %q", resp)
	}
	// No upstream: SERVFAIL with the query's ID.
	var m dnsmessage.Message
	if err := m.Unpack(forward(q, nil, dialer)); err != nil || m.RCode != dnsmessage.RCodeServerFailure || m.ID != 42 {
		t.Fatalf("servfail: %v %+v", err, m)
	}
}

func TestUpstreams(t *testing.T) {
	got := upstreams("# c\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\nsearch x\n")
	if len(got) != 2 || got[0] != "127.0.0.53:53" || got[1] != "[fe80::1]:53" {
		t.Fatalf("upstreams: %q", got)
	}
}

// FuzzAnswer: any datagram a container sends is answered or passed on
// without a panic, and an answer is a well-formed reply with its ID.
func FuzzAnswer(f *testing.F) {
	f.Add(query(f, "web.", dnsmessage.TypeA))
	f.Fuzz(func(t *testing.T, q []byte) {
		resp, ok := answer(q, lookupWeb)
		if !ok {
			servfail(q)
			return
		}
		var in, out dnsmessage.Message
		if in.Unpack(q) != nil && len(q) < 2 {
			return
		}
		if err := out.Unpack(resp); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if len(q) >= 2 && out.ID != uint16(q[0])<<8|uint16(q[1]) {
			t.Fatalf("answer ID %d for query %x", out.ID, q[:2])
		}
	})
}

func TestTCPFramingAndForward(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// An upstream that answers each framed message with "R" + message.
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		mc := &tcpMessages{Conn: c}
		buf := make([]byte, 65535)
		for {
			n, err := mc.Read(buf)
			if err != nil {
				return
			}
			mc.Write(append([]byte("R"), buf[:n]...))
		}
	}()
	q := query(t, "example.com.", dnsmessage.TypeA)
	dialer := func(addr string) (net.Conn, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		return &tcpMessages{Conn: c}, nil
	}
	if resp := forward(q, []string{l.Addr().String()}, dialer); string(resp) != "R"+string(q) {
		t.Fatalf("forward over TCP returned %q", resp)
	}
	// A length larger than the buffer is an error, not a short read.
	a, b := net.Pipe()
	go (&tcpMessages{Conn: a}).Write(make([]byte, 300))
	if _, err := (&tcpMessages{Conn: b}).Read(make([]byte, 100)); err == nil {
		t.Fatal("an oversized message was read")
	}
}
