/**
 * The NLB node's datapath as rules. A listener chain DNATs each new flow to one target, chosen by
 * a seeded 5-tuple hash (HMARK) or at random; client IP preservation off adds SNAT to the node's
 * address. Idle flows expire from this namespace's own conntrack (its established-flow timeout),
 * after which either side's next packet is INVALID and answered with RST.
 */
import { Ruleset } from '../netfilter/ruleset.js';
import type { AgentListener, AgentTarget, NlbNodeConfig } from './config.js';

/** Targets a node may use: registered, in its zone unless cross-zone, healthy (all eligible if none is: fail open). */
export function activeTargets(
  cfg: NlbNodeConfig,
  l: AgentListener,
  healthy: (t: AgentTarget) => boolean,
  registered: (t: AgentTarget) => boolean = () => true,
): AgentTarget[] {
  const eligible = l.targets.filter((t) => registered(t) && (cfg.crossZone || t.zone === cfg.zone));
  const up = eligible.filter(healthy);
  return up.length > 0 ? up : eligible;
}

/** The listener chain's rules (after `-A CHAIN`), nat table. */
export function listenerRules(cfg: NlbNodeConfig, targets: readonly AgentTarget[]): string[] {
  const n = targets.length;
  if (n === 0) return [];
  const dnat = (t: AgentTarget): string => `-j DNAT --to-destination ${t.address}:${t.port}`;
  if (cfg.hashing.mode === 'random')
    return targets.map((t, i) =>
      i < n - 1
        ? `-p tcp -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)} ${dnat(t)}`
        : `-p tcp ${dnat(t)}`,
    );
  return [
    `-p tcp -j HMARK --hmark-tuple src,dst,sport,dport,proto --hmark-mod ${n} --hmark-offset 1 --hmark-rnd 0x${cfg.hashing.seed.toString(16)}`,
    ...targets.map((t, i) => `-p tcp -m mark --mark 0x${(i + 1).toString(16)} ${dnat(t)}`),
  ];
}

/**
 * The listener chains with the given targets. Rendered, it is `iptables-restore --noflush` input
 * that replaces those chains only (a declared user chain is flushed; built-in chains keep their rules).
 */
export function listenerRuleset(
  cfg: NlbNodeConfig,
  chains: ReadonlyMap<number, readonly AgentTarget[]>,
): Ruleset {
  const rs = new Ruleset();
  for (const l of cfg.listeners) {
    rs.chain('nat', l.chain);
    for (const r of listenerRules(cfg, chains.get(l.port) ?? [])) rs.append('nat', l.chain, r);
  }
  return rs;
}

/** The static part: listener jumps, SNAT without preservation, RST for flows the node forgot. */
export function nlbRuleset(cfg: NlbNodeConfig): Ruleset {
  const rs = new Ruleset();
  for (const l of cfg.listeners) {
    rs.append(
      'nat',
      'PREROUTING',
      `-d ${cfg.vip}/32 -p tcp -m tcp --dport ${l.port} -m comment --comment "listener ${l.port}" -j ${l.chain}`,
    );
    if (!l.preserveClientIp)
      rs.append(
        'nat',
        'POSTROUTING',
        `-p tcp -m conntrack --ctstate DNAT --ctorigdst ${cfg.vip} --ctorigdstport ${l.port} -m comment --comment "listener ${l.port}: client IP preservation off" -j SNAT --to-source ${cfg.address}`,
      );
  }
  for (const chain of ['INPUT', 'FORWARD'])
    rs.append(
      'filter',
      chain,
      '-p tcp -m conntrack --ctstate INVALID -m comment --comment "returnpath:nlb idle or reset flow" -j REJECT --reject-with tcp-reset',
    );
  for (const l of cfg.listeners)
    rs.append(
      'filter',
      'INPUT',
      `-d ${cfg.vip}/32 -p tcp -m tcp --dport ${l.port} -m comment --comment "returnpath:nlb no target for listener ${l.port}" -j DROP`,
    );
  return rs;
}

/**
 * The idle timeout as this node's conntrack timeout for established TCP flows. Each NLB node is its
 * own namespace, so this is per node; listeners of one NLB share the shortest idle timeout.
 * (An nft per-flow `ct timeout` policy was tried first: this kernel ignores it for these flows.)
 */
export function idleTimeoutSeconds(cfg: NlbNodeConfig): number {
  return Math.min(...cfg.listeners.map((l) => l.idleTimeoutSeconds));
}
