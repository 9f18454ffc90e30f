// Command vpc-cni-node runs the AWS VPC CNI's own node-level network setup inside a lab node's
// network namespace, as ipamd's nodeInit and the aws-vpc-cni-init container do on an EC2
// instance (github.com/aws/amazon-vpc-cni-k8s v1.8 and later: pkg/networkutils API with
// network cards and route table ids).
//
// What would come from the instance metadata service and EC2 (the ENIs' MACs, addresses,
// subnets and device numbers, the VPC CIDRs) comes as JSON on stdin instead; everything else is
// the module's own code, unmodified: networkutils.New, SetupHostNetwork, CleanUpStaleAWSChains,
// GetRouteTableNumberForENI, SetupENINetwork, UpdateExternalServiceIpRules, and the init
// container's sysctls through procsyswrapper. The CNI's options are its own environment
// variables (AWS_VPC_K8S_CNI_EXTERNALSNAT, ...), set by the caller.
//
// It prints one JSON line: the route table each secondary ENI got.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	"github.com/aws/amazon-vpc-cni-k8s/pkg/netlinkwrapper"
	"github.com/aws/amazon-vpc-cni-k8s/pkg/networkutils"
	"github.com/aws/amazon-vpc-cni-k8s/pkg/procsyswrapper"
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
	// Largest number of ENIs the instance type allows (for GetRouteTableNumberForENI).
	MaxENI int `json:"maxENI"`
	// Run aws-vpc-cni-init's configureSystemParams (rp_filter=2 on the primary interface, tcp_early_demux).
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
	n, err := networkutils.New()
	if err != nil {
		return fmt.Errorf("networkutils.New: %w", err)
	}
	primaryIf, err := interfaceByMAC(cfg.Primary.MAC)
	if err != nil {
		return err
	}
	if cfg.InitSysctls {
		if err := initSysctls(primaryIf); err != nil {
			return err
		}
	}
	if err := n.SetupHostNetwork(cfg.VPCCIDRs, cfg.Primary.MAC, &primaryIP, false, false); err != nil {
		return fmt.Errorf("SetupHostNetwork: %w", err)
	}
	if err := n.CleanUpStaleAWSChains(true, false); err != nil {
		return fmt.Errorf("CleanUpStaleAWSChains: %w", err)
	}
	out := result{PrimaryInterface: primaryIf, ENIs: []eniResult{}}
	for _, e := range cfg.ENIs {
		table, ruleConfigured, err := n.GetRouteTableNumberForENI(0, e.Address, e.Device, cfg.MaxENI, false)
		if err != nil {
			return fmt.Errorf("GetRouteTableNumberForENI(device %d): %w", e.Device, err)
		}
		if err := n.SetupENINetwork(e.Address, e.MAC, 0, e.Subnet, cfg.MaxENI, false, table, ruleConfigured); err != nil {
			return fmt.Errorf("SetupENINetwork(device %d, %s): %w", e.Device, e.MAC, err)
		}
		out.ENIs = append(out.ENIs, eniResult{Device: e.Device, MAC: e.MAC, Table: table})
	}
	rules, err := n.GetRuleList(false)
	if err != nil {
		return fmt.Errorf("GetRuleList: %w", err)
	}
	if err := n.UpdateExternalServiceIpRules(rules, n.GetExternalServiceCIDRs()); err != nil {
		return fmt.Errorf("UpdateExternalServiceIpRules: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func interfaceByMAC(mac string) (string, error) {
	links, err := netlinkwrapper.NewNetLink().LinkList()
	if err != nil {
		return "", fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Attrs().HardwareAddr.String() == mac {
			return l.Attrs().Name, nil
		}
	}
	return "", fmt.Errorf("no interface has the primary ENI's MAC address %s", mac)
}

// initSysctls is aws-vpc-cni-init's configureSystemParams (cmd/aws-vpc-cni-init/main.go, a main
// package that cannot be imported): rp_filter loose on the primary interface, TCP early demux
// on unless DISABLE_TCP_EARLY_DEMUX=true.
func initSysctls(primaryIf string) error {
	procSys := procsyswrapper.NewProcSys()
	entry := "net/ipv4/conf/" + primaryIf + "/rp_filter"
	if err := procSys.Set(entry, "2"); err != nil {
		return fmt.Errorf("set %s: %w", entry, err)
	}
	entry = "net/ipv4/tcp_early_demux"
	if _, err := procSys.Get(entry); err == nil {
		value := "1"
		if os.Getenv("DISABLE_TCP_EARLY_DEMUX") == "true" {
			value = "0"
		}
		if err := procSys.Set(entry, value); err != nil {
			return fmt.Errorf("set %s: %w", entry, err)
		}
	}
	return nil
}
