/**
 * Has a real kube-proxy synced a topology's Services? Pure: compares what a node's rules say
 * (per Service port: the endpoints of its cluster-policy chain and of its local-policy chain) with
 * what the topology implies, in either proxy mode. An iptables proxy's chains are named by hash
 * (KUBE-SVC-/KUBE-SVL-, endpoints by their KUBE-SEP- chain's DNAT); an nftables proxy's are named
 * `service-HASH-ns/name/proto/port` and `local-...`, and DNAT to the endpoints themselves.
 */
import type { Topology } from '../model/topology.js';
import { servicePortChain } from './chain-names.js';
import type { ProxyMode } from './config.js';
import { servicePortView } from './service-port.js';

/** Endpoints (`ip:port`, sorted) a Service port's chains lead to; undefined: the chain is absent. */
export interface PortChains {
  cluster?: string[];
  local?: string[];
}

/** Keyed by `namespace/name:port/proto` (kube-proxy's service port name and protocol). */
export type ProxyState = Map<string, PortChains>;

const key = (spn: string, protocol: string): string => `${spn}/${protocol}`;
const sorted = (a: readonly string[]): string[] => [...a].sort();

/** What kube-proxy on `nodeName` must have written for the topology's Services. */
export function expectedProxyState(topology: Topology, nodeName: string): ProxyState {
  const out: ProxyState = new Map();
  for (const s of topology.services)
    for (const p of s.ports) {
      const v = servicePortView(s, p, nodeName);
      out.set(key(v.name, v.protocol), {
        ...(v.hasEndpoints && { cluster: sorted(v.clusterEndpoints.map((e) => e.text)) }),
        ...(v.localEndpoints.length > 0 && { local: sorted(v.localEndpoints.map((e) => e.text)) }),
      });
    }
  return out;
}

/** Parses `iptables-save -t nat` for the chains of the given service ports. */
export function observedIptables(natSave: string, ports: Iterable<string>): ProxyState {
  const rules = new Map<string, string[]>();
  for (const line of natSave.split('\n')) {
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (m) rules.set(m[1]!, [...(rules.get(m[1]!) ?? []), m[2]!]);
  }
  const declared = new Set([...natSave.matchAll(/^:(\S+) /gm)].map((m) => m[1]!));
  const dnat = (sep: string): string | undefined =>
    rules
      .get(sep)
      ?.map((r) => /-j DNAT --to-destination (\S+)/.exec(r)?.[1])
      .find((d): d is string => !!d);
  const endpointsOf = (chain: string): string[] | undefined => {
    if (!declared.has(chain)) return undefined;
    return sorted(
      (rules.get(chain) ?? [])
        .map((r) => /-j (KUBE-SEP-\S+)/.exec(r)?.[1])
        .filter((s): s is string => !!s)
        .map((sep) => dnat(sep) ?? `${sep}?`),
    );
  };
  const out: ProxyState = new Map();
  for (const k of ports) {
    const [spn, protocol] = splitKey(k);
    const cluster = endpointsOf(servicePortChain('KUBE-SVC-', spn, protocol));
    const local = endpointsOf(servicePortChain('KUBE-SVL-', spn, protocol));
    out.set(k, { ...(cluster && { cluster }), ...(local && { local }) });
  }
  return out;
}

/** `ns/name:port` → the nftables proxy's `ns/name/proto/port` part of a chain name. */
function nftName(spn: string, protocol: string): string {
  const m = /^([^/]+)\/([^:]+)(?::(.*))?$/.exec(spn);
  return `${m?.[1]}/${m?.[2]}/${protocol}/${m?.[3] ?? ''}`;
}

/** Parses `nft list table ip kube-proxy` for the chains of the given service ports. */
export function observedNft(table: string, ports: Iterable<string>): ProxyState {
  const chains = new Map<string, string>();
  for (const m of table.matchAll(/^\s*chain (\S+) \{\n([\s\S]*?)^\s*\}/gm)) chains.set(m[1]!, m[2]!);
  const endpointsOf = (prefix: string, name: string): string[] | undefined => {
    const chain = [...chains.keys()].find((c) => c.startsWith(prefix) && c.slice(prefix.length + 9) === name);
    if (!chain) return undefined;
    const body = chains.get(chain)!;
    // Three forms: `dnat to IP:PORT` (one endpoint), `numgen random mod N map { 0 : IP . PORT, ... }`,
    // and jumps to per-endpoint chains `endpoint-HASH-...__IP/PORT` (session affinity).
    const found = [
      ...[...body.matchAll(/dnat to ([0-9.]+):(\d+)/g)],
      ...[...body.matchAll(/\d+ : ([0-9.]+) \. (\d+)/g)],
      ...[...body.matchAll(/endpoint-[A-Z2-7]{8}-\S+?__([0-9.]+)\/(\d+)/g)],
    ].map((m) => `${m[1]}:${m[2]}`);
    // A chain no longer used is flushed at once and deleted later (kernels before 6.2 need the
    // delay): an empty chain is an absent one.
    return found.length ? sorted([...new Set(found)]) : undefined;
  };
  const out: ProxyState = new Map();
  for (const k of ports) {
    const [spn, protocol] = splitKey(k);
    const name = nftName(spn, protocol);
    const cluster = endpointsOf('service-', name);
    const local = endpointsOf('local-', name);
    out.set(k, { ...(cluster && { cluster }), ...(local && { local }) });
  }
  return out;
}

function splitKey(k: string): [string, string] {
  const i = k.lastIndexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
}

export function observedProxyState(mode: ProxyMode, dump: string, ports: Iterable<string>): ProxyState {
  return mode === 'iptables' ? observedIptables(dump, ports) : observedNft(dump, ports);
}

/** What differs, one line per Service port; empty when the node has synced. */
export function proxyStateDifferences(expected: ProxyState, observed: ProxyState): string[] {
  const text = (e?: string[]): string => (e ? `[${e.join(', ')}]` : 'absent');
  const out: string[] = [];
  for (const [k, want] of expected) {
    const got = observed.get(k) ?? {};
    for (const which of ['cluster', 'local'] as const)
      if (text(want[which]) !== text(got[which]))
        out.push(`${k} ${which} chain: ${text(got[which])}, want ${text(want[which])}`);
  }
  return out;
}

/** The command that dumps what observedProxyState parses. */
export function proxyDumpCommand(mode: ProxyMode): string[] {
  return mode === 'iptables' ? ['iptables-save', '-t', 'nat'] : ['nft', 'list', 'table', 'ip', 'kube-proxy'];
}
