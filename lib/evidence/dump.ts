/**
 * The network state of one host as text sections, for `lab dump` and for failed cells: addresses,
 * links, policy rules, routes of every table, neighbours, iptables (with counters), nftables tables
 * that iptables does not manage, conntrack, and the sysctls that decide return paths.
 * Every section is one process; all run concurrently. Best effort: a failing section carries its
 * error instead of failing the dump.
 */
import type { HostExec } from '../exec/netns.js';
import { shellQuote } from '../exec/command.js';
import { IPTABLES_SAVE } from './iptables.js';
import { CONNTRACK_LIST } from './conntrack.js';
import { runOnHost } from './host-run.js';

/**
 * The sysctls one process reads: ip_forward and, for all/default/every interface, the knobs that
 * decide return paths. /proc/sys/net shows the reading process's namespace, so `sysctl` run through
 * nsenter reports the host's own values.
 */
export const SYSCTL_PATTERN =
  '^net\\.ipv4\\.(ip_forward|conf\\.[^.]+\\.(rp_filter|accept_local|src_valid_mark|route_localnet|forwarding|proxy_arp))$';
export const SYSCTL_ARGV: readonly string[] = ['sysctl', '-a', '-r', SYSCTL_PATTERN];

/** Tables iptables-nft creates; hidden from the nftables section when nft does not say so itself. */
const IPTABLES_NFT_TABLES: ReadonlySet<string> = new Set(
  ['ip', 'ip6'].flatMap((f) => ['filter', 'nat', 'mangle', 'raw', 'security'].map((t) => `${f} ${t}`)),
);

export interface DumpSection {
  name: string;
  /** The command, runnable from the root namespace. */
  argv: readonly string[];
  text: string;
  /** Set when the command failed; `text` is then empty or partial. */
  error?: string;
}

export interface HostState {
  host: string;
  sections: DumpSection[];
  /** Parsed `sysctl` section: full key → value. */
  sysctls: Record<string, string>;
}

export interface DumpOptions {
  /** The iptables-save argv. Default `iptables-save -c`. */
  iptablesSave?: readonly string[];
}

/** `key = value` lines of `sysctl` into a record. */
export function parseSysctl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([\w.\-/]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

export interface InterfaceSysctls {
  iface: string;
  /** max(conf.all, conf.<iface>): 0 off, 1 strict, 2 loose. */
  rpFilter: number;
  /** conf.all OR conf.<iface>. */
  acceptLocal: boolean;
  srcValidMark: boolean;
  routeLocalnet: boolean;
  proxyArp: boolean;
  /** conf.<iface>.forwarding. */
  forwarding: boolean;
}

/** Effective per-interface values as the kernel combines `all` and the interface (reference §4). */
export function effectiveSysctls(sysctls: Readonly<Record<string, string>>): InterfaceSysctls[] {
  const ifaces = new Set<string>();
  for (const k of Object.keys(sysctls)) {
    const m = /^net\.ipv4\.conf\.([^.]+)\.\w+$/.exec(k);
    if (m && m[1] !== 'all' && m[1] !== 'default') ifaces.add(m[1] as string);
  }
  const get = (scope: string, key: string): number => Number(sysctls[`net.ipv4.conf.${scope}.${key}`] ?? 0);
  const or = (i: string, key: string): boolean => get('all', key) !== 0 || get(i, key) !== 0;
  return [...ifaces].sort().map((iface) => ({
    iface,
    rpFilter: Math.max(get('all', 'rp_filter'), get(iface, 'rp_filter')),
    acceptLocal: or(iface, 'accept_local'),
    srcValidMark: or(iface, 'src_valid_mark'),
    routeLocalnet: or(iface, 'route_localnet'),
    proxyArp: or(iface, 'proxy_arp'),
    forwarding: get(iface, 'forwarding') !== 0,
  }));
}

const RP_MODE = ['off', 'strict', 'loose'];

function renderSysctls(raw: string, sysctls: Readonly<Record<string, string>>): string {
  const eff = effectiveSysctls(sysctls).map(
    (s) =>
      `${s.iface}: rp_filter=${s.rpFilter} (${RP_MODE[s.rpFilter] ?? '?'}) accept_local=${+s.acceptLocal} ` +
      `src_valid_mark=${+s.srcValidMark} route_localnet=${+s.routeLocalnet} proxy_arp=${+s.proxyArp} ` +
      `forwarding=${+s.forwarding}`,
  );
  return [
    raw.trimEnd(),
    '',
    '# effective (rp_filter = max(all, iface); the others: all OR iface)',
    ...eff,
  ].join('\n');
}

/**
 * Keep the nftables tables iptables does not manage. nft marks iptables-nft's tables with a
 * "# Warning: table ip nat is managed by iptables-nft" line (on stderr); older versions do not,
 * so iptables' table names are hidden too.
 */
export function foreignNftTables(ruleset: string, stderr = ''): string {
  const managed = new Set(IPTABLES_NFT_TABLES);
  for (const m of stderr.matchAll(/table (\S+) (\S+) is managed by iptables-nft/g))
    managed.add(`${m[1]} ${m[2]}`);
  const blocks: string[] = [];
  let cur: string[] | null = null;
  let keep = false;
  for (const line of ruleset.split('\n')) {
    const start = /^table (\S+) (\S+) \{/.exec(line);
    if (start) {
      cur = [];
      keep = !managed.has(`${start[1]} ${start[2]}`);
    }
    if (cur) {
      cur.push(line);
      if (line === '}') {
        if (keep) blocks.push(cur.join('\n'));
        cur = null;
      }
    }
  }
  return blocks.join('\n');
}

interface SectionSpec {
  name: string;
  argv: readonly string[];
  render?: (stdout: string, stderr: string) => string;
}

/** Collect the host's network state; each section one process, all concurrently. */
export async function collectHostState(exec: HostExec, opts: DumpOptions = {}): Promise<HostState> {
  let sysctls: Record<string, string> = {};
  const specs: SectionSpec[] = [
    { name: 'addresses', argv: ['ip', '-o', 'addr', 'show'] },
    { name: 'links', argv: ['ip', '-o', '-d', 'link', 'show'] },
    { name: 'rules', argv: ['ip', 'rule', 'show'] },
    { name: 'routes', argv: ['ip', 'route', 'show', 'table', 'all'] },
    { name: 'neighbours', argv: ['ip', 'neigh', 'show'] },
    { name: 'iptables', argv: opts.iptablesSave ?? IPTABLES_SAVE },
    {
      name: 'nftables',
      argv: ['nft', 'list', 'ruleset'],
      render: (out, err) => foreignNftTables(out, err) || '(no tables besides iptables-nft ones)',
    },
    { name: 'conntrack', argv: CONNTRACK_LIST, render: (out) => out.trimEnd() || '(no entries)' },
    {
      name: 'sysctls',
      argv: SYSCTL_ARGV,
      render: (out) => {
        sysctls = parseSysctl(out);
        return renderSysctls(out, sysctls);
      },
    },
  ];
  const sections = await Promise.all(
    specs.map(async (s): Promise<DumpSection> => {
      const argv = exec.wrap(s.argv);
      try {
        const res = await runOnHost(exec, s.argv);
        return {
          name: s.name,
          argv,
          text: s.render ? s.render(res.stdout, res.stderr) : res.stdout.trimEnd(),
        };
      } catch (e) {
        return { name: s.name, argv, text: '', error: (e as Error).message };
      }
    }),
  );
  return { host: exec.host, sections, sysctls };
}

/** The state as one text document: `==== host: section ====` headers, the command, then the output. */
export function renderHostState(state: HostState): string {
  return state.sections
    .map((s) =>
      [
        `==== ${state.host}: ${s.name} ====`,
        `$ ${shellQuote(s.argv)}`,
        ...(s.error !== undefined ? [`ERROR: ${s.error}`] : []),
        s.text,
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}
