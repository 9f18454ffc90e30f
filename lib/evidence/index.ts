/** The evidence layer: counter and rule deltas around actions, attribution, captures, state dumps. */
export * from './counters.js';
export * from './iptables.js';
export * from './conntrack.js';
export * from './probe.js';
export * from './attribution.js';
export * from './capture.js';
export * from './dump.js';
export { isMissingTool, runOnHost } from './host-run.js';
