/** `lab dump`: the state of every host (or one) of a run, as text a human can read. */
import { mapLimit } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';
import { findHost, type LabHandle } from './lab.js';

/** Sections of one host's state: [title, argv]. One process each; run concurrently. */
export const DUMP_SECTIONS: readonly (readonly [string, readonly string[]])[] = [
  ['addresses', ['ip', '-4', 'addr', 'show']],
  ['links', ['ip', 'link', 'show']],
  ['ip rule', ['ip', 'rule', 'show']],
  ['routes (every table)', ['ip', '-4', 'route', 'show', 'table', 'all']],
  ['neighbours', ['ip', '-4', 'neigh', 'show']],
  ['iptables-save', ['iptables-save']],
  ['nft (non-iptables tables)', ['nft', 'list', 'tables']],
  ['conntrack', ['conntrack', '-L']],
  [
    'sysctls',
    [
      'sysctl',
      '-a',
      '-r',
      '^net\\.ipv4\\.(ip_forward|conf\\..*\\.(rp_filter|accept_local|src_valid_mark|route_localnet|forwarding|proxy_arp))$',
    ],
  ],
];

export async function dumpHost(exec: HostExec, legend: readonly string[] = []): Promise<string> {
  const parts = await Promise.all(
    DUMP_SECTIONS.map(async ([title, argv]) => {
      const r = await exec.run(argv, { allowFailure: true });
      const body = (r.stdout + (r.code === 0 ? '' : r.stderr)).trimEnd();
      return `--- ${title}\n${body || '(empty)'}`;
    }),
  );
  const head = `=== ${exec.host}${legend.length ? '\n' + legend.map((l) => `  ${l}`).join('\n') : ''}`;
  return [head, ...parts].join('\n') + '\n\n';
}

export async function dumpLab(handle: LabHandle, hostRef?: string): Promise<string> {
  const hosts = hostRef ? [findHost(handle.hosts, hostRef)] : handle.hosts;
  const texts = await mapLimit(hosts, 4, (h) => dumpHost(handle.host(h.id), h.legend ?? []));
  return `run ${handle.runId} (${handle.state.topology})\n\n` + texts.join('');
}
