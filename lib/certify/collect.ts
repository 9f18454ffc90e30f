/**
 * `returnpath collect`: a snapshot of the host it runs on. Read-only: it runs `sysctl -a`, `ip -j`,
 * `iptables-save`, `iptables -V` and `systemctl is-active`, and reads the sysctl.d files; it writes
 * nothing. Every command is an argv array. A missing tool or a failing command is recorded in `gaps`,
 * never fatal.
 */
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CommandError } from '../errors.js';
import type { CommandResult, CommandRunner } from '../exec/command.js';
import { parseSysctl } from '../evidence/dump.js';
import {
  SNAPSHOT_SCHEMA_ID,
  validateSnapshot,
  type NetworkManagerInfo,
  type NodeSnapshot,
  type SnapshotGap,
  type SnapshotInterface,
} from './snapshot.js';
import { readSysctlTree, type SysctlRead } from './snapshot-load.js';
import { orderSysctlFiles } from './sysctl-precedence.js';

export const COLLECT_COMMANDS = {
  sysctl: ['sysctl', '-a', '-r', '^net\\.ipv4\\.'],
  rules: ['ip', '-j', 'rule', 'show'],
  routes: ['ip', '-j', 'route', 'show', 'table', 'all'],
  addresses: ['ip', '-j', '-d', 'addr', 'show'],
  iptablesSave: ['iptables-save'],
  iptablesVersion: ['iptables', '-V'],
} as const satisfies Record<string, readonly string[]>;

export interface CollectOptions {
  /** Where the sysctl.d files and the network managers' binaries are looked for. Default '/'. */
  root?: string;
  /** Default: os.hostname(). */
  hostname?: string;
  /** Default: now. */
  now?: Date;
  /** Per command. Default 20 s. */
  timeoutMs?: number;
}

/** Snapshot of this host. */
export async function collectSnapshot(
  runner: CommandRunner,
  opts: CollectOptions = {},
): Promise<NodeSnapshot> {
  const root = opts.root ?? '/';
  const gaps: SnapshotGap[] = [];
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const run = async (section: string, argv: readonly string[]): Promise<CommandResult | null> => {
    try {
      const res = await runner.run(argv, { allowFailure: true, timeoutMs });
      if (res.code !== 0) {
        gaps.push({
          section,
          argv: [...argv],
          error: firstLine(res.stderr) || `exit ${res.code ?? 'signal'}`,
        });
        return res.stdout.trim() ? res : null;
      }
      return res;
    } catch (e) {
      gaps.push({ section, argv: [...argv], error: missingTool(e) });
      return null;
    }
  };

  const [sysctl, rules, routes, addrs, save, version, tree, managers] = await Promise.all([
    run('sysctls', COLLECT_COMMANDS.sysctl),
    run('ipRules', COLLECT_COMMANDS.rules),
    run('routes', COLLECT_COMMANDS.routes),
    run('interfaces', COLLECT_COMMANDS.addresses),
    run('iptables', COLLECT_COMMANDS.iptablesSave),
    run('iptables', COLLECT_COMMANDS.iptablesVersion),
    readSysctlTree(root).catch((e: Error): SysctlRead => {
      gaps.push({ section: 'sysctlFiles', error: e.message });
      return { files: [], problems: [], notes: [] };
    }),
    networkManagers(runner, root, timeoutMs),
  ]);

  const sysctls = Object.fromEntries(
    Object.entries(parseSysctl(sysctl?.stdout ?? ''))
      .filter(([k]) => k.startsWith('net.ipv4.'))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  for (const p of tree.problems)
    gaps.push({ section: 'sysctlFiles', error: `${p.path}: ${p.message} (got ${p.value})` });
  const ordered = orderSysctlFiles(tree.files);
  const notes = [...tree.notes, ...ordered.notes];

  const snapshot = {
    schema: SNAPSHOT_SCHEMA_ID,
    source: {
      kind: 'collected',
      hostname: opts.hostname ?? os.hostname(),
      collectedAt: (opts.now ?? new Date()).toISOString(),
    },
    kernel: os.release(),
    sysctls,
    sysctlFiles: ordered.files,
    ipRules: rules ? parseJson(rules.stdout, 'ipRules', gaps, (j) => asArray(j).map(renderRule)) : null,
    routes: routes ? parseJson(routes.stdout, 'routes', gaps, (j) => groupRoutes(asArray(j))) : null,
    iptables:
      save || version
        ? {
            backend: iptablesBackend(version ? `${version.stdout}${version.stderr}` : ''),
            save: save?.stdout ?? '',
          }
        : null,
    interfaces: addrs
      ? (parseJson(addrs.stdout, 'interfaces', gaps, (j) => asArray(j).map(toInterface)) ?? [])
      : [],
    networkManagers: managers,
    ...(gaps.length > 0 ? { gaps } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
  return validateSnapshot(snapshot, `collect on ${snapshot.source.hostname}`);
}

/** `iptables -V` prints `iptables v1.8.9 (nf_tables)` or `(legacy)`. */
export function iptablesBackend(versionText: string): 'nf_tables' | 'legacy' | 'unknown' {
  if (/\(nf_tables\)/.test(versionText)) return 'nf_tables';
  if (/\(legacy\)/.test(versionText)) return 'legacy';
  return 'unknown';
}

type Json = Record<string, unknown>;

/** An `ip -j rule` object as `ip rule` prints it: `1536:\tfrom 10.0.2.15 lookup 3`. */
export function renderRule(r: Json): string {
  const parts: string[] = [];
  if (r.not) parts.push('not');
  parts.push(`from ${prefix(r.src ?? 'all', r.srclen)}`);
  if (r.dst !== undefined) parts.push(`to ${prefix(r.dst, r.dstlen)}`);
  if (r.tos !== undefined) parts.push(`tos ${String(r.tos)}`);
  if (r.fwmark !== undefined)
    parts.push(`fwmark ${String(r.fwmark)}${r.fwmask !== undefined ? `/${String(r.fwmask)}` : ''}`);
  if (r.iif !== undefined) parts.push(`iif ${String(r.iif)}`);
  if (r.oif !== undefined) parts.push(`oif ${String(r.oif)}`);
  if (r.uid_range !== undefined) parts.push(`uidrange ${String(r.uid_range)}`);
  if (r.ipproto !== undefined) parts.push(`ipproto ${String(r.ipproto)}`);
  if (r.sport !== undefined) parts.push(`sport ${String(r.sport)}`);
  if (r.dport !== undefined) parts.push(`dport ${String(r.dport)}`);
  if (r.table !== undefined) parts.push(`lookup ${String(r.table)}`);
  else if (r.action !== undefined) parts.push(String(r.action));
  if (r.suppress_prefixlen !== undefined) parts.push(`suppress_prefixlength ${String(r.suppress_prefixlen)}`);
  return `${String(r.priority ?? 0)}:\t${parts.join(' ')}`;
}

/** An `ip -j route` object as `ip route` prints it, without the table. */
export function renderRoute(r: Json): string {
  const parts: string[] = [];
  if (r.type !== undefined && r.type !== 'unicast') parts.push(String(r.type));
  parts.push(String(r.dst ?? 'default'));
  if (r.gateway !== undefined) parts.push(`via ${String(r.gateway)}`);
  if (r.dev !== undefined) parts.push(`dev ${String(r.dev)}`);
  if (r.protocol !== undefined) parts.push(`proto ${String(r.protocol)}`);
  if (r.scope !== undefined) parts.push(`scope ${String(r.scope)}`);
  if (r.prefsrc !== undefined) parts.push(`src ${String(r.prefsrc)}`);
  if (r.metric !== undefined) parts.push(`metric ${String(r.metric)}`);
  return parts.join(' ');
}

/** Routes by table (`main` when ip omits it), tables in the order first seen. */
export function groupRoutes(routes: readonly Json[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of routes) (out[String(r.table ?? 'main')] ??= []).push(renderRoute(r));
  return out;
}

/** An `ip -j -d addr` object. kind: the link kind, 'loopback', or 'device' for a NIC without one. */
export function toInterface(j: Json): SnapshotInterface {
  const linkinfo = j.linkinfo as { info_kind?: string } | undefined;
  const linkType = String(j.link_type ?? '');
  const kind =
    linkinfo?.info_kind ??
    (linkType === 'loopback' ? 'loopback' : linkType === 'ether' ? 'device' : linkType || undefined);
  const addrs = asArray(j.addr_info).map((a) => `${String(a.local)}/${String(a.prefixlen)}`);
  const flags = Array.isArray(j.flags) ? (j.flags as unknown[]).map(String) : [];
  return {
    name: String(j.ifname),
    ...(kind ? { kind } : {}),
    ...(linkType === 'ether' && typeof j.address === 'string' ? { mac: j.address } : {}),
    addresses: addrs,
    up: flags.includes('UP'),
  };
}

const MANAGERS = [
  {
    name: 'systemd-networkd',
    unit: 'systemd-networkd.service',
    binaries: ['/usr/lib/systemd/systemd-networkd', '/lib/systemd/systemd-networkd'],
    runtime: '/run/systemd/netif/links',
  },
  {
    name: 'NetworkManager',
    unit: 'NetworkManager.service',
    binaries: ['/usr/sbin/NetworkManager', '/usr/bin/NetworkManager', '/sbin/NetworkManager'],
    runtime: '/run/NetworkManager',
  },
] as const;

async function networkManagers(
  runner: CommandRunner,
  root: string,
  timeoutMs: number,
): Promise<NetworkManagerInfo[]> {
  return Promise.all(
    MANAGERS.map(async (m): Promise<NetworkManagerInfo> => {
      const evidence: string[] = [];
      const found: string[] = [];
      for (const b of m.binaries) if (await exists(path.join(root, b))) found.push(b);
      evidence.push(
        found.length > 0 ? `binary: ${found.join(', ')}` : `no binary at ${m.binaries.join(', ')}`,
      );
      const runtime = await exists(path.join(root, m.runtime));
      evidence.push(`${m.runtime} ${runtime ? 'exists' : 'does not exist'}`);
      let active: boolean | undefined;
      const argv = ['systemctl', 'is-active', m.unit];
      try {
        const res = await runner.run(argv, { allowFailure: true, timeoutMs });
        const state = res.stdout.trim();
        if (
          /^(active|reloading|inactive|failed|activating|deactivating|maintenance|refreshing)$/.test(state)
        ) {
          active = state === 'active' || state === 'reloading' || state === 'refreshing';
          evidence.push(`systemctl is-active ${m.unit}: ${state}`);
        } else
          evidence.push(
            `systemctl is-active ${m.unit}: no answer (${firstLine(res.stderr) || state || `exit ${res.code}`})`,
          );
      } catch (e) {
        evidence.push(`systemctl is-active ${m.unit}: ${missingTool(e)}`);
      }
      return {
        name: m.name,
        present: found.length > 0,
        ...(active !== undefined ? { active } : {}),
        evidence,
      };
    }),
  );
}

function parseJson<T>(text: string, section: string, gaps: SnapshotGap[], fn: (j: unknown) => T): T | null {
  try {
    return fn(JSON.parse(text));
  } catch (e) {
    gaps.push({ section, error: `unreadable JSON from ip: ${(e as Error).message}` });
    return null;
  }
}

function asArray(j: unknown): Json[] {
  return Array.isArray(j) ? (j.filter((x) => x && typeof x === 'object') as Json[]) : [];
}

function prefix(addr: unknown, len: unknown): string {
  return len === undefined ? String(addr) : `${String(addr)}/${String(len)}`;
}

function missingTool(e: unknown): string {
  if (e instanceof CommandError && e.code === null) return `could not run: ${firstLine(e.stderr)}`;
  return (e as Error).message;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
