/** Dispatches a node to its CNI profile. */
import { wireEniPolicyRouting } from './eni-policy-routing.js';
import { wireVpcCni } from './vpc-cni.js';
import { wirePod, wirePrimaryEni, wireSecondaryAddress, type NodeContext } from './wiring.js';

export type { NodeContext } from './wiring.js';

export function wireNode(ctx: NodeContext): void {
  const cni = ctx.node.cni;
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
