package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
)

func newPortCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List a container's published ports",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var want string
			if len(args) == 2 {
				ports, err := spec.ParseExpose("port", args[1])
				if err != nil {
					return err
				}
				if len(ports) != 1 {
					return errdefs.InvalidArgument("port %q: give one port, not a range", args[1])
				}
				want = strconv.Itoa(int(ports[0].Port)) + "/" + ports[0].Protocol
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			name, ports, err := e.ContainerPorts(args[0])
			if err != nil {
				return err
			}
			addr := func(ip, port string) string {
				if strings.Contains(ip, ":") {
					return net.JoinHostPort(ip, port)
				}
				return ip + ":" + port
			}
			if want != "" {
				bs := ports[want]
				if len(bs) == 0 {
					return fmt.Errorf("no public port %s published for %s: %w", want, name, errdefs.ErrNotFound)
				}
				for _, b := range bs {
					fmt.Fprintln(f.IO.Out, addr(b.HostIP, b.HostPort))
				}
				return nil
			}
			for _, k := range engine.PortKeys(ports) {
				for _, b := range ports[k] {
					fmt.Fprintf(f.IO.Out, "%s -> %s\n", k, addr(b.HostIP, b.HostPort))
				}
			}
			return nil
		},
	}
}
