/** Turns a validated topology into a lab plan: pure, deterministic, golden-testable. */
import { wireNode } from '../cni/index.js';
import { planFabric } from '../fabric/plan.js';
import { confEntries } from '../model/sysctls.js';
import type { ConfSysctls } from '../model/schema.js';
import type { Topology } from '../model/topology.js';
import { PlanBuilder, type HostPlan, type LabPlan } from './plan.js';

export interface PlanContributor {
  /** Adds hosts, rules or processes to the plan after the fabric and the nodes exist. */
  contribute(builder: PlanBuilder, topology: Topology): void;
}

export interface PlanOptions {
  /**
   * false: the topology's pods are a cluster's (its kubelet and CNI make them): the VPC still routes
   * their addresses to their ENIs, but the lab makes no pod namespace.
   */
  podHosts?: boolean;
}

/**
 * @param contributors layers that build on the base lab (kube-proxy, the NLB) add to the plan here,
 * in the order given.
 */
export function planLab(
  topology: Topology,
  runId: string,
  contributors: readonly PlanContributor[] = [],
  opts: PlanOptions = {},
): LabPlan {
  const b = new PlanBuilder(runId);
  planFabric(b, topology);
  for (const node of topology.nodes) {
    const host = b.get(`node/${node.name}`);
    const pods = opts.podHosts === false ? [] : topology.pods.filter((p) => p.node === node.name);
    applyNodeSysctls(host, node.sysctls);
    wireNode({ topology, node, host, builder: b, pods });
    for (const [ifn, conf] of Object.entries(node.sysctls.interfaces)) pushConf(host.sysctlsLate, ifn, conf);
  }
  for (const c of contributors) c.contribute(b, topology);
  return b.build();
}

function pushConf(into: [string, string][], level: string, conf: ConfSysctls): void {
  into.push(...confEntries(level, conf));
}

function applyNodeSysctls(host: HostPlan, s: Topology['nodes'][number]['sysctls']): void {
  host.sysctlsEarly.push(['net.ipv4.ip_forward', String(s.ip_forward)]);
  // conf/default only seeds interfaces created later: the lab sets it before creating any.
  pushConf(host.sysctlsEarly, 'all', s.all);
  pushConf(host.sysctlsEarly, 'default', s.default);
  for (const [k, v] of Object.entries(s.other)) host.sysctlsEarly.push([k, String(v)]);
}
