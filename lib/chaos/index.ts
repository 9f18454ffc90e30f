/** The chaos engine: faults, the ledger that reverts them, namespace fingerprints, timelines. */
export * from './fault.js';
export * from './faults/index.js';
export * from './ledger.js';
export * from './fingerprint.js';
export * from './summary.js';
export * from './timeline.js';
export { ownedRules, syncOwnedScript, type OwnedRules, type OwnedJump } from './iptables.js';
export { ruleArgs, routeArgs, renderRule, renderRoute, reconcileRoutes, reconcileRules } from './ip-json.js';
