/**
 * The emulated VPC. One namespace routes every VPC address to the ENI that owns it (pod addresses
 * via their ENI), answers for each subnet's router, never ARPs towards instances (permanent
 * neighbour entries), enforces the EC2 source/destination check, and hosts the internet gateway
 * with its clients.
 */
import type { HostPlan, PlanBuilder } from '../lab/plan.js';
import type { Topology } from '../model/topology.js';
import { wireLinkLocalGateway } from '../cni/wiring.js';

export const FABRIC = 'fabric';
/** The link-local next hop internet clients use towards the internet gateway. */
export const IGW_NEXT_HOP = '169.254.255.1';
/** Comment prefix the evidence layer recognizes as the EC2 source/destination check. */
export const SOURCE_DEST_CHECK = 'returnpath:source-dest-check';

export interface FabricPorts {
  /** Fabric-side interface of each ENI, keyed `node/eth<N>`. */
  eni: Map<string, string>;
  /** Fabric-side interface of each internet client. */
  internet: Map<string, string>;
}

export function planFabric(b: PlanBuilder, topology: Topology): { fabric: HostPlan; ports: FabricPorts } {
  const fabric = b.host(FABRIC, 'fabric');
  fabric.sysctlsEarly.push(
    ['net.ipv4.ip_forward', '1'],
    ['net.ipv4.conf.all.rp_filter', '0'],
    ['net.ipv4.conf.default.rp_filter', '0'],
    ['net.ipv4.conf.all.send_redirects', '0'],
    ['net.ipv4.conf.default.send_redirects', '0'],
    // Proxy ARP answers for every address routed through another port (proxy_delay is set per port:
    // a namespace other than the initial one has no neigh/default).
    ['net.ipv4.conf.default.proxy_arp', '1'],
  );
  fabric.config.push('link set lo up');
  for (const s of topology.subnets) fabric.config.push(`addr add ${s.gateway}/32 dev lo`);
  // Addresses nobody owns inside the VPC go nowhere (and never to the internet gateway).
  for (const c of topology.vpcCidrs) fabric.config.push(`route add blackhole ${c.text}`);

  const ports: FabricPorts = { eni: new Map(), internet: new Map() };
  const podsByEni = new Map<string, string[]>();
  for (const p of topology.pods) {
    const key = `${p.node}/${p.eni}`;
    podsByEni.set(key, [...(podsByEni.get(key) ?? []), p.address]);
  }

  topology.nodes.forEach((node, ni) => {
    const nodeHost = b.host(`node/${node.name}`, 'node', node.address);
    for (const eni of node.enis) {
      const port = `n${ni}e${eni.index}`;
      const key = `${node.name}/${eni.name}`;
      ports.eni.set(key, port);
      const { bMac } = b.veth(fabric, port, nodeHost, eni.name);
      const owned = [...(eni.address ? [eni.address] : []), ...(podsByEni.get(key) ?? [])];
      fabric.config.push(`link set ${port} up`);
      fabric.sysctlsLate.push([`net.ipv4.neigh.${port}.proxy_delay`, '0']);
      for (const ip of owned)
        fabric.config.push(
          `route add ${ip} dev ${port} scope link`,
          `neigh add ${ip} lladdr ${bMac} dev ${port} nud permanent`,
        );
      fabric.legend.push(`${port} <-> node/${node.name} ${eni.name} (${owned.join(', ') || 'no address'})`);
      if (eni.sourceDestCheck) {
        const chain = `RP-SDC-${port}`;
        fabric.ruleset.append('raw', 'PREROUTING', `-i ${port} -j ${chain}`);
        for (const ip of owned) fabric.ruleset.append('raw', chain, `-s ${ip}/32 -j RETURN`);
        fabric.ruleset.append('raw', chain, `-m comment --comment "${SOURCE_DEST_CHECK} ${key}" -j DROP`);
      }
      if (eni.publicAddress && eni.address) {
        fabric.ruleset.append(
          'nat',
          'PREROUTING',
          `-i inet+ -d ${eni.publicAddress}/32 -j DNAT --to-destination ${eni.address}`,
        );
        fabric.ruleset.append(
          'nat',
          'POSTROUTING',
          `-s ${eni.address}/32 -o inet+ -j SNAT --to-source ${eni.publicAddress}`,
        );
      }
    }
  });

  topology.internetClients.forEach((c, ci) => {
    const host = b.host(`internet/${c.name}`, 'internet', c.address);
    const port = `inet${ci}`;
    ports.internet.set(c.name, port);
    const { aMac, bMac } = b.veth(fabric, port, host, 'eth0');
    fabric.sysctlsLate.push([`net.ipv4.neigh.${port}.proxy_delay`, '0']);
    fabric.config.push(
      `link set ${port} up`,
      `route add ${c.address} dev ${port} scope link`,
      `neigh add ${c.address} lladdr ${bMac} dev ${port} nud permanent`,
    );
    wireLinkLocalGateway(host, c.address, IGW_NEXT_HOP, aMac);
    fabric.legend.push(`${port} <-> internet/${c.name} (${c.address})`);
  });
  if (topology.internetClients.length > 0)
    for (const c of topology.vpcCidrs)
      // The internet reaches private addresses only through the gateway's 1:1 NAT (both directions) or an NLB.
      fabric.ruleset.append(
        'filter',
        'FORWARD',
        `-i inet+ -d ${c.text} -m conntrack ! --ctstate DNAT,SNAT -m comment --comment "returnpath: private address from the internet" -j DROP`,
      );
  return { fabric, ports };
}
