/** Every fault the chaos engine knows, by factory. */
export {
  SysctlFault,
  rpFilter,
  SourcePortExhaustion,
  sourcePortExhaustion,
  type PortExhaustionOptions,
} from './sysctl.js';
export { WipeRules, wipeRules, LinkDown, linkDown, type WipeRulesOptions } from './routing.js';
export { ConntrackFlush, conntrackFlush } from './conntrack.js';
export {
  NlbNodeLoss,
  nlbNodeLoss,
  TargetUnhealthy,
  targetUnhealthy,
  Deregister,
  deregister,
  type NlbNodeLossOptions,
  type DeregisterOptions,
} from './nlb.js';
export {
  KubeProxyWipe,
  kubeProxyWipe,
  EndpointsChange,
  endpointsChange,
  withEndpoints,
} from './kube-proxy.js';
export { PacketLoss, packetLoss, Delay, delay, type DelayOptions, type Direction } from './impair.js';
export { CHAOS_CHAIN_PREFIX } from './chain.js';
export {
  PodNotReady,
  podNotReady,
  ServiceEndpointsChange,
  serviceEndpointsChange,
  TargetNotReady,
  HEALTH_CHECK_SERVER,
} from './readiness.js';
