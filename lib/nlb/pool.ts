/**
 * The lab's NLB pool (pure): the topology's loadBalancers are the placements its cloud has. A
 * LoadBalancer Service claims the placement named by its `aws-load-balancer-name` annotation, else
 * the first free one of its scheme; a Service keeps the placement it holds (the controller
 * ignores a name changed after creation).
 */
import type { NlbRequest, Placement } from './annotations.js';

export type Claim = { placement: Placement } | { reason: string };

/**
 * The placement for `req`, given who holds what (`holders`: placement name -> `namespace/name`),
 * or why there is none (for the Service's Warning event).
 */
export function claimPlacement(
  pool: readonly Placement[],
  holders: ReadonlyMap<string, string>,
  req: Pick<NlbRequest, 'service' | 'name' | 'scheme'>,
): Claim {
  const held = [...holders].find(([, svc]) => svc === req.service);
  if (held) {
    const placement = pool.find((p) => p.name === held[0]);
    if (placement && placement.scheme === req.scheme) return { placement };
  }
  const free = (p: Placement): boolean => !holders.has(p.name) || holders.get(p.name) === req.service;
  const describe = pool.map(
    (p) => `${p.name} (${p.scheme}${holders.has(p.name) ? `, held by ${holders.get(p.name)}` : ''})`,
  );
  const poolText = describe.length ? describe.join(', ') : 'none: the topology has no loadBalancers';
  if (req.name !== undefined) {
    const p = pool.find((x) => x.name === req.name);
    if (!p) return { reason: `no NLB placement named ${req.name} in the lab; its placements: ${poolText}` };
    if (p.scheme !== req.scheme)
      return { reason: `NLB placement ${p.name} is ${p.scheme}, the Service asks for ${req.scheme}` };
    if (!free(p)) return { reason: `NLB placement ${p.name} is held by ${holders.get(p.name)}` };
    return { placement: p };
  }
  const p = pool.find((x) => x.scheme === req.scheme && free(x));
  if (!p) return { reason: `no free ${req.scheme} NLB placement in the lab; its placements: ${poolText}` };
  return { placement: p };
}
