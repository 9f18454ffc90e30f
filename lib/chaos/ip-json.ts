/**
 * Policy rules and routes as `ip -j` prints them (iproute2 ip/iprule.c, ip/iproute.c), turned back
 * into `ip rule add` / `ip route add` arguments (to restore what a fault removed) and into one
 * canonical line each (for fingerprints). IPv4 only: the lab is IPv4.
 *
 * The strict renderers refuse attributes they do not know, so a fault that would remove a rule or
 * route it cannot put back fails before it changes anything.
 */

/** One element of `ip -j rule show`. */
export type IpRule = Readonly<Record<string, unknown>> & { priority: number };
/** One element of `ip -4 -j route show table ...`. */
export type IpRoute = Readonly<Record<string, unknown>> & { dst: string };

/** The rules every namespace starts with (`ip rule flush` keeps them too). */
export const DEFAULT_RULE_PRIORITIES: readonly number[] = [0, 32766, 32767];

/** A rule or route has an attribute the strict renderer cannot turn back into arguments. */
export class UnsupportedAttributeError extends Error {
  override readonly name = 'UnsupportedAttributeError';
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function prefix(addr: unknown, len: unknown): string {
  return len === undefined ? str(addr) : `${str(addr)}/${str(len)}`;
}

const RULE_KEYS: ReadonlySet<string> = new Set([
  'priority',
  'not',
  'src',
  'srclen',
  'dst',
  'dstlen',
  'tos',
  'fwmark',
  'fwmask',
  'iif',
  'iif_detached',
  'oif',
  'oif_detached',
  'l3mdev',
  'uid_start',
  'uid_end',
  'ipproto',
  'sport',
  'sport_start',
  'sport_end',
  'dport',
  'dport_start',
  'dport_end',
  'tun_id',
  'table',
  'action',
  'goto',
  'suppress_prefixlen',
  'suppress_ifgroup',
  'protocol',
  'flow_to',
  'flow_from',
]);

function portArgs(r: IpRule, name: 'sport' | 'dport'): string[] {
  if (r[name] !== undefined) return [name, str(r[name])];
  if (r[`${name}_start`] !== undefined) return [name, `${str(r[`${name}_start`])}-${str(r[`${name}_end`])}`];
  return [];
}

/**
 * `ip rule add` arguments that re-create `r` exactly (including `pref`). Throws
 * UnsupportedAttributeError for an attribute it does not know.
 */
export function ruleArgs(r: IpRule): string[] {
  for (const k of Object.keys(r))
    if (!RULE_KEYS.has(k))
      throw new UnsupportedAttributeError(
        `ip rule attribute "${k}" cannot be restored: ${JSON.stringify(r)}`,
      );
  const a: string[] = [];
  if ('not' in r) a.push('not');
  a.push('from', r.src === undefined || r.src === 'all' ? 'all' : prefix(r.src, r.srclen));
  if (r.dst !== undefined && r.dst !== 'all') a.push('to', prefix(r.dst, r.dstlen));
  if (r.tos !== undefined) a.push('tos', str(r.tos));
  if (r.fwmark !== undefined)
    a.push('fwmark', r.fwmask !== undefined ? `${str(r.fwmark)}/${str(r.fwmask)}` : str(r.fwmark));
  if (r.iif !== undefined) a.push('iif', str(r.iif));
  if (r.oif !== undefined) a.push('oif', str(r.oif));
  if ('l3mdev' in r) a.push('l3mdev');
  if (r.uid_start !== undefined) a.push('uidrange', `${str(r.uid_start)}-${str(r.uid_end)}`);
  if (r.ipproto !== undefined) a.push('ipproto', str(r.ipproto));
  a.push(...portArgs(r, 'sport'), ...portArgs(r, 'dport'));
  if (r.tun_id !== undefined) a.push('tun_id', str(r.tun_id));
  if (r.flow_to !== undefined)
    a.push('realms', r.flow_from !== undefined ? `${str(r.flow_from)}/${str(r.flow_to)}` : str(r.flow_to));
  if (r.table !== undefined) a.push('lookup', str(r.table));
  if (r.goto !== undefined) a.push('goto', str(r.goto));
  if (r.action !== undefined) a.push(str(r.action));
  if (r.suppress_prefixlen !== undefined) a.push('suppress_prefixlength', str(r.suppress_prefixlen));
  if (r.suppress_ifgroup !== undefined) a.push('suppress_ifgroup', str(r.suppress_ifgroup));
  if (r.protocol !== undefined) a.push('protocol', str(r.protocol));
  a.push('pref', String(r.priority));
  return a;
}

/** `ip -j rule show` attributes that describe state, not configuration. */
const RULE_STATE_KEYS: ReadonlySet<string> = new Set(['iif_detached', 'oif_detached']);

/** One canonical line per rule, for fingerprints: `512: from all to 10.0.1.50 lookup main`. */
export function renderRule(r: IpRule): string {
  const known: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (RULE_KEYS.has(k)) known[k] = v;
    else unknown.push(`${k}=${JSON.stringify(v)}`);
  }
  const args = ruleArgs(known as IpRule).slice(0, -2);
  const state = [...RULE_STATE_KEYS].filter((k) => k in r).map((k) => `[${k}]`);
  return [`${r.priority}:`, ...args, ...state, ...unknown.sort()].join(' ');
}

const ROUTE_KEYS: ReadonlySet<string> = new Set([
  'type',
  'dst',
  'gateway',
  'dev',
  'table',
  'protocol',
  'scope',
  'prefsrc',
  'metric',
  'flags',
  'metrics',
  'flow',
  'nexthops',
  'tos',
]);

/** Route flags that are state (set by the kernel), not configuration. */
const ROUTE_STATE_FLAGS: ReadonlySet<string> = new Set([
  'linkdown',
  'dead',
  'offload',
  'trap',
  'offload_failed',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
  'notify',
  'unresolved',
]);

function flags(v: unknown): string[] {
  return Array.isArray(v) ? v.map(str) : [];
}

function nexthopArgs(nh: Record<string, unknown>): string[] {
  const a = ['nexthop'];
  if (nh['gateway'] !== undefined) a.push('via', str(nh['gateway']));
  if (nh['dev'] !== undefined) a.push('dev', str(nh['dev']));
  if (nh['weight'] !== undefined) a.push('weight', str(nh['weight']));
  for (const f of flags(nh['flags'])) if (!ROUTE_STATE_FLAGS.has(f)) a.push(f);
  for (const k of Object.keys(nh))
    if (!['gateway', 'dev', 'weight', 'flags'].includes(k))
      throw new UnsupportedAttributeError(
        `nexthop attribute "${k}" cannot be restored: ${JSON.stringify(nh)}`,
      );
  return a;
}

/** The table a route lives in; `ip -j` omits `main`. */
export function routeTable(r: IpRoute): string {
  return r.table === undefined ? 'main' : str(r.table);
}

/**
 * `ip route add` arguments that re-create `r` in its table exactly. Throws
 * UnsupportedAttributeError for an attribute it does not know.
 */
export function routeArgs(r: IpRoute): string[] {
  for (const k of Object.keys(r))
    if (!ROUTE_KEYS.has(k))
      throw new UnsupportedAttributeError(`route attribute "${k}" cannot be restored: ${JSON.stringify(r)}`);
  const a: string[] = [];
  if (r.type !== undefined && r.type !== 'unicast') a.push(str(r.type));
  a.push(r.dst);
  if (r.tos !== undefined) a.push('tos', str(r.tos));
  if (r.gateway !== undefined) a.push('via', str(r.gateway));
  if (r.dev !== undefined) a.push('dev', str(r.dev));
  a.push('table', routeTable(r));
  if (r.protocol !== undefined) a.push('proto', str(r.protocol));
  if (r.scope !== undefined) a.push('scope', str(r.scope));
  if (r.prefsrc !== undefined) a.push('src', str(r.prefsrc));
  if (r.metric !== undefined) a.push('metric', str(r.metric));
  for (const f of flags(r.flags)) if (!ROUTE_STATE_FLAGS.has(f)) a.push(f);
  if (r.metrics !== undefined) {
    for (const m of Array.isArray(r.metrics) ? r.metrics : [r.metrics])
      for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
        if (typeof v !== 'number' && typeof v !== 'string')
          throw new UnsupportedAttributeError(`route metric "${k}" cannot be restored: ${JSON.stringify(r)}`);
        a.push(k, String(v));
      }
  }
  if (r.flow !== undefined) {
    const f = r.flow as { from?: unknown; to?: unknown };
    a.push('realms', f.from !== undefined ? `${str(f.from)}/${str(f.to)}` : str(f.to));
  }
  if (Array.isArray(r.nexthops))
    for (const nh of r.nexthops) a.push(...nexthopArgs(nh as Record<string, unknown>));
  return a;
}

/** One canonical line per route, for fingerprints and for matching routes across two listings. */
export function renderRoute(r: IpRoute): string {
  const known: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (ROUTE_KEYS.has(k)) known[k] = v;
    else unknown.push(`${k}=${JSON.stringify(v)}`);
  }
  let args: string[];
  try {
    args = routeArgs(known as IpRoute);
  } catch {
    args = [r.dst, 'table', routeTable(r), JSON.stringify(known)];
  }
  const state = flags(r.flags).filter((f) => ROUTE_STATE_FLAGS.has(f));
  return [...args, ...state, ...unknown.sort()].join(' ');
}

/** Routes whose device (or one of whose next hops' device) is `dev`. */
export function routeUsesDevice(r: IpRoute, dev: string): boolean {
  if (r.dev === dev) return true;
  return Array.isArray(r.nexthops) && r.nexthops.some((nh) => (nh as { dev?: unknown }).dev === dev);
}

/** Parses `ip -j ...` output: `[]` for empty output (some iproute2 versions print nothing). */
export function parseIpJson<T>(stdout: string, what: string): T[] {
  const text = stdout.trim();
  if (text === '') return [];
  try {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v)) throw new Error('not an array');
    return v as T[];
  } catch (e) {
    throw new Error(`${what}: unparsable ip -j output (${(e as Error).message}): ${text.slice(0, 200)}`, {
      cause: e,
    });
  }
}

export interface Reconcile {
  /** `ip -batch` lines that turn `current` into `desired`: deletions first, then additions. */
  lines: string[];
  removed: string[];
  added: string[];
}

/**
 * The `ip -batch` lines that make the set of routes `current` equal to `desired` (matched by
 * their canonical arguments). Order matters to the kernel: extra routes that occupy a desired
 * route's slot (same table, destination, tos and metric) go first; then the desired routes without
 * a gateway (a gateway must be reachable when its route is added), then those with one; the other
 * extra routes last, so a connected route the kernel re-added still validates gateways meanwhile.
 */
export function reconcileRoutes(current: readonly IpRoute[], desired: readonly IpRoute[]): Reconcile {
  const key = (r: IpRoute): string => routeArgs(r).join(' ');
  const slot = (r: IpRoute): string =>
    [routeTable(r), r.dst, str(r.tos ?? ''), str(r.metric ?? '')].join(' ');
  const want = multiset(desired.map(key));
  const have = multiset(current.map(key));
  const extra = current.filter((r) => take(want, key(r)) === false);
  const missing = desired.filter((r) => take(have, key(r)) === false);
  const slots = new Set(missing.map(slot));
  const blocking = extra.filter((r) => slots.has(slot(r)));
  const rest = extra.filter((r) => !slots.has(slot(r)));
  const direct = missing.filter((r) => r.gateway === undefined && !Array.isArray(r.nexthops));
  const viaGateway = missing.filter((r) => !direct.includes(r));
  return {
    lines: [
      ...blocking.map((r) => `route del ${key(r)}`),
      ...[...direct, ...viaGateway].map((r) => `route add ${key(r)}`),
      ...rest.map((r) => `route del ${key(r)}`),
    ],
    removed: extra.map(key),
    added: missing.map(key),
  };
}

/** Same for policy rules, matched by their full `ip rule add` arguments (priority included). */
export function reconcileRules(current: readonly IpRule[], desired: readonly IpRule[]): Reconcile {
  const key = (r: IpRule): string => ruleArgs(r).join(' ');
  const want = multiset(desired.map(key));
  const have = multiset(current.map(key));
  const removed = current.map(key).filter((k) => take(want, k) === false);
  const added = desired.map(key).filter((k) => take(have, k) === false);
  return {
    lines: [...removed.map((k) => `rule del ${k}`), ...added.map((k) => `rule add ${k}`)],
    removed,
    added,
  };
}

function multiset(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** Takes one `k` out of `m`; false when there was none. */
function take(m: Map<string, number>, k: string): boolean {
  const n = m.get(k) ?? 0;
  if (n === 0) return false;
  m.set(k, n - 1);
  return true;
}
