package usernet

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
)

func openTest(t *testing.T, routes ...string) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.hostRoutes = func() []netip.Prefix {
		var out []netip.Prefix
		for _, r := range routes {
			out = append(out, netip.MustParsePrefix(r))
		}
		return out
	}
	return s
}

func TestCreateAllocatesSubnetsSkippingRoutesAndNetworks(t *testing.T) {
	s := openTest(t, "10.89.0.0/24", "0.0.0.0/0")
	a, err := s.Create(CreateOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet.String() != "10.89.1.0/24" || a.Gateway.String() != "10.89.1.1" || len(a.ID) != 64 || a.Driver != "bridge" {
		t.Fatalf("got %+v", a)
	}
	b, err := s.Create(CreateOptions{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Subnet.String() != "10.89.2.0/24" {
		t.Fatalf("second network got %s", b.Subnet)
	}
	got, err := s.Get(a.ID[:5])
	if err != nil || got.Name != "a" {
		t.Fatalf("Get by prefix: %v %v", got, err)
	}
}

func TestCreateRefusesBadInputAndChangesNothing(t *testing.T) {
	s := openTest(t)
	if _, err := s.Create(CreateOptions{Name: "n1", Subnet: "10.90.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []CreateOptions{
		{Name: "n1"},
		{Name: "host"},
		{Name: "-x"},
		{Name: "a/b"},
		{Name: "n2", Subnet: "10.90.3.0/24"},
		{Name: "n2", Subnet: "10.91.0.1/24"},
		{Name: "n2", Subnet: "fd00::/64"},
		{Name: "n2", Subnet: "10.91.0.0/31"},
		{Name: "n2", Subnet: "banana"},
		{Name: "n2", Subnet: "10.91.0.0/24", Gateway: "10.92.0.1"},
		{Name: "n2", Subnet: "10.91.0.0/24", Gateway: "10.91.0.255"},
		{Name: "n2", Gateway: "10.91.0.1"},
	} {
		if _, err := s.Create(o); err == nil {
			t.Errorf("%+v: no error", o)
		} else if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Errorf("%+v: %v is not an invalid argument", o, err)
		}
	}
	all, _ := s.List()
	if len(all) != 1 {
		t.Fatalf("%d networks after refused creates", len(all))
	}
}

func TestAttachAllocatesDistinctAddressesConcurrently(t *testing.T) {
	s := openTest(t)
	n, err := s.Create(CreateOptions{Name: "n", Subnet: "10.91.0.0/28"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := 0; i < 13; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := newID()
			unlock, err := s.Lock()
			if err != nil {
				t.Error(err)
				return
			}
			ep, err := s.Attach(n, id, nil, "")
			unlock()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := seen[ep.IP]; dup {
				t.Errorf("%s given to %s and %s", ep.IP, other, id)
			}
			seen[ep.IP] = id
		}(i)
	}
	wg.Wait()
	// .0 network, .1 gateway, .15 broadcast: 13 hosts, now all taken.
	if _, err := s.Attach(n, newID(), nil, ""); err == nil {
		t.Fatal("a full subnet gave out another address")
	}
}

func TestAttachRequestedAddressAndStaleEndpoints(t *testing.T) {
	s := openTest(t)
	live := map[string]bool{}
	s.ContainerExists = func(id string) bool { return live[id] }
	n, _ := s.Create(CreateOptions{Name: "n", Subnet: "10.91.0.0/24"})
	a, b := newID(), newID()
	ep, err := s.Attach(n, a, []string{"web"}, "10.91.0.7")
	if err != nil || ep.IP.String() != "10.91.0.7" || ep.MAC != "02:42:0a:5b:00:07" {
		t.Fatalf("%+v %v", ep, err)
	}
	// a's record was never written (a killed create): b may take the
	// address, and the stale endpoint goes.
	ep, err = s.Attach(n, b, nil, "10.91.0.7")
	if err != nil {
		t.Fatal(err)
	}
	live[b] = true
	if _, err := s.Attach(n, newID(), nil, "10.91.0.7"); err == nil {
		t.Fatal("a live container's address was given again")
	}
	if _, err := s.Attach(n, b, nil, ""); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second attach: %v", err)
	}
	if s.Endpoint(n, a) != nil {
		t.Fatal("stale endpoint kept")
	}
	if err := s.Detach(n, b); err != nil || s.Endpoint(n, b) != nil {
		t.Fatal("detach", err)
	}
}

func TestHostRoutesParses(t *testing.T) {
	for _, r := range HostRoutes() {
		if !r.IsValid() || r.Masked() != r {
			t.Fatalf("bad route %v", r)
		}
	}
}

// TestLeftoversOfKilledChangesGo: what a create, remove or attach killed
// halfway leaves (hidden directories, an endpoint's temporary file) goes
// with the next change under the lock, without waiting for prune.
func TestLeftoversOfKilledChangesGo(t *testing.T) {
	s := openTest(t)
	n, err := s.Create(CreateOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".new-123", ".gone-456"} {
		if err := os.MkdirAll(filepath.Join(s.root, d, "endpoints"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tmp := s.endpointPath(n.ID, strings.Repeat("c", 64)) + ".tmp"
	if err := os.WriteFile(tmp, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(CreateOptions{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attach(n, strings.Repeat("d", 64), nil, ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(s.root, ".new-123"), filepath.Join(s.root, ".gone-456"), tmp} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left: %v", p, err)
		}
	}
	if all, err := s.List(); err != nil || len(all) != 2 {
		t.Fatalf("List: %d networks, %v", len(all), err)
	}
}

// TestGetByIDPrefix: a unique ID prefix finds a network, a shared one is
// an error naming the prefix, and a name wins over an ID prefix.
func TestGetByIDPrefix(t *testing.T) {
	s := openTest(t)
	for _, id := range []string{"ab" + strings.Repeat("1", 62), "ab" + strings.Repeat("2", 62)} {
		n := &Network{Name: "n" + id[2:3], ID: id, Driver: "bridge", Subnet: netip.MustParsePrefix("10.9." + id[2:3] + ".0/24")}
		data, _ := json.Marshal(n)
		if err := os.MkdirAll(filepath.Join(s.root, id, "endpoints"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.root, id, "network.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Get("ab1"); err != nil || n.Name != "n1" {
		t.Errorf("Get(ab1): %v %v", n, err)
	}
	if _, err := s.Get("ab"); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "network ab is ambiguous") {
		t.Errorf("Get(ab): %v", err)
	}
	if _, err := s.Get("zz"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(zz): %v", err)
	}
	if n, err := s.Get("n2"); err != nil || n.ID[2] != '2' {
		t.Errorf("Get(n2): %v %v", n, err)
	}
}
