/** Dispatches a node to its CNI: an emulated profile, or the namespaces a real CNI will wire. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isVpcCni, pinnedVpcCniVersion, type NodeCni } from '../model/topology.js';
import { wireEniPolicyRouting } from './eni-policy-routing.js';
import { wireVpcCni } from './vpc-cni.js';
import { podNamespace, wirePod, wirePrimaryEni, wireSecondaryAddress, type NodeContext } from './wiring.js';

export type { NodeContext } from './wiring.js';

/** How a node's CNI runs, for legends, logs and results: `emulated vpc-cni`, `real vpc-cni v1.23.2`, ... */
export function describeCni(cni: NodeCni): string {
  if (cni.profile === 'plugin')
    return `plugin ${cni.conflist.name} (${cni.conflist.plugins.map((p) => p.type).join(' + ')})`;
  if (!isVpcCni(cni)) return `emulated ${cni.profile}`;
  if (cni.implementation === 'emulated') return `emulated ${cni.profile}`;
  if (!cni.build) return `real ${cni.profile} ${cni.version ?? pinnedVpcCniVersion(cni.profile)}`;
  return `real ${cni.profile} ${buildSource(cni.build) ?? 'own build'} (build ${cni.build})`;
}

/** `source DIR` from a user build's manifest (`components build --source`), when it has one. */
function buildSource(dir: string): string | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { source?: unknown };
    return typeof m.source === 'string' ? `source ${m.source}` : undefined;
  } catch {
    return undefined;
  }
}

export function wireNode(ctx: NodeContext): void {
  const cni = ctx.node.cni;
  if (cni.profile === 'plugin' || (isVpcCni(cni) && cni.implementation === 'real')) {
    // The OS configured eth0 (DHCP); the real CNI does the rest in a lab stage (lib/cni/real).
    // The real VPC CNI sets secondary ENIs up itself (SetupENINetwork); any other CNI finds
    // them configured as plain Linux would.
    wirePrimaryEni(ctx);
    if (cni.profile === 'plugin')
      for (const eni of ctx.node.enis.slice(1)) wireSecondaryAddress(ctx.host, eni);
    for (const pod of ctx.pods) podNamespace(ctx, pod, describeCni(cni));
    ctx.host.legend.push(`CNI: ${describeCni(cni)}, set up by a lab stage after the namespaces`);
    return;
  }
  switch (cni.profile) {
    case 'vpc-cni':
    case 'vpc-cni-legacy':
      return wireVpcCni(ctx, cni);
    case 'eni-policy-routing':
      return wireEniPolicyRouting(ctx, cni);
    case 'none':
      // Plain Linux: every ENI keeps its connected route in main, pods get /32 routes, no rules.
      wirePrimaryEni(ctx);
      for (const eni of ctx.node.enis.slice(1)) wireSecondaryAddress(ctx.host, eni);
      for (const pod of ctx.pods) wirePod(ctx, pod, 'veth');
      return;
  }
}
