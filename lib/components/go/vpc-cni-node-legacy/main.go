// Command vpc-cni-node runs the AWS VPC CNI's own node-level network setup inside a lab node's
// network namespace, as ipamd's nodeInit does on an EC2 instance, for releases up to v1.7
// (github.com/aws/amazon-vpc-cni-k8s pkg/networkutils API before network cards: New() without
// an error, SetupHostNetwork without IPv6, SetupENINetwork by device number). v1.7 has no init
// container: SetupHostNetwork itself sets rp_filter on the primary interface.
//
// What would come from the instance metadata service and EC2 (the ENIs' MACs, addresses,
// subnets and device numbers, the VPC CIDRs) comes as JSON on stdin; the rest is the module's
// own code, unmodified. Options are the CNI's own environment variables, set by the caller.
//
// It prints one JSON line: the route table each secondary ENI got (device + 1 in v1.7).
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	"github.com/aws/amazon-vpc-cni-k8s/pkg/networkutils"
)

type eni struct {
	MAC     string `json:"mac"`
	Address string `json:"address"`
	Subnet  string `json:"subnet"`
	Device  int    `json:"device"`
}

type config struct {
	VPCCIDRs []string `json:"vpcCIDRs"`
	Primary  eni      `json:"primary"`
	ENIs     []eni    `json:"enis"`
	MaxENI   int      `json:"maxENI"`
	// Ignored: v1.7 has no init container (SetupHostNetwork sets rp_filter itself).
	InitSysctls bool `json:"initSysctls"`
}

type eniResult struct {
	Device int    `json:"device"`
	MAC    string `json:"mac"`
	Table  int    `json:"table"`
}

type result struct {
	PrimaryInterface string      `json:"primaryInterface"`
	ENIs             []eniResult `json:"enis"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "vpc-cni-node: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg config
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		return fmt.Errorf("config on stdin: %w", err)
	}
	primaryIP := net.ParseIP(cfg.Primary.Address)
	if primaryIP == nil {
		return fmt.Errorf("primary address %q is not an IP address", cfg.Primary.Address)
	}
	primaryIf, err := interfaceByMAC(cfg.Primary.MAC)
	if err != nil {
		return err
	}
	n := networkutils.New()
	if err := n.SetupHostNetwork(cfg.VPCCIDRs, cfg.Primary.MAC, &primaryIP, false); err != nil {
		return fmt.Errorf("SetupHostNetwork: %w", err)
	}
	out := result{PrimaryInterface: primaryIf, ENIs: []eniResult{}}
	for _, e := range cfg.ENIs {
		if err := n.SetupENINetwork(e.Address, e.MAC, e.Device, e.Subnet); err != nil {
			return fmt.Errorf("SetupENINetwork(device %d, %s): %w", e.Device, e.MAC, err)
		}
		// setupENINetwork's tableNumber: "To be backwards compatible ... off-by one".
		out.ENIs = append(out.ENIs, eniResult{Device: e.Device, MAC: e.MAC, Table: e.Device + 1})
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func interfaceByMAC(mac string) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.HardwareAddr.String() == mac {
			return i.Name, nil
		}
	}
	return "", fmt.Errorf("no interface has the primary ENI's MAC address %s", mac)
}
