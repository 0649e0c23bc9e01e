// Package netd is the data path of cove's user-defined networks: the
// `cove-netd` role, which owns one network namespace per user (the
// "shared namespace") with a bridge per network, plugs containers into
// the bridges with veth pairs and answers DNS on each bridge's gateway;
// and the supervisor's side, which starts it on demand and hands it
// containers.
//
//	supervisor (cove run / cove-launch), in BeforeSetup: Attach, under
//	  DIR/lock: start cove-netd if none is alive, send it the container's
//	  init PID, names and endpoints
//	cove-netd: make the bridges and resolvers; per endpoint a veth pair,
//	  one end on the bridge, the other created in the container's
//	  namespace as ethN with the endpoint's address and MAC; watch the
//	  init (pidfd) and forget the container when it exits
//
// There is no NAT and no port forwarding here: a container on a user
// network keeps its own pasta for outbound traffic and published ports,
// and the bridges only connect containers. The shared namespace never
// forwards between bridges (ip_forward 0), so networks are isolated from
// each other. netd exits when the last container it watches has exited;
// the namespace, its bridges and the veths' bridge ends go with it.
package netd

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
)

// Role is netd's argv[0].
const Role = "cove-netd"

// Files in netd's directory (RUNROOT/netd).
const (
	lockFile   = "lock"
	recordFile = "netd.json"
	socketFile = "netd.sock"
	logFile    = "netd.log"
)

// Network is what netd and Plug need of a user network.
type Network struct {
	ID      string       `json:"ID"`
	Name    string       `json:"Name"`
	Bridge  string       `json:"Bridge"`
	Subnet  netip.Prefix `json:"Subnet"`
	Gateway netip.Addr   `json:"Gateway"`
}

// Endpoint is a container's place on a network.
type Endpoint struct {
	Network Network    `json:"Network"`
	IP      netip.Addr `json:"IP"`
	MAC     string     `json:"MAC"`
	// Names resolve to IP on this network: the container's name, its
	// aliases, its short ID.
	Names []string `json:"Names"`
}

// request is one line on netd's socket.
type request struct {
	// Op is "attach" (Pid and Endpoints) or "detach" (NetworkID).
	Op          string     `json:"Op"`
	ContainerID string     `json:"ContainerID"`
	Pid         int        `json:"Pid,omitempty"`
	Endpoints   []Endpoint `json:"Endpoints,omitempty"`
	NetworkID   string     `json:"NetworkID,omitempty"`
}

// reply is netd's answer, one line.
type reply struct {
	Error string `json:"Error,omitempty"`
}

// record is netd.json: which process is netd (a PID alone could be
// reused).
type record struct {
	Pid   int    `json:"Pid"`
	Start uint64 `json:"Start"`
	// Tid is the thread that owns the shared namespace.
	Tid int `json:"Tid"`
}

// readRecord reads netd.json of dir.
func readRecord(dir string) (record, error) {
	var rec record
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(b, &rec)
}
