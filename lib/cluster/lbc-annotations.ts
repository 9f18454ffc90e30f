/**
 * Interim (replaced by lib/nlb/annotations.ts at integration): the AWS Load Balancer Controller's
 * Service annotations for an emulated NLB and its target group.
 */
import type { LoadBalancer, TargetGroup } from '../model/topology.js';

const P = 'service.beta.kubernetes.io/aws-load-balancer-';

export function serviceAnnotations(lb: LoadBalancer, tg: TargetGroup): Record<string, string> {
  const hc = tg.healthCheck;
  return {
    [`${P}type`]: 'external',
    [`${P}nlb-target-type`]: tg.targetType,
    [`${P}scheme`]: lb.scheme,
    [`${P}name`]: lb.name,
    [`${P}target-group-attributes`]: `preserve_client_ip.enabled=${tg.preserveClientIp}`,
    [`${P}attributes`]: `load_balancing.cross_zone.enabled=${lb.crossZone}`,
    [`${P}healthcheck-protocol`]: hc.protocol.toLowerCase(),
    [`${P}healthcheck-port`]: hc.port === undefined ? 'traffic-port' : String(hc.port),
    ...(hc.protocol === 'HTTP' && { [`${P}healthcheck-path`]: hc.path }),
    [`${P}healthcheck-interval`]: String(hc.intervalSeconds),
    [`${P}healthcheck-timeout`]: String(hc.timeoutSeconds),
    [`${P}healthcheck-healthy-threshold`]: String(hc.healthyThreshold),
    [`${P}healthcheck-unhealthy-threshold`]: String(hc.unhealthyThreshold),
  };
}
