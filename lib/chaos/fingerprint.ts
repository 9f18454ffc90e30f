/**
 * A namespace's network configuration as normalized lines per section, to prove a fault left
 * nothing behind: fingerprint before apply, fingerprint after revert, diff must be empty.
 *
 * Configuration, not state: counters, conntrack entries, dynamic neighbours, address lifetimes,
 * iptables-save timestamps and the kernel's handles are left out. IPv4 only (the lab is IPv4; link
 * up/down re-creates IPv6 link-local addresses by itself).
 */
import { shellQuote } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';
import { foreignNftTables } from '../evidence/dump.js';
import { parseIpJson, renderRoute, renderRule, type IpRoute, type IpRule } from './ip-json.js';

export const SECTIONS = [
  'links',
  'addresses',
  'rules',
  'routes',
  'neighbours',
  'iptables',
  'nftables',
  'sysctls',
  'qdiscs',
] as const;
export type Section = (typeof SECTIONS)[number];

/** Sections whose line order is meaningful (rule order in a chain): diffed in order, per group. */
const ORDERED: ReadonlySet<Section> = new Set(['iptables', 'nftables']);

/** The sysctl trees read: every per-namespace IPv4, netfilter and core key (directories: faster than `-a -r`). */
export const FINGERPRINT_SYSCTLS: readonly string[] = ['net.ipv4', 'net.netfilter', 'net.core'];
/** Keys whose value changes by itself (a count, a lazily generated key). */
const VOLATILE_SYSCTLS: readonly RegExp[] = [
  /^net\.netfilter\.nf_conntrack_count$/,
  /^net\.ipv4\.tcp_fastopen_key$/,
  /^net\.ipv4\.tcp_available_/,
];

interface SectionSpec {
  argv: readonly string[];
  normalize: (stdout: string, stderr: string) => string[];
  /** A non-zero exit with output is fine (sysctl of a directory that does not exist here). */
  partialOk?: boolean;
}

const SPECS: Record<Section, SectionSpec> = {
  links: { argv: ['ip', '-j', 'link', 'show'], normalize: (o) => normalizeLinks(o) },
  addresses: { argv: ['ip', '-4', '-j', 'addr', 'show'], normalize: (o) => normalizeAddresses(o) },
  rules: { argv: ['ip', '-4', '-j', 'rule', 'show'], normalize: (o) => normalizeRules(o) },
  routes: { argv: ['ip', '-4', '-j', 'route', 'show', 'table', 'all'], normalize: (o) => normalizeRoutes(o) },
  neighbours: {
    argv: ['ip', '-4', '-j', 'neigh', 'show', 'nud', 'permanent'],
    normalize: (o) => normalizeNeighbours(o),
  },
  iptables: { argv: ['iptables-save'], normalize: (o) => normalizeIptablesSave(o) },
  nftables: { argv: ['nft', 'list', 'ruleset'], normalize: (o, e) => normalizeNft(o, e) },
  sysctls: {
    argv: ['sysctl', ...FINGERPRINT_SYSCTLS],
    normalize: (o) => normalizeSysctls(o),
    partialOk: true,
  },
  qdiscs: { argv: ['tc', '-j', 'qdisc', 'show'], normalize: (o) => normalizeQdiscs(o) },
};

export interface Fingerprint {
  host: string;
  takenAt: number;
  sections: Record<Section, string[]>;
  /** Sections that could not be read (the section is then empty). */
  errors: Partial<Record<Section, string>>;
  /** The command of each section, runnable from the root namespace. */
  commands: Record<Section, string>;
}

/** Fingerprints one namespace: one process per section, all concurrently. */
export async function fingerprint(exec: HostExec): Promise<Fingerprint> {
  const sections = {} as Record<Section, string[]>;
  const commands = {} as Record<Section, string>;
  const errors: Partial<Record<Section, string>> = {};
  await Promise.all(
    SECTIONS.map(async (s) => {
      const spec = SPECS[s];
      commands[s] = shellQuote(exec.wrap(spec.argv));
      try {
        const res = await exec.run(spec.argv, { allowFailure: spec.partialOk });
        if (res.code !== 0 && (res.stdout.trim() === '' || !spec.partialOk))
          throw new Error(`exit ${res.code}: ${res.stderr.trim()}`);
        sections[s] = spec.normalize(res.stdout, res.stderr);
      } catch (e) {
        sections[s] = [];
        errors[s] = e instanceof Error ? e.message : String(e);
      }
    }),
  );
  return { host: exec.host, takenAt: Date.now(), sections, errors, commands };
}

/** Fingerprints of several hosts, concurrently, in the order given. */
export function fingerprintAll(execs: readonly HostExec[]): Promise<Fingerprint[]> {
  return Promise.all(execs.map((e) => fingerprint(e)));
}

export interface FingerprintDifference {
  host: string;
  /** `host` when a whole fingerprint is missing on one side. */
  section: Section | 'host';
  change: 'added' | 'removed' | 'changed';
  /** The line after (added, changed) or before (removed). */
  line: string;
  /** For `changed` (sysctls): the line before. */
  before?: string;
  /** `node/node-1 sysctls: net.ipv4.conf.eth1.rp_filter = 2 -> 1` */
  text: string;
}

/** What differs between two fingerprints of one host; empty when the configuration is the same. */
export function diffFingerprint(before: Fingerprint, after: Fingerprint): FingerprintDifference[] {
  const out: FingerprintDifference[] = [];
  const host = after.host;
  for (const section of SECTIONS) {
    const b = before.sections[section] ?? [];
    const a = after.sections[section] ?? [];
    const errB = before.errors[section];
    const errA = after.errors[section];
    if ((errB === undefined) !== (errA === undefined)) {
      const line = `(unreadable: ${errA ?? errB})`;
      const change = errA !== undefined ? 'added' : 'removed';
      out.push({
        host,
        section,
        change,
        line,
        text: `${host} ${section}: ${change === 'added' ? '+' : '-'} ${line}`,
      });
    }
    const { removed, added } = ORDERED.has(section) ? orderedDiff(b, a) : unorderedDiff(b, a);
    if (section === 'sysctls') {
      const key = (l: string): string => l.slice(0, l.indexOf(' = '));
      const addedByKey = new Map(added.map((l) => [key(l), l]));
      for (const r of removed) {
        const n = addedByKey.get(key(r));
        if (n !== undefined) {
          addedByKey.delete(key(r));
          out.push({
            host,
            section,
            change: 'changed',
            line: n,
            before: r,
            text: `${host} ${section}: ${key(r)} = ${r.slice(key(r).length + 3)} -> ${n.slice(key(r).length + 3)}`,
          });
        } else out.push(diffEntry(host, section, 'removed', r));
      }
      for (const l of addedByKey.values()) out.push(diffEntry(host, section, 'added', l));
      continue;
    }
    for (const l of removed) out.push(diffEntry(host, section, 'removed', l));
    for (const l of added) out.push(diffEntry(host, section, 'added', l));
  }
  return out;
}

/** Differences of several hosts, matched by host id (a host missing on either side is a difference). */
export function diffFingerprints(
  before: readonly Fingerprint[],
  after: readonly Fingerprint[],
): FingerprintDifference[] {
  const byHost = new Map(after.map((f) => [f.host, f]));
  const out: FingerprintDifference[] = [];
  for (const b of before) {
    const a = byHost.get(b.host);
    byHost.delete(b.host);
    if (a) out.push(...diffFingerprint(b, a));
    else out.push(missing(b.host, 'removed'));
  }
  for (const host of byHost.keys()) out.push(missing(host, 'added'));
  return out;
}

function missing(host: string, change: 'added' | 'removed'): FingerprintDifference {
  const line = '(no fingerprint on this side)';
  return {
    host,
    section: 'host',
    change,
    line,
    text: `${host}: ${change === 'added' ? 'only after' : 'only before'}`,
  };
}

function diffEntry(
  host: string,
  section: Section,
  change: 'added' | 'removed',
  line: string,
): FingerprintDifference {
  return {
    host,
    section,
    change,
    line,
    text: `${host} ${section}: ${change === 'added' ? '+' : '-'} ${line}`,
  };
}

/** The differences as lines for a message, or `no difference`. */
export function formatDifferences(diffs: readonly FingerprintDifference[]): string {
  return diffs.length === 0 ? 'no difference' : diffs.map((d) => d.text).join('\n');
}

/** Multiset difference: lines only in `before` (removed) and only in `after` (added). */
export function unorderedDiff(
  before: readonly string[],
  after: readonly string[],
): { removed: string[]; added: string[] } {
  const count = new Map<string, number>();
  for (const l of after) count.set(l, (count.get(l) ?? 0) + 1);
  const removed: string[] = [];
  for (const l of before) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else removed.push(l);
  }
  const left = new Map<string, number>();
  for (const l of before) left.set(l, (left.get(l) ?? 0) + 1);
  const added: string[] = [];
  for (const l of after) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else added.push(l);
  }
  return { removed, added };
}

/**
 * Order-aware difference, per group of lines sharing their first two words (`nat -A KUBE-SVC-X` /
 * `table ip foo`): a rule that moved within its chain shows as removed and added; groups are
 * compared as wholes otherwise.
 */
export function orderedDiff(
  before: readonly string[],
  after: readonly string[],
): { removed: string[]; added: string[] } {
  const group = (lines: readonly string[]): Map<string, string[]> => {
    const g = new Map<string, string[]>();
    for (const l of lines) {
      const k = l.split(' ').slice(0, 3).join(' ');
      let arr = g.get(k);
      if (!arr) g.set(k, (arr = []));
      arr.push(l);
    }
    return g;
  };
  const gb = group(before);
  const ga = group(after);
  const removed: string[] = [];
  const added: string[] = [];
  for (const k of new Set([...gb.keys(), ...ga.keys()])) {
    const d = lcsDiff(gb.get(k) ?? [], ga.get(k) ?? []);
    removed.push(...d.removed);
    added.push(...d.added);
  }
  return { removed, added };
}

/** Longest-common-subsequence diff of two short sequences. */
export function lcsDiff(a: readonly string[], b: readonly string[]): { removed: string[]; added: string[] } {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      t[i * w + j] =
        a[i] === b[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) removed.push(a[i++]!);
    else added.push(b[j++]!);
  }
  while (i < n) removed.push(a[i++]!);
  while (j < m) added.push(b[j++]!);
  return { removed, added };
}

// ---- normalizers (pure) ----

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** `ip -j link show` → `eth1 <BROADCAST,MULTICAST,UP,LOWER_UP> state UP mtu 1500 ether 02:..`. */
export function normalizeLinks(stdout: string): string[] {
  return parseIpJson<Record<string, unknown>>(stdout, 'ip link')
    .map((l) => {
      const parts = [str(l['ifname']), `<${((l['flags'] as string[] | undefined) ?? []).join(',')}>`];
      parts.push(`state ${str(l['operstate'] ?? '?')}`, `mtu ${str(l['mtu'] ?? '?')}`);
      if (l['master'] !== undefined) parts.push(`master ${str(l['master'])}`);
      if (l['link_type'] !== undefined) parts.push(str(l['link_type']));
      if (l['address'] !== undefined) parts.push(str(l['address']));
      return parts.join(' ');
    })
    .sort();
}

/** `ip -4 -j addr show` → `eth0 10.0.1.10/24 scope global`. */
export function normalizeAddresses(stdout: string): string[] {
  const out: string[] = [];
  for (const l of parseIpJson<Record<string, unknown>>(stdout, 'ip addr'))
    for (const a of (l['addr_info'] as Record<string, unknown>[] | undefined) ?? []) {
      if (a['family'] !== undefined && a['family'] !== 'inet') continue;
      const parts = [str(l['ifname']), `${str(a['local'])}/${str(a['prefixlen'])}`];
      if (a['address'] !== undefined && a['address'] !== a['local']) parts.push(`peer ${str(a['address'])}`);
      if (a['broadcast'] !== undefined) parts.push(`brd ${str(a['broadcast'])}`);
      parts.push(`scope ${str(a['scope'] ?? '?')}`);
      if (a['label'] !== undefined && a['label'] !== l['ifname']) parts.push(`label ${str(a['label'])}`);
      for (const f of ['secondary', 'noprefixroute', 'dynamic', 'deprecated', 'tentative', 'dadfailed'])
        if (a[f] === true) parts.push(f);
      out.push(parts.join(' '));
    }
  return out.sort();
}

export function normalizeRules(stdout: string): string[] {
  return parseIpJson<IpRule>(stdout, 'ip rule').map(renderRule).sort(byPriority);
}

function byPriority(a: string, b: string): number {
  const pa = parseInt(a, 10);
  const pb = parseInt(b, 10);
  return pa !== pb ? pa - pb : a < b ? -1 : a > b ? 1 : 0;
}

export function normalizeRoutes(stdout: string): string[] {
  return parseIpJson<IpRoute>(stdout, 'ip route').map(renderRoute).sort();
}

/** Permanent neighbour entries only: `10.0.1.10 dev n0e0 lladdr 02:52:00:00:00:02 PERMANENT`. */
export function normalizeNeighbours(stdout: string): string[] {
  return parseIpJson<Record<string, unknown>>(stdout, 'ip neigh')
    .map((n) =>
      [
        str(n['dst']),
        'dev',
        str(n['dev']),
        ...(n['lladdr'] !== undefined ? ['lladdr', str(n['lladdr'])] : []),
        ...((n['state'] as string[] | undefined) ?? []),
        ...(n['router'] !== undefined ? ['router'] : []),
        ...(n['proxy'] !== undefined ? ['proxy'] : []),
      ].join(' '),
    )
    .sort();
}

/**
 * `iptables-save` → `<table> :<chain> <policy>` and `<table> -A <chain> <rule>` lines: no
 * timestamps, no counters; chains sorted by name (iptables-nft lists them in creation order), rules
 * kept in their order within each chain.
 */
export function normalizeIptablesSave(text: string): string[] {
  const out: string[] = [];
  let table = '';
  let decls: string[] = [];
  let rules = new Map<string, string[]>();
  const flush = (): void => {
    const chains = decls.map((d) => d.split(' ')[0]!.slice(1));
    for (const d of [...decls].sort()) out.push(`${table} ${d}`);
    const order = [...new Set([...chains, ...rules.keys()])].sort();
    for (const c of order) for (const r of rules.get(c) ?? []) out.push(`${table} -A ${c} ${r}`);
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      table = line.slice(1);
      decls = [];
      rules = new Map();
    } else if (line === 'COMMIT') flush();
    else if (line.startsWith(':')) decls.push(line.replace(/\s*\[\d+:\d+\]$/, ''));
    else {
      const m = /^(?:\[\d+:\d+\]\s+)?-A\s+(\S+)\s*(.*)$/.exec(line);
      if (!m) continue;
      let r = rules.get(m[1]!);
      if (!r) rules.set(m[1]!, (r = []));
      r.push(m[2]!);
    }
  }
  return out;
}

/**
 * nftables tables iptables does not manage, one line per ruleset line prefixed with its table, with
 * counters, handles and expiry times removed. Within a table the chains, sets and maps are listed
 * by name: `nft` lists them in creation order, which means nothing (a chain a program deletes and
 * re-creates, as kube-proxy's nftables mode does, moves to the end); rules keep their order.
 */
export function normalizeNft(stdout: string, stderr = ''): string[] {
  const out: string[] = [];
  let table = '';
  let depth = 0;
  let header: string[] = [];
  let footer: string[] = [];
  let blocks: string[][] = [];
  let block: string[] | undefined;
  const flush = (): void => {
    const sorted = blocks.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
    out.push(...header, ...sorted.flat(), ...footer);
    header = [];
    footer = [];
    blocks = [];
  };
  for (const raw of foreignNftTables(stdout, stderr).split('\n')) {
    const t = /^table (\S+ \S+) \{/.exec(raw);
    if (t) table = t[1]!;
    const line = raw
      .replace(/\s*# handle \d+/g, '')
      .replace(/counter packets \d+ bytes \d+/g, 'counter')
      .replace(/\s*expires \S+/g, '')
      .trim();
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (line !== '') {
      const text = `table ${table} ${line}`;
      if (depth === 1 && opens > closes) block = [text];
      else if (block) block.push(text);
      else if (depth + opens - closes === 0 && closes > opens) footer.push(text);
      else header.push(text);
    }
    depth += opens - closes;
    if (block && depth === 1) {
      blocks.push(block);
      block = undefined;
    }
    if (depth === 0 && (t || line === '}')) flush();
  }
  flush();
  return out;
}

/** `sysctl -a` → `key = value` lines, volatile keys dropped, whitespace in values collapsed. */
export function normalizeSysctls(stdout: string): string[] {
  const out: string[] = [];
  for (const raw of stdout.split('\n')) {
    const m = /^\s*([\w.\-/]+)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m || VOLATILE_SYSCTLS.some((re) => re.test(m[1]!))) continue;
    out.push(`${m[1]} = ${m[2]!.replace(/\s+/g, ' ')}`);
  }
  return out.sort();
}

/** `tc -j qdisc show` → `eth0 tbf root {"rate":...}` (handles and refcounts left out: the kernel picks them). */
export function normalizeQdiscs(stdout: string): string[] {
  return parseIpJson<Record<string, unknown>>(stdout, 'tc qdisc')
    .map((q) => {
      const where = q['root'] ? 'root' : q['parent'] !== undefined ? `parent ${str(q['parent'])}` : 'ingress';
      return [str(q['dev'] ?? '?'), str(q['kind']), where, JSON.stringify(q['options'] ?? {})].join(' ');
    })
    .sort();
}
