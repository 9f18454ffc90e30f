/**
 * The AWS VPC CNI's node wiring, emulated: current (1.8+, as v1.23 writes it) and legacy (up to
 * 1.7, as v1.7.10 writes it). Sources, per generation: pkg/networkutils/network.go
 * (SetupHostNetwork, SetupENINetwork), cmd/routed-eni-cni-plugin/driver/driver.go (the pod's
 * rules), cmd/aws-vpc-cni-init/main.go (rp_filter on the primary interface, 1.8+). The real code
 * runs in the lab with `implementation: real` (lib/cni/real); the differential suite checks that
 * both give the same verdicts, and the differences that remain are written down here:
 * - v1.23 with the nf_tables iptables backend writes the SNAT connmark as an nft table
 *   (`table ip aws-cni`, chain nat-prerouting at priority dstnat+10 with `fib daddr type local
 *   return`) where this emulation writes the iptables chains v1.8-v1.22 used (AWS-CONNMARK-CHAIN-0 in
 *   nat PREROUTING). Both only see a connection's first packet, after kube-proxy's DNAT, and mark
 *   the same connections (a DNATed packet ends NAT chain traversal; a node-local destination is
 *   inside the VPC CIDR): the same verdicts, other evidence (nft counters instead of iptables ones).
 * - The real code also writes the `-i vlan+` CONNMARK restore rule (branch ENIs, unused here) and
 *   sets the ENIs' MTU (AWS_VPC_ENI_MTU; the lab passes 1500, the lab's link MTU).
 */
import type { VpcCniSpec } from '../model/topology.js';
import { eniOf, wirePod, wirePrimaryEni, type NodeContext } from './wiring.js';

/** Route table of ENI device N on network card 0: N+1 (device 0 uses main). */
export function eniTable(index: number): number {
  return index + 1;
}

/** `0x80` as the CNI prints marks (`fmt.Sprintf("%#x")`). */
export function hexMark(mark: number): string {
  return `0x${mark.toString(16)}`;
}

/** The SNAT rule's port selection flag for AWS_VPC_K8S_CNI_RANDOMIZESNAT. */
function snatRandom(cni: VpcCniSpec): string {
  return cni.randomizeSNAT === 'prng'
    ? ' --random-fully'
    : cni.randomizeSNAT === 'hashrandom'
      ? ' --random'
      : '';
}

export function wireVpcCni(ctx: NodeContext, cni: VpcCniSpec): void {
  const legacy = cni.profile === 'vpc-cni-legacy';
  const { node, host, topology } = ctx;
  const vpcCidrs = topology.vpcCidrs.map((c) => c.text);
  const mark = hexMark(cni.connmark);
  wirePrimaryEni(ctx);

  // SetupENINetwork: address, tables, the connected route moved out of main. Only 1.8+ adds the
  // rule for the ENI's own address (32765); v1.7 has none.
  for (const eni of node.enis.slice(1)) {
    const table = eniTable(eni.index);
    const sub = eni.subnet;
    host.config.push(
      `addr add ${eni.address}/${sub.cidr.prefix} dev ${eni.name}`,
      `link set ${eni.name} up`,
      `route del ${sub.cidr.text} dev ${eni.name}`,
      `route add ${sub.gateway} dev ${eni.name} scope link table ${table}`,
      `route add default via ${sub.gateway} dev ${eni.name} table ${table}`,
    );
    if (!legacy) host.config.push(`rule add from ${eni.address} lookup ${table} pref 32765`);
  }
  // SetupHostNetwork: rule 1024. v1.7 adds it for NodePort support only; 1.8+ also without external SNAT.
  if (cni.nodePortSupport || (!legacy && !cni.externalSNAT))
    host.config.push(`rule add fwmark ${mark}/${mark} lookup main pref 1024`);
  // ipamd's UpdateExternalServiceIpRules (1.8+; validation rejects the option for legacy).
  for (const c of cni.externalServiceCidrs) host.config.push(`rule add to ${c} lookup main pref 1535`);

  // The plugin, per pod: 512 to the pod; 1536 from a pod on a secondary ENI. The legacy plugin,
  // without external SNAT, writes 1536 once per CIDR ipamd sends (the VPC CIDRs plus the SNAT
  // exclusions), so off-VPC replies go through main.
  const legacyCidrs = [...vpcCidrs, ...cni.excludeSnatCidrs];
  for (const pod of ctx.pods) {
    wirePod(ctx, pod, cni.vethPrefix);
    host.config.push(`rule add to ${pod.address} lookup main pref 512`);
    const eni = eniOf(node, pod);
    if (eni.index === 0) continue;
    const table = eniTable(eni.index);
    if (legacy && !cni.externalSNAT)
      for (const c of legacyCidrs)
        host.config.push(`rule add from ${pod.address} to ${c} lookup ${table} pref 1536`);
    else host.config.push(`rule add from ${pod.address} lookup ${table} pref 1536`);
  }

  // rp_filter loose on the primary interface, never conf/all: 1.8+'s init container always;
  // v1.7's SetupHostNetwork only with NodePort support (AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER default).
  if (!legacy || cni.nodePortSupport) host.sysctlsLate.push(['net.ipv4.conf.eth0.rp_filter', '2']);

  const rs = host.ruleset;
  const primary = node.address;
  const snat = `! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source ${primary}${snatRandom(cni)}`;
  if (legacy) {
    // v1.7: a chain of chains, one per VPC CIDR and exclusion; no connmark in nat (that came with 1.8).
    const excluded = [
      ...vpcCidrs.map((c) => [c, 'AWS SNAT CHAIN'] as const),
      ...cni.excludeSnatCidrs.map((c) => [c, 'AWS SNAT CHAIN EXCLUSION'] as const),
    ];
    for (let i = 0; i <= excluded.length; i++) rs.chain('nat', `AWS-SNAT-CHAIN-${i}`);
    if (!cni.externalSNAT) {
      rs.append('nat', 'POSTROUTING', '-m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0');
      excluded.forEach(([c, comment], i) =>
        rs.append(
          'nat',
          `AWS-SNAT-CHAIN-${i}`,
          `! -d ${c} -m comment --comment "${comment}" -j AWS-SNAT-CHAIN-${i + 1}`,
        ),
      );
      rs.append('nat', `AWS-SNAT-CHAIN-${excluded.length}`, snat);
    }
  } else {
    rs.chain('nat', 'AWS-SNAT-CHAIN-0');
    if (!cni.externalSNAT) {
      rs.append('nat', 'POSTROUTING', '-m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0');
      for (const c of vpcCidrs)
        rs.append('nat', 'AWS-SNAT-CHAIN-0', `-d ${c} -m comment --comment "AWS SNAT CHAIN" -j RETURN`);
      for (const c of cni.excludeSnatCidrs)
        rs.append(
          'nat',
          'AWS-SNAT-CHAIN-0',
          `-d ${c} -m comment --comment "AWS SNAT CHAIN EXCLUSION" -j RETURN`,
        );
      rs.append('nat', 'AWS-SNAT-CHAIN-0', snat);
      // The connmark for pod egress (iptables form; see the header for v1.23's nft table).
      rs.append(
        'nat',
        'PREROUTING',
        `-i ${cni.vethPrefix}+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0`,
      );
      rs.append(
        'nat',
        'PREROUTING',
        `-m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask ${mark} --ctmask ${mark}`,
      );
      for (const c of [...vpcCidrs, ...cni.excludeSnatCidrs])
        rs.append(
          'nat',
          'AWS-CONNMARK-CHAIN-0',
          `-d ${c} -m comment --comment "AWS CONNMARK CHAIN" -j RETURN`,
        );
      rs.append(
        'nat',
        'AWS-CONNMARK-CHAIN-0',
        `-m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark ${mark}/${mark}`,
      );
    }
  }
  // mangle: NodePort connections arriving on eth0 are marked; pods' packets restore the mark. The
  // restore also exists in 1.8+ without external SNAT; v1.7 matches `eni+` whatever the prefix.
  if (cni.nodePortSupport)
    rs.append(
      'mangle',
      'PREROUTING',
      `-i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark ${mark}/${mark}`,
    );
  if (cni.nodePortSupport || (!legacy && !cni.externalSNAT))
    rs.append(
      'mangle',
      'PREROUTING',
      `-i ${legacy ? 'eni' : cni.vethPrefix}+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask ${mark} --ctmask ${mark}`,
    );
}
