/** Node image certification: snapshots, sysctl precedence and replay, collection, certificates. */
export * from './snapshot.js';
export * from './snapshot-load.js';
export * from './sysctl-defaults.js';
export * from './sysctl-precedence.js';
export * from './sysctl-replay.js';
export * from './collect.js';
export * from './certificate.js';
export * from './certificate-html.js';
