/**
 * The AWS VPC CNI's node wiring (aws/amazon-vpc-cni-k8s pkg/networkutils/network.go and
 * cmd/routed-eni-cni-plugin/driver/driver.go): current (1.8+) and legacy (up to 1.7) profiles.
 */
import type { CniSpec } from '../model/schema.js';
import { eniOf, wirePod, wirePrimaryEni, type NodeContext } from './wiring.js';

type VpcCni = Extract<CniSpec, { profile: 'vpc-cni' | 'vpc-cni-legacy' }>;

/** Route table of ENI device N on network card 0: N+1 (device 0 uses main). */
export function eniTable(index: number): number {
  return index + 1;
}

export function wireVpcCni(ctx: NodeContext, cni: VpcCni): void {
  const legacy = cni.profile === 'vpc-cni-legacy';
  const { node, host, topology } = ctx;
  const vpcCidrs = topology.vpcCidrs.map((c) => c.text);
  wirePrimaryEni(ctx);

  for (const eni of node.enis.slice(1)) {
    const table = eniTable(eni.index);
    const sub = eni.subnet;
    host.config.push(
      `addr add ${eni.address}/${sub.cidr.prefix} dev ${eni.name}`,
      `link set ${eni.name} up`,
      // The CNI removes the secondary ENI's connected route from main and routes it in the ENI's table.
      `route del ${sub.cidr.text} dev ${eni.name}`,
      `route add ${sub.gateway} dev ${eni.name} scope link table ${table}`,
      `route add default via ${sub.gateway} dev ${eni.name} table ${table}`,
      `rule add from ${eni.address} lookup ${table} pref 32765`,
    );
  }
  if (cni.nodePortSupport || !cni.externalSNAT)
    host.config.push('rule add fwmark 0x80/0x80 lookup main pref 1024');
  for (const c of cni.externalServiceCidrs) host.config.push(`rule add to ${c} lookup main pref 1535`);

  for (const pod of ctx.pods) {
    wirePod(ctx, pod, 'eni');
    host.config.push(`rule add to ${pod.address} lookup main pref 512`);
    const eni = eniOf(node, pod);
    if (eni.index === 0) continue;
    const table = eniTable(eni.index);
    if (legacy && !cni.externalSNAT)
      for (const c of vpcCidrs)
        host.config.push(`rule add from ${pod.address} to ${c} lookup ${table} pref 1536`);
    else host.config.push(`rule add from ${pod.address} lookup ${table} pref 1536`);
  }

  // The CNI init container sets rp_filter=2 on the primary interface only, never conf/all.
  host.sysctlsLate.push(['net.ipv4.conf.eth0.rp_filter', '2']);

  const rs = host.ruleset;
  const primary = node.address;
  const excluded = [...vpcCidrs, ...cni.excludeSnatCidrs];
  if (!cni.externalSNAT) {
    rs.append(
      'nat',
      'PREROUTING',
      '-i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
    );
    rs.append(
      'nat',
      'PREROUTING',
      '-m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80',
    );
  }
  rs.append('nat', 'POSTROUTING', '-m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0');
  if (legacy) {
    // v1.6-v1.15: a chain of chains, one per excluded CIDR.
    excluded.forEach((c, i) => {
      rs.append(
        'nat',
        `AWS-SNAT-CHAIN-${i}`,
        `! -d ${c} -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-${i + 1}`,
      );
      if (!cni.externalSNAT)
        rs.append(
          'nat',
          `AWS-CONNMARK-CHAIN-${i}`,
          `! -d ${c} -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" -j AWS-CONNMARK-CHAIN-${i + 1}`,
        );
    });
    const n = excluded.length;
    if (!cni.externalSNAT) {
      rs.append(
        'nat',
        `AWS-SNAT-CHAIN-${n}`,
        `! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source ${primary} --random-fully`,
      );
      rs.append(
        'nat',
        `AWS-CONNMARK-CHAIN-${n}`,
        '-m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80',
      );
    } else rs.chain('nat', `AWS-SNAT-CHAIN-${n}`);
  } else {
    for (const c of excluded) {
      rs.append('nat', 'AWS-SNAT-CHAIN-0', `-d ${c} -m comment --comment "AWS SNAT CHAIN" -j RETURN`);
      if (!cni.externalSNAT)
        rs.append(
          'nat',
          'AWS-CONNMARK-CHAIN-0',
          `-d ${c} -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" -j RETURN`,
        );
    }
    if (!cni.externalSNAT) {
      rs.append(
        'nat',
        'AWS-SNAT-CHAIN-0',
        `! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source ${primary} --random-fully`,
      );
      rs.append(
        'nat',
        'AWS-CONNMARK-CHAIN-0',
        '-m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80',
      );
    }
  }
  if (cni.nodePortSupport) {
    rs.append(
      'mangle',
      'PREROUTING',
      '-i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80',
    );
    rs.append(
      'mangle',
      'PREROUTING',
      '-i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80',
    );
  }
}
