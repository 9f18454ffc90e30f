/** A node's sysctls as `[key, value]` pairs, the way `sysctl -w` takes them. */
import type { ConfSysctls, NodeSysctls } from './schema.js';

/** `net.ipv4.conf.<level>.<knob>` for every knob set at one level (all, default, eth0, ...). */
export function confEntries(level: string, conf: ConfSysctls): [string, string][] {
  return Object.entries(conf)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [`net.ipv4.conf.${level}.${k}`, String(v)]);
}

/** Every key the node's sysctls set: ip_forward, conf/all, conf/default, per interface, the others. */
export function nodeSysctlEntries(s: NodeSysctls): [string, string][] {
  return [
    ['net.ipv4.ip_forward', String(s.ip_forward)],
    ...confEntries('all', s.all),
    ...confEntries('default', s.default),
    ...Object.entries(s.interfaces).flatMap(([i, c]) => confEntries(i, c)),
    ...Object.entries(s.other).map(([k, v]): [string, string] => [k, String(v)]),
  ];
}
