package engine

import "testing"

func TestPortsSummaryRanges(t *testing.T) {
	b := func(ip, port string) []PortBinding { return []PortBinding{{HostIP: ip, HostPort: port}} }
	ports := map[string][]PortBinding{
		"80/tcp":  append(b("0.0.0.0", "18700"), b("::", "18700")...),
		"81/tcp":  append(b("0.0.0.0", "18701"), b("::", "18701")...),
		"82/tcp":  b("0.0.0.0", "9000"), // not consecutive on the host
		"53/udp":  b("127.0.0.1", "5353"),
		"90/tcp":  nil,
		"91/tcp":  nil,
		"100/tcp": nil,
	}
	got := portsSummary(ports)
	want := "127.0.0.1:5353->53/udp, 0.0.0.0:18700-18701->80-81/tcp, :::18700-18701->80-81/tcp, 0.0.0.0:9000->82/tcp, 90-91/tcp, 100/tcp"
	if got != want {
		t.Errorf("portsSummary:\n got %s\nwant %s", got, want)
	}
	if got := portsSummary(map[string][]PortBinding{"80/tcp": b("0.0.0.0", "8080")}); got != "0.0.0.0:8080->80/tcp" {
		t.Errorf("single: %s", got)
	}
}
