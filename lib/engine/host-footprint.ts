/**
 * What the host looks like where an engine or kind could leave a trace: links and addresses of the
 * host's network namespace, network namespaces, the firewall (iptables, ip6tables, nft) and the
 * FORWARD policy, the host's forwarding and per-family sysctls, /lib/modules and the runtime
 * directories engines create, returnpath's cgroups, and mounts under returnpath's directories.
 * Taken before and after, compared as plain data.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { CommandRunner } from '../exec/command.js';
import { cgroupHierarchies } from './host-resources.js';
import { ENGINE_HOST_DIRS, LIB_MODULES } from './host-dirs.js';

export interface HostFootprint {
  links: string[];
  addresses: string[];
  routes: string[];
  netns: string[];
  iptables: string[];
  ip6tables: string[];
  nft: string[];
  forwardPolicy: string;
  sysctls: string[];
  paths: Record<string, boolean>;
  cgroups: string[];
  mounts: string[];
}

export interface FootprintOptions {
  /** Network namespaces to leave out (other runs on a shared machine), e.g. /^rp-(?!abc123)/. */
  ignoreNetns?: RegExp;
  /** Directories whose mounts count (returnpath's engine directories). */
  mountRoots?: readonly string[];
}

const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all',
  'net/ipv4/conf/default',
  'net/ipv6/conf/all',
  'net/ipv6/conf/default',
  'net/bridge',
];

export async function hostFootprint(o: FootprintOptions = {}): Promise<HostFootprint> {
  const runner = new CommandRunner();
  const out = async (argv: string[]): Promise<string> =>
    (await runner.run(argv, { allowFailure: true }).catch(() => undefined))?.stdout ?? '';
  const nonEmpty = (t: string): string[] =>
    t
      .split('\n')
      .map((l) => l.trimEnd())
      .filter(Boolean);
  const firewall = (t: string): string[] =>
    nonEmpty(t)
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'));
  const iptables = firewall(await out(['iptables-save']));
  const paths: Record<string, boolean> = {};
  for (const p of [
    LIB_MODULES.path,
    ...ENGINE_HOST_DIRS.map((d) => d.path),
    '/run/containerd',
    '/run/docker',
    '/opt/containerd',
    '/etc/docker',
  ])
    paths[p] = await access(p).then(
      () => true,
      () => false,
    );
  const cgroups: string[] = [];
  for (const h of await cgroupHierarchies())
    for (const d of await readdir(h).catch(() => [] as string[]))
      if (d.startsWith('returnpath-')) cgroups.push(`${h}/${d}`);
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const roots = o.mountRoots ?? [];
  const mounts = nonEmpty(mountinfo)
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => roots.some((r) => mp === r || mp.startsWith(`${r}/`)));
  return {
    links: nonEmpty(await out(['ip', '-o', 'link', 'show'])).map((l) =>
      l
        .replace(/^\d+:\s*/, '')
        .replace(/\s+link\/.*$/, '')
        .replace(/ state \S+/, ''),
    ),
    addresses: nonEmpty(await out(['ip', '-o', 'addr', 'show'])).map((l) =>
      l.replace(/^\d+:\s*/, '').replace(/\s+valid_lft.*$/, ''),
    ),
    routes: nonEmpty(await out(['ip', 'route', 'show', 'table', 'all'])),
    netns: nonEmpty(await out(['ip', 'netns', 'list']))
      .map((l) => l.split(' ')[0]!)
      .filter((n) => !o.ignoreNetns?.test(n))
      .sort(),
    iptables,
    ip6tables: firewall(await out(['ip6tables-save'])),
    nft: nonEmpty(await out(['nft', 'list', 'ruleset'])),
    forwardPolicy: iptables.find((l) => l.startsWith(':FORWARD ')) ?? '',
    sysctls: await readSysctls(SYSCTLS),
    paths,
    cgroups: cgroups.sort(),
    mounts,
  };
}

async function readSysctls(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const p = `/proc/sys/${rel}`;
    const entries = await readdir(p, { withFileTypes: true }).catch(() => undefined);
    if (!entries) {
      const v = await readFile(p, 'utf8').catch(() => undefined);
      if (v !== undefined) out.push(`${rel.replace(/\//g, '.')} = ${v.trim().replace(/\s+/g, ' ')}`);
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) await walk(`${rel}/${e.name}`);
  };
  for (const r of roots) await walk(r);
  return out;
}
