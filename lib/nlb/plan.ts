/**
 * Adds the emulated NLBs to a lab plan: one namespace per availability zone (its own conntrack),
 * a fabric port each, and the VPC's return steering: the fabric connmarks each flow by the NLB node
 * it came from and routes the replies that cross it back to that node. A reply a node delivers
 * locally never crosses the fabric, so it is never steered: hairpin failures emerge from that.
 */
import type { PlanContributor } from '../lab/build-plan.js';
import type { PlanBuilder } from '../lab/plan.js';
import type { Topology } from '../model/topology.js';
import { nlbHostId, nodeConfig } from './config.js';
import { activeTargets, idleTimeoutSeconds, listenerRuleset, nlbRuleset } from './rules.js';

const STEER_MASK = '0xff0000';
/** First routing table the fabric uses for steering; one per NLB node. */
const STEER_TABLE_BASE = 100;

export function steerMark(k: number): string {
  return `0x${((k + 1) << 16).toString(16)}`;
}

export const nlbContributor: PlanContributor = {
  contribute(b: PlanBuilder, topology: Topology): void {
    if (topology.loadBalancers.length === 0) return;
    const fabric = b.get('fabric');
    let k = 0;
    topology.loadBalancers.forEach((lb, li) =>
      lb.nodes.forEach((node, ni) => {
        const cfg = nodeConfig(lb, node);
        const host = b.host(nlbHostId(lb, node), 'nlb', cfg.vip);
        const port = `lb${li}z${ni}`;
        const { bMac } = b.veth(fabric, port, host, 'eth0');
        host.sysctlsEarly.push(
          ['net.ipv4.ip_forward', '1'],
          ['net.ipv4.conf.all.rp_filter', '0'],
          ['net.ipv4.conf.default.rp_filter', '0'],
          // A packet of a flow the node no longer tracks is INVALID (then reset), never picked up mid-stream.
          ['net.netfilter.nf_conntrack_tcp_loose', '0'],
          ['net.netfilter.nf_conntrack_tcp_be_liberal', '1'],
          ['net.netfilter.nf_conntrack_tcp_timeout_established', String(idleTimeoutSeconds(cfg))],
        );
        host.config.push('link set lo up', `addr add ${node.address}/${node.subnet.cidr.prefix} dev eth0`);
        if (node.publicAddress) host.config.push(`addr add ${node.publicAddress}/32 dev eth0`);
        host.config.push('link set eth0 up', `route add default via ${node.subnet.gateway} dev eth0`);

        fabric.config.push(`link set ${port} up`);
        fabric.sysctlsLate.push([`net.ipv4.neigh.${port}.proxy_delay`, '0']);
        for (const ip of [node.address, ...(node.publicAddress ? [node.publicAddress] : [])])
          fabric.config.push(
            `route add ${ip} dev ${port} scope link`,
            `neigh add ${ip} lladdr ${bMac} dev ${port} nud permanent`,
          );
        const mark = steerMark(k);
        const table = STEER_TABLE_BASE + k;
        fabric.ruleset.append(
          'mangle',
          'PREROUTING',
          `-i ${port} -m conntrack --ctstate NEW -m comment --comment "returnpath:nlb flow from ${host.id}" -j CONNMARK --set-xmark ${mark}/${STEER_MASK}`,
        );
        fabric.config.push(
          `rule add fwmark ${mark}/${STEER_MASK} lookup ${table} pref 100`,
          `route add default via ${node.address} dev ${port} table ${table}`,
        );
        fabric.legend.push(
          `${port} <-> ${host.id} (${cfg.vip}); replies of its flows: mark ${mark}, table ${table}`,
        );

        host.ruleset = nlbRuleset(cfg);
        // Until the agent's first health round, every eligible target takes flows.
        const initial = new Map(cfg.listeners.map((l) => [l.port, activeTargets(cfg, l, () => true)]));
        host.ruleset.merge(listenerRuleset(cfg, initial));
        host.processes.push({
          name: 'nlb node agent',
          argv: ['{node}', '{dist}/lib/nlb/node-agent.js', JSON.stringify(cfg)],
          readyLine: '{"event":"ready"',
          readyCount: 1,
        });
        k++;
      }),
    );
    fabric.ruleset.append(
      'mangle',
      'PREROUTING',
      `-m conntrack --ctdir REPLY -m comment --comment "returnpath:nlb steer replies" -j CONNMARK --restore-mark --nfmask ${STEER_MASK} --ctmask ${STEER_MASK}`,
    );
  },
};
