package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cove-run/cove/internal/engine"
)

// newNetworkCmd is `cove network` with Docker's subcommands, plus
// Podman's exists.
func newNetworkCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage user-defined networks",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newNetworkCreateCmd(f), newNetworkLsCmd(f), newNetworkInspectCmd(f), newNetworkRmCmd(f),
		newNetworkPruneCmd(f), newNetworkConnectCmd(f), newNetworkDisconnectCmd(f), newNetworkExistsCmd(f))
	return cmd
}

func newNetworkCreateCmd(f *Factory) *cobra.Command {
	var o engine.NetworkCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a bridge network and print its ID",
		Long: `Create a user-defined bridge network. Containers on it reach each other
by name, --network-alias and short ID through cove's built-in DNS resolver,
and keep their own pasta (or slirp4netns) for outbound traffic and
published ports unless the network is --internal. Without --subnet, the
next free /24 of 10.89.0.0/16 is used.`,
		Args: exactArgs(1, "a network name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			e, err := f.Engine()
			if err != nil {
				return err
			}
			n, err := e.CreateNetwork(o)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IO.Out, n.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Driver, "driver", "d", "bridge", "network driver (bridge only)")
	fl.StringVar(&o.Subnet, "subnet", "", "IPv4 subnet in CIDR form (default: a free /24 of 10.89.0.0/16)")
	fl.StringVar(&o.Gateway, "gateway", "", "gateway address in the subnet (default: its first address)")
	fl.BoolVar(&o.Internal, "internal", false, "no outbound access: containers only reach each other")
	fl.StringArrayVar(&o.Labels, "label", nil, "set a label (KEY=VALUE)")
	return cmd
}

// networkRow is what `network ls --format` templates see: Docker's fields.
type networkRow struct {
	ID        string
	Name      string
	Driver    string
	Scope     string
	IPv6      string
	Internal  string
	Labels    string
	CreatedAt string
}

func newNetworkLsCmd(f *Factory) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			nets, err := e.ListNetworks(filters)
			if err != nil {
				return err
			}
			switch {
			case quiet:
				format = "{{.ID}}"
			case format == "":
				format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
			}
			headers := map[string]string{
				"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
				"Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
			}
			return writeList(f.IO, format, headers, nets, func(n *engine.NetworkInspect) any {
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				return networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: n.Scope, IPv6: "false",
					Internal: fmt.Sprint(n.Internal), Labels: joinLabels(n.Labels), CreatedAt: n.Created}
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "only print network IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "print full network IDs")
	fl.StringVar(&format, "format", "", "format the output: 'json', a Go template, or 'table TEMPLATE'")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter: name=, id=, label=KEY[=VALUE], label!=, driver=, type=custom|builtin")
	return cmd
}

func newNetworkInspectCmd(f *Factory) *cobra.Command {
	return newObjectInspectCmd(f, "NETWORK", "Show networks in Docker's format", func(e *engine.Engine, ref string) (any, error) { return e.InspectNetwork(ref) })
}

func newNetworkRmCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove networks no container is connected to",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return removeEach(f.IO, args, func(ref string) (bool, error) {
				name, err := e.RemoveNetwork(ref, force)
				return name != "", err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "ignore networks that do not exist (a network in use is never removed)")
	return cmd
}

func newNetworkPruneCmd(f *Factory) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove the user-defined networks no container is connected to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(f.IO, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			names, err := e.PruneNetworks(filters)
			if len(names) > 0 {
				fmt.Fprintln(f.IO.Out, "Deleted Networks:")
				fmt.Fprintln(f.IO.Out, strings.Join(names, "\n"))
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	fl.StringArrayVar(&filters, "filter", nil, "filter: label=KEY[=VALUE], label!=")
	return cmd
}

func newNetworkConnectCmd(f *Factory) *cobra.Command {
	var aliases []string
	var ip string
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a user-defined network",
		Args:  exactArgs(2, "a network and a container"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return e.ConnectNetwork(args[0], args[1], aliases, ip)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&aliases, "alias", nil, "add a DNS alias for the container on this network")
	fl.StringVar(&ip, "ip", "", "the container's IPv4 address on this network")
	return cmd
}

func newNetworkDisconnectCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a user-defined network",
		Args:  exactArgs(2, "a network and a container"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := f.Engine()
			if err != nil {
				return err
			}
			return e.DisconnectNetwork(args[0], args[1], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail when the container is not connected or its interface is gone")
	return cmd
}

func newNetworkExistsCmd(f *Factory) *cobra.Command {
	return newObjectExistsCmd(f, "NETWORK", "Exit 0 if the network exists, 1 if not", "a network", (*engine.Engine).NetworkExists)
}
