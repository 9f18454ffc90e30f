/**
 * Faults as data (lib/model/fault-schema.ts) turned into a fresh Fault object per run (faults keep
 * the state they restore on revert). Adding a fault kind adds an entry to the schema and to
 * `buildFault`, nothing else.
 */
import { FaultSpecSchema, type FaultSpec, type FaultSpecInput } from '../model/fault-schema.js';
import type { Fault } from './fault.js';
import {
  conntrackFlush,
  delay,
  deregister,
  endpointsChange,
  kubeProxyWipe,
  linkDown,
  nlbNodeLoss,
  packetLoss,
  rpFilter,
  SysctlFault,
  sourcePortExhaustion,
  targetUnhealthy,
  wipeRules,
} from './faults/index.js';

export { FaultSpecSchema, type FaultSpec, type FaultSpecInput };

/** A fresh Fault for a spec (a fault keeps what it must restore: one object per run). */
export function buildFault(input: FaultSpecInput): Fault {
  const f = FaultSpecSchema.parse(input);
  switch (f.kind) {
    case 'rp-filter':
      return rpFilter(f.host, f.interface, f.value);
    case 'sysctl':
      return new SysctlFault(f.host, Object.entries(f.values));
    case 'source-port-exhaustion':
      return sourcePortExhaustion(f.host, { range: f.range, ...(f.hold && { hold: f.hold }) });
    case 'wipe-rules':
      return wipeRules(f.host, { rules: f.rules, ...(f.routeTables && { routeTables: f.routeTables }) });
    case 'link-down':
      return linkDown(f.host, f.interface);
    case 'conntrack-flush':
      return conntrackFlush(f.host);
    case 'nlb-node-loss':
      return nlbNodeLoss(f.nlb, f.zone, {
        ...(f.forgetFlows !== undefined && { forgetFlows: f.forgetFlows }),
      });
    case 'target-unhealthy':
      return targetUnhealthy(f.nlb, f.target, { ...(f.via && { via: f.via }) });
    case 'deregister':
      return deregister(f.nlb, f.target, { ...(f.reset !== undefined && { reset: f.reset }) });
    case 'kube-proxy-wipe':
      return kubeProxyWipe(f.node);
    case 'endpoints-change':
      return endpointsChange(f.node, f.service, f.endpoints, { ...(f.scope && { scope: f.scope }) });
    case 'packet-loss':
      return packetLoss(f.host, f.interface, f.probability, f.direction);
    case 'delay':
      return delay(f.host, f.interface, {
        rate: f.rate,
        latencyMs: f.latencyMs,
        ...(f.burstBytes !== undefined && { burstBytes: f.burstBytes }),
      });
  }
}
