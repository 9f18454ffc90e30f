/**
 * A generic ENI policy-routing CNI (seed 002): secondary ENIs may carry no address; pods on a
 * secondary ENI leave through it by a `from <pod>` rule at 2000; `to <pod>` rules at 1000.
 */
import type { CniSpec } from '../model/schema.js';
import { eniOf, wirePod, wirePrimaryEni, wireSecondaryAddress, type NodeContext } from './wiring.js';

type EniPolicy = Extract<CniSpec, { profile: 'eni-policy-routing' }>;

/** kube-proxy's masquerade mark. */
const MASQ_MARK = '0x4000';

export function wireEniPolicyRouting(ctx: NodeContext, cni: EniPolicy): void {
  const { node, host } = ctx;
  wirePrimaryEni(ctx);
  for (const eni of node.enis.slice(1)) {
    const table = cni.tableBase + eni.index;
    wireSecondaryAddress(host, eni);
    if (eni.address) host.config.push(`route del ${eni.subnet.cidr.text} dev ${eni.name}`);
    host.config.push(
      `route add ${eni.subnet.gateway} dev ${eni.name} scope link table ${table}`,
      `route add default via ${eni.subnet.gateway} dev ${eni.name} table ${table}`,
    );
  }
  for (const pod of ctx.pods) {
    wirePod(ctx, pod, 'fsk');
    host.config.push(`rule add to ${pod.address} lookup main pref 1000`);
    const eni = eniOf(node, pod);
    if (eni.index > 0)
      host.config.push(`rule add from ${pod.address} lookup ${cni.tableBase + eni.index} pref 2000`);
  }
  if (cni.masqReturnFix) {
    // The seed's mark-based fix: what kube-proxy marks for masquerade is routed by main (out of the
    // primary interface, so SNAT and the return path agree), and the connmark is restored on every
    // later packet of the connection, both directions: the reply's reverse-path check on the primary
    // interface uses it (src_valid_mark), and the pod's own later packets keep leaving through eth0
    // (unmarked, rule 2000 would send them out of eth1, and the kernel kills a masqueraded
    // connection whose output interface changes: nf_nat_oif_changed).
    host.config.push(`rule add fwmark ${MASQ_MARK}/${MASQ_MARK} lookup main pref 1500`);
    host.ruleset.append(
      'mangle',
      'POSTROUTING',
      `-m mark --mark ${MASQ_MARK}/${MASQ_MARK} -m comment --comment "returnpath: masq return fix" -j CONNMARK --save-mark --nfmask ${MASQ_MARK} --ctmask ${MASQ_MARK}`,
    );
    host.ruleset.append(
      'mangle',
      'PREROUTING',
      `-m comment --comment "returnpath: masq return fix" -j CONNMARK --restore-mark --nfmask ${MASQ_MARK} --ctmask ${MASQ_MARK}`,
    );
    host.sysctlsLate.push(['net.ipv4.conf.eth0.src_valid_mark', '1']);
  }
}
